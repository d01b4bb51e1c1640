// syncServiceHealth: what the healthCheckNodePort servers report, from the model's snapshots.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyState } from '../../src/model/proxy-state.ts';
import { ServiceHealthServer } from '../../src/server/service-health.ts';
import { syncServiceHealth } from '../../src/sync/service-health-sync.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { addPort, endpoint, makeService, makeSlice, slicePort } from '../model/builders.ts';
import { freePort, until } from '../helpers/wait.ts';
import { get } from '../server/helpers.ts';

/**
 * A dual-stack LoadBalancer Service "ns1/lb" with externalTrafficPolicy Local and
 * healthCheckNodePort `port`, and one EndpointSlice per family: [address, node] per endpoint.
 */
function dualStackLB(port: number, v4: readonly (readonly [string, string])[], v6: readonly (readonly [string, string])[]): ProxyState {
  const state = new ProxyState({ nodeName: 'node1', families: ['IPv4', 'IPv6'], logger: silentLogger() });
  state.onServiceAdd(makeService('ns1', 'lb', (s) => {
    s.spec.type = 'LoadBalancer';
    s.spec.clusterIP = '172.30.0.9';
    s.spec.clusterIPs = ['172.30.0.9', 'fd00:172:30::9'];
    s.spec.ipFamilies = ['IPv4', 'IPv6'];
    s.spec.externalTrafficPolicy = 'Local';
    s.spec.healthCheckNodePort = port;
    addPort(s, 'http', 'TCP', 80, 30080);
  }));
  for (const [family, eps] of [['IPv4', v4], ['IPv6', v6]] as const) {
    state.onEndpointSliceAdd(makeSlice('ns1', 'lb', family === 'IPv4' ? 'lb-v4' : 'lb-v6', (s) => {
      if (family === 'IPv6') s.addressType = 'IPv6';
      s.ports = [slicePort('http', 8080)];
      s.endpoints = eps.map(([ip, nodeName]) => endpoint(ip, { nodeName }));
    }));
  }
  return state;
}

describe('syncServiceHealth', () => {
  // Regression (found by the e2e lab, test/e2e/traffic-policy.test.ts): a dual-stack Service
  // with 2 local pods reported localEndpoints 4 (each pod's IPv4 and IPv6 address counted),
  // doubling the node's X-Load-Balancing-Endpoint-Weight against upstream, whose per-family
  // proxiers each count their own family.
  it('counts a dual-stack pod once: local endpoints per family, not across families', async () => {
    const port = await freePort();
    const server = new ServiceHealthServer({ addresses: ['127.0.0.1'], proxyHealthy: () => true, logger: silentLogger() });
    try {
      const pods = [['10.0.0.1', 'fd00:10::1', 'node1'], ['10.0.0.2', 'fd00:10::2', 'node1'], ['10.0.0.3', 'fd00:10::3', 'node2']] as const;
      const state = dualStackLB(port, pods.map(([v4, , node]) => [v4, node]), pods.map(([, v6, node]) => [v6, node]));
      syncServiceHealth(server, state.takeSnapshots().families, true);
      assert.equal(server.ports().get('ns1/lb'), port);
      const r = server.respond('ns1/lb');
      assert.equal((JSON.parse(r.body) as { localEndpoints: number }).localEndpoints, 2);
      assert.equal(r.headers['X-Load-Balancing-Endpoint-Weight'], '2');
      assert.equal(r.status, 200);
    } finally {
      await server.close();
    }
  });

  // Upstream's per-family proxiers each answer on their own family's addresses with their own
  // family's count; one server per address here answers with the count of the address's family.
  it('answers each family with its own count: local IPv4 endpoints but no local IPv6 ones is 200 over IPv4, 503 over IPv6', async () => {
    const port = await freePort();
    const server = new ServiceHealthServer({ addresses: ['127.0.0.1', '::1'], proxyHealthy: () => true, logger: silentLogger() });
    try {
      const state = dualStackLB(port, [['10.0.0.1', 'node1'], ['10.0.0.2', 'node1']], [['fd00:10::3', 'node2']]);
      syncServiceHealth(server, state.takeSnapshots().families, true);
      // The servers start listening on a later turn of the event loop.
      const ask = (host: string): Promise<{ status: number; weight: string | null }> => until(`an answer over ${host}`, async () => {
        const r = await get(`http://${host}:${String(port)}/`).catch(() => undefined);
        return r === undefined ? undefined : { status: r.status, weight: r.headers.get('x-load-balancing-endpoint-weight') };
      }, 2000, 20);
      assert.deepEqual(await ask('127.0.0.1'), { status: 200, weight: '2' });
      assert.deepEqual(await ask('[::1]'), { status: 503, weight: '0' });
      assert.equal(server.respond('ns1/lb', 'IPv6').status, 503);
      assert.equal(server.respond('ns1/lb').status, 200, 'no family known: the largest count');
    } finally {
      await server.close();
    }
  });
});
