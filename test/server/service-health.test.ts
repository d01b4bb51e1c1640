import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyState } from '../../src/model/proxy-state.ts';
import { ServiceHealthServer } from '../../src/server/service-health.ts';
import { syncServiceHealth } from '../../src/sync/service-health-sync.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { addPort, endpoint, makeService, makeSlice, slicePort } from '../model/builders.ts';
import { freePort } from '../helpers/wait.ts';

async function get(port: number): Promise<{ status: number; weight: string | null; body: unknown } | 'refused'> {
  for (let i = 0; i < 50; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      return { status: res.status, weight: res.headers.get('x-load-balancing-endpoint-weight'), body: JSON.parse(await res.text()) };
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return 'refused';
}

function lbService(port: number, withLocal: boolean[]) {
  const svc = makeService('ns1', 'lb', (s) => {
    s.spec.type = 'LoadBalancer';
    s.spec.clusterIP = '172.30.0.9';
    s.spec.externalTrafficPolicy = 'Local';
    s.spec.healthCheckNodePort = port;
    addPort(s, 'http', 'TCP', 80, 30080);
  });
  const slice = makeSlice('ns1', 'lb', 1, (s) => {
    s.ports = [slicePort('http', 8080)];
    s.endpoints = withLocal.map((ready, i) => endpoint(`10.0.0.${i + 1}`, { nodeName: 'node1', ready }));
  });
  return { svc, slice };
}

describe('healthCheckNodePort server', () => {
  it('answers 200 with the local endpoint count, 503 without local endpoints or when the proxy is unhealthy', async () => {
    const port = await freePort();
    let healthy = true;
    const server = new ServiceHealthServer({ addresses: ['127.0.0.1'], proxyHealthy: () => healthy, logger: silentLogger() });
    const state = new ProxyState({ nodeName: 'node1', families: ['IPv4'], logger: silentLogger() });
    try {
      const { svc, slice } = lbService(port, [true, true, false]);
      state.onServiceAdd(svc);
      state.onEndpointSliceAdd(slice);
      syncServiceHealth(server, state.takeSnapshots().families, false);
      let r = await get(port);
      assert.notEqual(r, 'refused');
      assert.deepEqual(r, { status: 200, weight: '2', body: { service: { namespace: 'ns1', name: 'lb' }, localEndpoints: 2, serviceProxyHealthy: true } });

      healthy = false;
      r = await get(port);
      assert.ok(r !== 'refused' && r.status === 503);

      healthy = true;
      const only = lbService(port, [false]);
      state.onEndpointSliceUpdate(slice, only.slice);
      syncServiceHealth(server, state.takeSnapshots().families, false);
      r = await get(port);
      assert.deepEqual(r, { status: 503, weight: '0', body: { service: { namespace: 'ns1', name: 'lb' }, localEndpoints: 0, serviceProxyHealthy: true } });

      state.onServiceDelete(svc);
      syncServiceHealth(server, state.takeSnapshots().families, false);
      assert.equal(server.ports().size, 0);
      await new Promise((res) => setTimeout(res, 50));
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'the server is gone with the Service');
    } finally {
      await server.close();
    }
  });

  it('a full sync drops servers of Services that vanished', async () => {
    const port = await freePort();
    const server = new ServiceHealthServer({ addresses: ['127.0.0.1'], proxyHealthy: () => true, logger: silentLogger() });
    try {
      server.syncService('ns1/ghost', port, 1);
      const state = new ProxyState({ nodeName: 'node1', families: ['IPv4'], logger: silentLogger() });
      syncServiceHealth(server, state.takeSnapshots().families, true);
      assert.equal(server.ports().size, 0);
    } finally {
      await server.close();
    }
  });
});
