import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENDPOINT_SLICES, NODES, SERVICES } from './fake-apiserver.ts';
import { RecordingHandlers, service, waitFor } from './fixtures.ts';
import type { KubeObject } from '../../src/sources/handlers.ts';
import { NODE_NAME, converged, resourceRequests, seedCluster, startHarness } from './harness.ts';

describe('ApiSource against the fake API server', () => {
  it('lists in pages with upstream selectors, then watches; synced once, after the whole list', async (t) => {
    const h = await startHarness(t, { seed: seedCluster });
    await converged(h);
    const lists = resourceRequests(h, SERVICES.path, false);
    assert.equal(lists.length, 3, '7 services in pages of 3');
    assert.deepEqual(lists.map((q) => q.get('limit')), ['3', '3', '3']);
    assert.equal(lists[0]?.get('continue'), null);
    assert.ok(lists.slice(1).every((q) => (q.get('continue') ?? '') !== ''));
    for (const q of lists) {
      assert.equal(q.get('labelSelector'), '!service.kubernetes.io/service-proxy-name');
      assert.equal(q.get('fieldSelector'), 'spec.clusterIP!=None');
    }
    assert.equal(resourceRequests(h, ENDPOINT_SLICES.path, false)[0]?.get('labelSelector'), '!service.kubernetes.io/headless');
    assert.equal(resourceRequests(h, NODES.path, false)[0]?.get('fieldSelector'), `metadata.name=${NODE_NAME}`);
    await waitFor('service watch opened', () => resourceRequests(h, SERVICES.path, true).length === 1);
    const w = resourceRequests(h, SERVICES.path, true)[0];
    assert.ok(w !== undefined);
    assert.equal(w.get('allowWatchBookmarks'), 'true');
    const timeout = Number(w.get('timeoutSeconds'));
    assert.ok(timeout >= 300 && timeout < 600, `timeoutSeconds ${timeout}`);
    assert.equal(w.get('resourceVersion'), String(h.fake.resourceVersion));
    const svcEvents = h.handlers.events.filter((e) => e.kind === 'Service');
    assert.deepEqual(svcEvents.map((e) => e.type), [...Array<string>(7).fill('add'), 'synced']);
    assert.deepEqual(Object.keys(h.handlers.view('Service')).sort(), [0, 1, 2, 3, 4, 5, 6].map((i) => `default/svc-${i}`));
    assert.deepEqual(Object.keys(h.handlers.view('Node')), [NODE_NAME]);
    assert.deepEqual(h.counters.listed.sort(), ['endpointslices:initial', 'nodes:initial', 'services:initial']);
    assert.equal(h.handlers.state.Service.get('default/svc-0')?.metadata.uid?.length, 36);
  });

  it('falls back to one unpaginated list when the continue token expires', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, before: (f) => { f.expireContinueNext(1); } });
    await converged(h);
    const lists = resourceRequests(h, SERVICES.path, false)
      .concat(resourceRequests(h, ENDPOINT_SLICES.path, false), resourceRequests(h, NODES.path, false));
    const full = lists.filter((q) => q.get('limit') === null && q.get('continue') === null);
    assert.equal(full.length, 1, 'exactly one unpaginated list, for the resource whose token expired');
    assert.equal(h.handlers.count('Service', 'add'), 7);
    assert.equal(h.handlers.count('EndpointSlice', 'add'), 4);
  });

  it('delivers watch events, and a label that hands a Service to another proxy deletes it', async (t) => {
    const h = await startHarness(t, { seed: seedCluster });
    await converged(h);
    const mark = h.handlers.events.length;
    h.fake.upsert(SERVICES, service('prod', 'new'));
    h.fake.upsert(SERVICES, service('default', 'svc-1', { port: 81 }));
    h.fake.remove(SERVICES, 'default', 'svc-2');
    h.fake.upsert(SERVICES, service('default', 'svc-3', { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }));
    h.fake.upsert(NODES, { metadata: { name: NODE_NAME, labels: { 'topology.kubernetes.io/zone': 'b' } } });
    h.fake.upsert(NODES, { metadata: { name: 'node-b', labels: { x: 'y' } } });
    await waitFor('events', () => h.handlers.events.length - mark === 5);
    await converged(h);
    // Order holds per resource (one watch each), not across resources.
    const got = (kind: string): string[] => h.handlers.events.slice(mark).filter((e) => e.kind === kind).map((e) => `${e.type} ${e.key}`);
    assert.deepEqual(got('Service'), ['add prod/new', 'update default/svc-1', 'delete default/svc-2', 'delete default/svc-3']);
    assert.deepEqual(got('Node'), [`update ${NODE_NAME}`]);
  });

  it('re-watches from the last resourceVersion after dropped connections, without relisting', async (t) => {
    const h = await startHarness(t, { seed: seedCluster });
    await converged(h);
    await waitFor('3 watches open', () => h.fake.openWatches === 3);
    const rvBefore = String(h.fake.resourceVersion);
    const listsBefore = h.fake.requests.filter((r) => !r.watch).length;
    const mark = h.handlers.events.length;
    assert.equal(h.fake.dropWatches(), 3);
    h.fake.upsert(SERVICES, service('default', 'svc-new'));
    h.fake.upsert(SERVICES, service('default', 'svc-0', { port: 8080 }));
    h.fake.remove(SERVICES, 'default', 'svc-6');
    await converged(h);
    assert.equal(h.fake.requests.filter((r) => !r.watch && r.path !== '/readyz').length, listsBefore, 'no relist');
    const rewatch = resourceRequests(h, SERVICES.path, true).at(-1);
    assert.equal(rewatch?.get('resourceVersion'), rvBefore);
    assert.deepEqual(h.handlers.events.slice(mark).map((e) => e.type), ['add', 'update', 'delete']);
  });

  for (const mode of ['http', 'event'] as const) {
    it(`relists after 410 (${mode === 'http' ? 'HTTP status' : 'ERROR event'}) and emits only the differences`, async (t) => {
      const h = await startHarness(t, { seed: seedCluster });
      h.fake.expiredMode = mode;
      await converged(h);
      await waitFor('3 watches open', () => h.fake.openWatches === 3);
      const mark = h.handlers.events.length;
      // The open watches miss these changes; then history is compacted and the watches drop.
      h.fake.silenceWatches();
      h.fake.remove(SERVICES, 'default', 'svc-0');
      h.fake.upsert(SERVICES, service('default', 'svc-1', { port: 9999 }));
      h.fake.upsert(SERVICES, service('kube-system', 'dns'));
      h.fake.remove(ENDPOINT_SLICES, 'default', 'svc-0-abc');
      h.fake.compact();
      h.fake.dropWatches();
      await waitFor('relisted 3 resources', () => h.counters.listed.filter((l) => l.endsWith(':expired')).length === 3);
      await converged(h);
      const got = h.handlers.events.slice(mark).map((e) => `${e.kind} ${e.type} ${e.key}`).sort();
      assert.deepEqual(got, [
        'EndpointSlice delete default/svc-0-abc',
        'Service add kube-system/dns',
        'Service delete default/svc-0',
        'Service update default/svc-1',
      ]);
      assert.equal(h.handlers.syncedCount.Service, 1);
    });
  }

  it('restarts a watch that went silent (inactivity watchdog), then catches up', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, tuning: { inactivityTimeoutMs: 250 } });
    await converged(h);
    await waitFor('3 watches open', () => h.fake.openWatches === 3);
    h.fake.silenceWatches();
    h.fake.upsert(SERVICES, service('default', 'while-silent'));
    await converged(h);
    assert.ok(h.counters.restarts.includes('services:idle'));
    assert.ok(!h.counters.listed.some((l) => !l.endsWith(':initial')), 'no relist');
  });

  it('keeps a watch with bookmarks alive and resumes from the bookmark resourceVersion', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, fake: { bookmarkIntervalMs: 40 }, tuning: { inactivityTimeoutMs: 300 } });
    await converged(h);
    h.fake.upsert(ENDPOINT_SLICES, { metadata: { name: 'x', namespace: 'default', labels: {} } });
    const rv = String(h.fake.resourceVersion);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!h.counters.restarts.some((r) => r.endsWith(':idle')), `restarts: ${h.counters.restarts.join(',')}`);
    h.fake.dropWatches();
    await waitFor('service re-watch', () => resourceRequests(h, SERVICES.path, true).length >= 2);
    assert.equal(resourceRequests(h, SERVICES.path, true)[1]?.get('resourceVersion'), rv, 'service watch resumes at the bookmark');
    await converged(h);
  });

  it('retries 5xx with backoff, on the initial list and on re-watch', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, before: (f) => { f.failNext(5, 500); } });
    await converged(h);
    assert.ok(h.counters.errors.filter((e) => e.endsWith(':API_STATUS')).length >= 5, h.counters.errors.join(','));
    h.fake.failNext(4, 503);
    h.fake.dropWatches();
    h.fake.upsert(SERVICES, service('default', 'after-503'));
    await converged(h);
    assert.ok(h.handlers.state.Service.has('default/after-503'));
  });

  it('honours Retry-After on 429', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, before: (f) => { f.failNext(1, 429, 1); } });
    await converged(h);
    const reqs = h.fake.requests.filter((r) => r.path !== '/readyz');
    const first = reqs[0];
    assert.ok(first !== undefined);
    const retry = reqs.slice(1).find((r) => r.path === first.path);
    assert.ok(retry !== undefined);
    assert.ok(retry.at - first.at >= 950, `retried after ${retry.at - first.at} ms`);
  });

  it('survives bad JSON in a list, a bad watch line and an invalid object', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, before: (f) => { f.badListJsonNext(2); } });
    await converged(h);
    assert.equal(h.counters.errors.filter((e) => e.endsWith(':list:API_DECODE')).length, 2);
    await waitFor('3 watches open', () => h.fake.openWatches === 3);
    h.fake.sendToWatches(SERVICES, JSON.stringify({ type: 'ADDED', object: { kind: 'Service', metadata: { namespace: 'default', resourceVersion: '1' } } }));
    h.fake.upsert(SERVICES, service('default', 'after-invalid'));
    await converged(h);
    assert.equal(h.counters.invalid, 1);
    assert.ok(h.logs.some((r) => r['code'] === 'INVALID_OBJECT' && r['field'] === 'metadata.name' && r['kind'] === 'Service'));
    assert.ok(!h.counters.restarts.includes('services:error'), 'an invalid object does not restart the watch');
    h.fake.sendToWatches(SERVICES, '{"type": "ADDED", "object": {');
    h.fake.upsert(SERVICES, service('default', 'after-garbage'));
    await converged(h);
    assert.ok(h.counters.errors.includes('services:watch:API_DECODE'));
    assert.ok(!h.counters.listed.some((l) => !l.endsWith(':initial')), 'no relist');
  });

  it('emits nothing while the API server is down and converges within 2 s of its return', async (t) => {
    // Backoff alone would wait ≥ 3 s per retry; the reachability probe must end the wait early.
    const h = await startHarness(t, {
      seed: seedCluster,
      tuning: { backoff: { initialMs: 3000, factor: 2, maxMs: 30_000, jitter: 1, resetAfterMs: 120_000 }, probeIntervalMs: 100 },
    });
    await converged(h);
    await waitFor('3 watches open', () => h.fake.openWatches === 3);
    await h.fake.stop();
    await waitFor('every reflector failed twice (now in backoff)', () =>
      ['services', 'endpointslices', 'nodes'].every((r) => h.counters.errors.filter((e) => e.startsWith(`${r}:`)).length >= 2));
    const mark = h.handlers.events.length;
    h.fake.remove(SERVICES, 'default', 'svc-4');
    h.fake.upsert(SERVICES, service('default', 'svc-5', { port: 1234 }));
    h.fake.upsert(NODES, { metadata: { name: NODE_NAME, labels: { restarted: 'yes' } } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.handlers.events.length, mark, 'nothing emitted while disconnected');
    const t0 = Date.now();
    await h.fake.start();
    await converged(h, 2000);
    assert.ok(Date.now() - t0 < 2000, `converged after ${Date.now() - t0} ms`);
    assert.deepEqual(h.handlers.events.slice(mark).map((e) => `${e.kind} ${e.type} ${e.key}`).sort(), [
      `Node update ${NODE_NAME}`, 'Service delete default/svc-4', 'Service update default/svc-5',
    ]);
  });

  it('re-watches without relisting when the server ends a watch at timeoutSeconds', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, tuning: { minWatchTimeoutSeconds: 1 } });
    await converged(h);
    await waitFor('service watch re-opened after its timeout', () => resourceRequests(h, SERVICES.path, true).length >= 2, 4000);
    assert.ok(h.counters.restarts.includes('services:closed'));
    h.fake.upsert(SERVICES, service('default', 'late'));
    await converged(h);
    assert.deepEqual(h.counters.listed.filter((l) => l.startsWith('services')), ['services:initial']);
  });

  it('backs off instead of spinning when every watch is refused as expired', async (t) => {
    const h = await startHarness(t, { seed: seedCluster, before: (f) => { f.expireAllWatches = true; } });
    await converged(h);
    const lists = (): number[] => h.fake.requests.filter((r) => r.path === SERVICES.path && !r.watch && r.query.get('continue') === null).map((r) => r.at);
    await waitFor('five relists', () => lists().length >= 6);
    // Relist 1 is immediate; then the test backoff: 20, 40, 80 ms … (+ up to 50% jitter).
    const at = lists();
    const span = (at[5] ?? 0) - (at[2] ?? 0);
    assert.ok(span >= 20 + 40 + 80 - 5, `relists 2→5 took ${span} ms: backing off`);
    assert.equal(h.handlers.count('Service', 'add'), 7, 'relists of an unchanged server emit nothing');
  });

  it('keeps going when a handler throws', async (t) => {
    class Throwing extends RecordingHandlers {
      override onServiceAdd(o: KubeObject): void {
        super.onServiceAdd(o);
        if (o.metadata.name === 'svc-2') throw new Error('boom');
      }
    }
    const h = await startHarness(t, { seed: seedCluster, handlers: new Throwing() });
    await converged(h);
    h.fake.upsert(SERVICES, service('default', 'after-boom'));
    await converged(h);
    assert.ok(h.logs.some((r) => r['code'] === 'HANDLER_ERROR' && r['err'] === 'boom'));
  });

  it('stops when the signal aborts and sends nothing more', async (t) => {
    const h = await startHarness(t, { seed: seedCluster });
    await converged(h);
    await h.stop();
    const n = h.fake.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.fake.requests.length, n);
    assert.equal(h.fake.openWatches, 0);
  });
});
