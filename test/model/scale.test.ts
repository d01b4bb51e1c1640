// Big inputs must work and stay fast: a 10,000-endpoint slice, a 1000-port Service, and 30k
// service ports where a sync after a few changes costs O(changes), not O(cluster).
// Time bounds are generous (CI machines vary); the measured times are printed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeService } from '../../src/model/decode/service.ts';
import { ProxyState } from '../../src/model/proxy-state.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { addPort, endpoint, makeService, makeSlice, setClusterIPs, slicePort } from './builders.ts';

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

function clusterIP(i: number): string {
  return `172.30.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

describe('model at scale', () => {
  it('a slice with 10,000 endpoints', (t) => {
    const state = new ProxyState({ nodeName: 'node-7', families: ['IPv4'], logger: silentLogger() });
    state.onServiceAdd(makeService('ns1', 'big', (s) => { addPort(s, 'http', 'TCP', 80); }));
    const slice = makeSlice('ns1', 'big', 1, (s) => {
      s.ports = [slicePort('http', 8080)];
      for (let i = 0; i < 10000; i++) s.endpoints.push(endpoint(`10.${Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`, { nodeName: `node-${i % 100}`, zoneHints: ['zone-a'] }));
    });
    const [, ms] = time(() => { state.onEndpointSliceAdd(slice); state.takeSnapshots(); });
    const eps = state.takeSnapshots().families[0]?.endpoints.get('ns1/big:http/TCP') ?? [];
    assert.equal(eps.length, 10000);
    assert.equal(eps.filter((e) => e.isLocal).length, 100);
    t.diagnostic(`10k-endpoint slice: ${ms.toFixed(1)} ms`);
    assert.ok(ms < 2000, `${ms} ms`);
  });

  it('a Service with 1000 ports', (t) => {
    const svc = makeService('ns1', 'wide', (s) => { for (let p = 1; p <= 1000; p++) addPort(s, `p${p}`, p % 2 === 0 ? 'TCP' : 'UDP', 10000 + p, 30000 + p); });
    const state = new ProxyState({ nodeName: 'n', families: ['IPv4'], logger: silentLogger() });
    const [, ms] = time(() => { state.onServiceAdd(svc); state.takeSnapshots(); });
    assert.equal(decodeService(svc, silentLogger())?.ports.length, 1000);
    const snap = state.takeSnapshots().families[0];
    assert.equal(snap?.services.size, 1000);
    assert.equal(snap.changedServices.size, 0, 'no changes since');
    t.diagnostic(`1000-port Service: ${ms.toFixed(1)} ms`);
    assert.ok(ms < 1000, `${ms} ms`);
  });

  it('30k service ports: a sync after 10 changes is cheap and independent of cluster size', (t) => {
    const state = new ProxyState({ nodeName: 'node-1', families: ['IPv4', 'IPv6'], logger: silentLogger() });
    const N = 30000;
    const svc = (i: number, port = 80): ReturnType<typeof makeService> => makeService(`ns${i % 50}`, `svc${i}`, (s) => {
      setClusterIPs(s, clusterIP(i), `fd00:172:30::${i.toString(16)}`);
      addPort(s, 'http', 'TCP', port);
    });
    const slice = (i: number, ip: string): ReturnType<typeof makeSlice> => makeSlice(`ns${i % 50}`, `svc${i}`, 1, (s) => {
      s.ports = [slicePort('http', 8080)];
      s.endpoints = [endpoint(ip, { nodeName: `node-${i % 7}` })];
    });
    const [, loadMs] = time(() => {
      for (let i = 0; i < N; i++) {
        state.onServiceAdd(svc(i));
        state.onEndpointSliceAdd(slice(i, `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`));
      }
    });
    const [first, firstMs] = time(() => state.takeSnapshots());
    assert.equal(first.families[0]?.services.size, N);
    assert.equal(first.families[1]?.services.size, N);
    assert.equal(first.families[0].endpoints.size, N);

    const [snaps, incMs] = time(() => {
      for (let i = 0; i < 10; i++) {
        state.onServiceUpdate(svc(i * 1000), svc(i * 1000, 81));
        state.onEndpointSliceUpdate(slice(i * 1000 + 1, '10.0.0.1'), slice(i * 1000 + 1, `10.2.0.${i + 1}`));
      }
      return state.takeSnapshots();
    });
    assert.equal(snaps.families[0]?.changedServices.size, 20);
    assert.equal(snaps.families[0].services.get('ns0/svc0:http/TCP')?.port, 81);
    assert.equal(first.families[0].services.get('ns0/svc0:http/TCP')?.port, 80, 'earlier snapshot unchanged');
    const [, emptyMs] = time(() => state.takeSnapshots());
    t.diagnostic(`30k services + 30k slices: load ${loadMs.toFixed(0)} ms, first snapshot ${firstMs.toFixed(0)} ms, `
      + `10+10 changes incl. snapshot ${incMs.toFixed(2)} ms, empty snapshot ${emptyMs.toFixed(3)} ms`);
    assert.ok(incMs < 50, `incremental sync took ${incMs} ms`);
    assert.ok(emptyMs < 5, `empty sync took ${emptyMs} ms`);
  });
});
