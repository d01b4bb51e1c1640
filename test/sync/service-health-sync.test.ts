// syncServiceHealth: what the healthCheckNodePort servers report, from the model's snapshots.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyState } from '../../src/model/proxy-state.ts';
import { ServiceHealthServer } from '../../src/server/service-health.ts';
import { syncServiceHealth } from '../../src/sync/service-health-sync.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { addPort, endpoint, makeService, makeSlice, slicePort } from '../model/builders.ts';
import { freePort } from '../helpers/wait.ts';

describe('syncServiceHealth', () => {
  // Regression (found by the e2e lab, test/e2e/traffic-policy.test.ts): a dual-stack Service
  // with 2 local pods reported localEndpoints 4 (each pod's IPv4 and IPv6 address counted),
  // doubling the node's X-Load-Balancing-Endpoint-Weight against upstream, whose per-family
  // proxiers each count their own family.
  it('counts a dual-stack pod once: local endpoints per family, not across families', async () => {
    const port = await freePort();
    const server = new ServiceHealthServer({ addresses: ['127.0.0.1'], proxyHealthy: () => true, logger: silentLogger() });
    const state = new ProxyState({ nodeName: 'node1', families: ['IPv4', 'IPv6'], logger: silentLogger() });
    try {
      state.onServiceAdd(makeService('ns1', 'lb', (s) => {
        s.spec.type = 'LoadBalancer';
        s.spec.clusterIP = '172.30.0.9';
        s.spec.clusterIPs = ['172.30.0.9', 'fd00:172:30::9'];
        s.spec.ipFamilies = ['IPv4', 'IPv6'];
        s.spec.externalTrafficPolicy = 'Local';
        s.spec.healthCheckNodePort = port;
        addPort(s, 'http', 'TCP', 80, 30080);
      }));
      const pods = [['10.0.0.1', 'fd00:10::1', 'node1'], ['10.0.0.2', 'fd00:10::2', 'node1'], ['10.0.0.3', 'fd00:10::3', 'node2']] as const;
      state.onEndpointSliceAdd(makeSlice('ns1', 'lb', 'lb-v4', (s) => {
        s.ports = [slicePort('http', 8080)];
        s.endpoints = pods.map(([v4, , nodeName]) => endpoint(v4, { nodeName }));
      }));
      state.onEndpointSliceAdd(makeSlice('ns1', 'lb', 'lb-v6', (s) => {
        s.addressType = 'IPv6';
        s.ports = [slicePort('http', 8080)];
        s.endpoints = pods.map(([, v6, nodeName]) => endpoint(v6, { nodeName }));
      }));
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
    const state = new ProxyState({ nodeName: 'node1', families: ['IPv4', 'IPv6'], logger: silentLogger() });
    try {
      state.onServiceAdd(makeService('ns1', 'lb', (s) => {
        s.spec.type = 'LoadBalancer';
        s.spec.clusterIP = '172.30.0.9';
        s.spec.clusterIPs = ['172.30.0.9', 'fd00:172:30::9'];
        s.spec.ipFamilies = ['IPv4', 'IPv6'];
        s.spec.externalTrafficPolicy = 'Local';
        s.spec.healthCheckNodePort = port;
        addPort(s, 'http', 'TCP', 80, 30080);
      }));
      state.onEndpointSliceAdd(makeSlice('ns1', 'lb', 'lb-v4', (s) => {
        s.ports = [slicePort('http', 8080)];
        s.endpoints = [endpoint('10.0.0.1', { nodeName: 'node1' }), endpoint('10.0.0.2', { nodeName: 'node1' })];
      }));
      state.onEndpointSliceAdd(makeSlice('ns1', 'lb', 'lb-v6', (s) => {
        s.addressType = 'IPv6';
        s.ports = [slicePort('http', 8080)];
        s.endpoints = [endpoint('fd00:10::3', { nodeName: 'node2' })];
      }));
      syncServiceHealth(server, state.takeSnapshots().families, true);
      const ask = async (host: string): Promise<{ status: number; weight: string | null }> => {
        for (let i = 0; ; i++) {
          try {
            const res = await fetch(`http://${host}:${String(port)}/`);
            await res.text();
            return { status: res.status, weight: res.headers.get('x-load-balancing-endpoint-weight') };
          } catch (err) {
            if (i > 50) throw err;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      assert.deepEqual(await ask('127.0.0.1'), { status: 200, weight: '2' });
      assert.deepEqual(await ask('[::1]'), { status: 503, weight: '0' });
      assert.equal(server.respond('ns1/lb', 'IPv6').status, 503);
      assert.equal(server.respond('ns1/lb').status, 200, 'no family known: the largest count');
    } finally {
      await server.close();
    }
  });
});
