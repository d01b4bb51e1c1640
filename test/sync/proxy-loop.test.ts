import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Dataplane, SyncRequest } from '../../src/dataplanes/dataplane.ts';
import { ProxyState } from '../../src/model/proxy-state.ts';
import { createProxyMetrics } from '../../src/server/metrics.ts';
import { ProxyHealth } from '../../src/server/proxy-health.ts';
import { ProxyLoop } from '../../src/sync/proxy-loop.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { addPort, endpoint, makeService, makeSlice, slicePort } from '../model/builders.ts';

class RecordingDataplane implements Dataplane {
  readonly mode = 'nftables' as const;
  readonly requests: SyncRequest[] = [];
  failNext = 0;
  sync(request: SyncRequest): Promise<void> {
    this.requests.push(request);
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('kernel said no'));
    }
    return Promise.resolve();
  }
  cleanup(): Promise<void> { return Promise.resolve(); }
  close(): Promise<void> { return Promise.resolve(); }
}

function setup(minSyncPeriodMs = 1000, syncPeriodMs = 30_000, beforeDataplaneSync?: (p: { services: number; endpoints: number }) => void) {
  const clock = new FakeClock();
  const logger = silentLogger();
  const dataplane = new RecordingDataplane();
  const health = new ProxyHealth({ clock, healthTimeout: 2 * syncPeriodMs });
  const metrics = createProxyMetrics(new Registry(), { mode: 'nftables', collectDefaultMetrics: false });
  const ref: { loop?: ProxyLoop } = {};
  const state = new ProxyState({ nodeName: 'node1', families: ['IPv4'], logger, clock, onChange: () => ref.loop?.notifyChange() });
  const loop = ref.loop = new ProxyLoop({ model: state, dataplane, families: ['IPv4'], clock, logger, health, metrics, minSyncPeriodMs, syncPeriodMs, beforeDataplaneSync });
  const ac = new AbortController();
  const done = loop.start(ac.signal);
  return { clock, dataplane, health, metrics, state, loop, stop: async () => { ac.abort(); await clock.settle(); await done; } };
}

const svc = makeService('ns1', 'svc1', (s) => { s.spec.clusterIP = '172.30.0.1'; addPort(s, 'p80', 'TCP', 80); });
const slice = makeSlice('ns1', 'svc1', 1, (s) => { s.ports = [slicePort('p80', 8080)]; s.endpoints = [endpoint('10.0.0.1')]; });

describe('ProxyLoop', () => {
  it('does not sync before both Services and EndpointSlices are synced', async () => {
    const t = setup();
    t.state.onServiceAdd(svc);
    t.state.onServicesSynced();
    await t.clock.advance(5000);
    assert.equal(t.dataplane.requests.length, 0);
    t.state.onEndpointSliceAdd(slice);
    t.state.onEndpointSlicesSynced();
    await t.clock.advance(0);
    await t.clock.settle();
    assert.equal(t.dataplane.requests.length, 1);
    const first = t.dataplane.requests[0];
    assert.ok(first);
    assert.equal(first.full, true);
    const family = first.families[0];
    assert.ok(family);
    assert.equal(family.services.size, 1);
    assert.equal(family.endpoints.get('ns1/svc1:p80/TCP')?.length, 1);
    await t.stop();
  });

  it('tells beforeDataplaneSync how many changes a sync holds, after the snapshot and before the dataplane', async () => {
    const calls: { services: number; endpoints: number; requestsBefore: number }[] = [];
    const ref: { t?: ReturnType<typeof setup> } = {};
    const t = ref.t = setup(0, 30_000, (p) => { calls.push({ ...p, requestsBefore: ref.t?.dataplane.requests.length ?? -1 }); });
    t.state.onServiceAdd(svc);
    t.state.onServicesSynced();
    t.state.onEndpointSliceAdd(slice);
    t.state.onEndpointSlicesSynced();
    await t.clock.advance(0);
    await t.clock.settle();
    assert.deepEqual(calls, [{ services: 1, endpoints: 1, requestsBefore: 0 }]);
    assert.equal(t.dataplane.requests.length, 1);
    assert.equal(t.state.pending().services + t.state.pending().endpoints, 0, 'the snapshot was taken before the hook ran');
    await t.stop();
  });

  it('coalesces changes within minSyncPeriod and reports only the changed services', async () => {
    const t = setup(1000);
    t.state.onServicesSynced();
    t.state.onEndpointSlicesSynced();
    await t.clock.advance(0);
    await t.clock.settle();
    assert.equal(t.dataplane.requests.length, 1);
    t.state.onServiceAdd(svc);
    t.state.onEndpointSliceAdd(slice);
    t.state.onServiceAdd(makeService('ns1', 'svc2', (s) => { s.spec.clusterIP = '172.30.0.2'; addPort(s, '', 'UDP', 53); }));
    await t.clock.advance(500);
    assert.equal(t.dataplane.requests.length, 1, 'minSyncPeriod holds the second sync back');
    await t.clock.advance(600);
    assert.equal(t.dataplane.requests.length, 2, 'three changes, one sync');
    const second = t.dataplane.requests[1];
    assert.ok(second);
    assert.equal(second.full, false);
    assert.deepEqual([...(second.families[0]?.changedServices ?? [])].sort(), ['ns1/svc1', 'ns1/svc2']);
    await t.stop();
  });

  it('retries a failed sync as a full sync and turns unhealthy only after 2 x syncPeriod', async () => {
    const t = setup(1000, 10_000);
    t.state.onServicesSynced();
    t.state.onEndpointSlicesSynced();
    await t.clock.advance(0);
    await t.clock.settle();
    t.dataplane.failNext = 100;
    t.state.onServiceAdd(svc);
    await t.clock.advance(1000);
    const failed = t.dataplane.requests.at(-1);
    assert.equal(failed?.full, false);
    await t.clock.advance(1000);
    assert.equal(t.dataplane.requests.at(-1)?.full, true, 'retry after failure is full');
    assert.equal(t.health.isHealthy(), true);
    await t.clock.advance(20_000);
    assert.equal(t.health.isHealthy(), false, 'queued update older than 2 x syncPeriod');
    t.dataplane.failNext = 0;
    await t.clock.advance(10_000);
    assert.equal(t.health.isHealthy(), true, 'healthy again after a successful sync');
    const text = await t.metrics.registry.metrics();
    assert.match(text, /kubeproxy_sync_full_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} [1-9]/);
    await t.stop();
  });

  it('does a periodic full sync every syncPeriod without changes', async () => {
    const t = setup(1000, 10_000);
    t.state.onServicesSynced();
    t.state.onEndpointSlicesSynced();
    await t.clock.advance(0);
    await t.clock.settle();
    const n = t.dataplane.requests.length;
    await t.clock.advance(10_000);
    assert.equal(t.dataplane.requests.length, n + 1);
    assert.equal(t.dataplane.requests.at(-1)?.full, true);
    await t.stop();
  });
});
