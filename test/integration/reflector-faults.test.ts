// The API source against the real embedded control plane, with faults injected through the
// ControlPlane's hooks. After each fault the proxy's view must equal the server's: the handlers
// hold exactly the server's objects (same resourceVersions, upstream's selectors applied), and
// the snapshot programmed last equals an independent model built from a fresh list.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from '../controlplane/helpers.ts';
import {
  HEADLESS_LABEL, PROXY_NAME_LABEL, SERVICES_PATH, SLICES_PATH, Scope, assertConverged, assertSyncsMatchInputs, assertWholeListsOnly, churnWhile, describeFamily,
  expectStatus, expectedModel, mergePatch, openEnv, poll, seed, serverState, serviceBody, servicesOf, sliceBody, slicesOf, startPlane,
  startProxy, viewOf, watching, type Proxy,
} from './harness.ts';

const collection = (p: string): boolean => p === SERVICES_PATH || p === SLICES_PATH;

/** A fixed batch of changes: deletes, endpoint updates, port updates, adds, selector exits. */
async function changeWhileBlind(http: Client, tag: string): Promise<{ deleted: string[]; updatedSlices: string[]; updatedServices: string[]; added: string[]; hidden: string[] }> {
  const deleted = ['svc-0', 'svc-1', 'svc-2'];
  const updatedSlices = ['svc-3', 'svc-4'];
  const updatedServices = ['svc-5', 'svc-6'];
  const hidden = ['svc-7'];
  const added = [`${tag}-new-0`, `${tag}-new-1`];
  for (const n of deleted) {
    await expectStatus(http.delete(`${slicesOf('default')}/${n}-a`), 200);
    await expectStatus(http.delete(`${servicesOf('default')}/${n}`), 200);
  }
  for (const n of updatedSlices) {
    await expectStatus(mergePatch(http, `${slicesOf('default')}/${n}-a`, { endpoints: [{ addresses: [`10.99.${tag.length}.${n.length}`], conditions: { ready: true }, nodeName: 'node-a' }] }), 200);
  }
  for (const n of updatedServices) {
    await expectStatus(mergePatch(http, `${servicesOf('default')}/${n}`, { spec: { ports: [{ name: 'http', port: 9090, targetPort: 8080, protocol: 'TCP' }] } }), 200);
  }
  for (const n of hidden) {
    await expectStatus(mergePatch(http, `${servicesOf('default')}/${n}`, { metadata: { labels: { [PROXY_NAME_LABEL]: 'other' } } }), 200);
    await expectStatus(mergePatch(http, `${slicesOf('default')}/${n}-a`, { metadata: { labels: { [HEADLESS_LABEL]: '' } } }), 200);
  }
  for (const n of added) {
    await expectStatus(http.post(servicesOf('default'), serviceBody(n, 81)), 201);
    await expectStatus(http.post(slicesOf('default'), sliceBody(n, `${n}-a`, ['10.98.0.1', '10.98.0.2'])), 201);
  }
  return { deleted, updatedSlices, updatedServices, added, hidden };
}

/** The handler events since `mark`, per kind and type, as "type key" lines. */
function eventsSince(p: Proxy, mark: number, kind: 'Service' | 'EndpointSlice'): string[] {
  return p.rec.events.slice(mark).filter((e) => e.kind === kind).map((e) => `${e.type} ${e.key}`).sort();
}

describe('API source against the embedded control plane, with faults', () => {
  it('watches dropped mid-stream while writers create, update, relabel and delete: resumes from its resourceVersion, no relist, converges', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-drop');
      await seed(env.cp, 'default', 20, 20);
      const p = startProxy(env.cp);
      scope.defer(() => p.stop());
      await assertConverged(p, env.http);
      await watching(env.cp);
      let dropped = 0;
      const ops = await churnWhile(env.http, {
        writers: 4, ms: 1600, seed: 11,
        faultsAt: [150, 350, 550, 750, 950, 1150, 1350, 1550],
        fault: () => { dropped += env.cp.dropWatches(); },
      });
      await assertConverged(p, env.http);
      assert.ok(ops > 50, `writers made ${ops} changes`);
      assert.ok(dropped >= 12, `${dropped} watch connections dropped`);
      assert.deepEqual([...p.counters.listed].sort(), ['endpointslices:initial', 'nodes:initial', 'services:initial'],
        'every dropped watch resumed from its resourceVersion, without a relist');
      assert.ok(p.counters.restarts.filter((r) => r.startsWith('services:')).length >= 5, `restarts: ${p.counters.restarts.join(',')}`);
      assertSyncsMatchInputs(p);
    } finally {
      await scope.close();
    }
  });

  it('watches ended by the server at timeoutSeconds (after a final bookmark) are re-opened from that bookmark, no relist', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-timeout');
      await seed(env.cp, 'default', 10, 10);
      const p = startProxy(env.cp, { tuning: { minWatchTimeoutSeconds: 1 } });
      scope.defer(() => p.stop());
      await assertConverged(p, env.http);
      await churnWhile(env.http, { writers: 2, ms: 2500, seed: 5 });
      await assertConverged(p, env.http);
      assert.ok(p.counters.restarts.filter((r) => r === 'services:closed').length >= 1, `restarts: ${p.counters.restarts.join(',')}`);
      assert.deepEqual([...p.counters.listed].sort(), ['endpointslices:initial', 'nodes:initial', 'services:initial']);
      assert.deepEqual(p.counters.errors, []);
    } finally {
      await scope.close();
    }
  });

  it('history compacted while the watch was silent: 410, relist diffed into deletes/updates/adds, no sync of a half-applied relist', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-410');
      await seed(env.cp, 'default', 20, 20);
      const p = startProxy(env.cp);
      scope.defer(() => p.stop());
      const before = await assertConverged(p, env.http);
      await watching(env.cp);
      const silenced = env.cp.silenceWatches();
      assert.ok(silenced >= 3, `${silenced} watches silenced`);
      const mark = p.rec.events.length;
      const syncMark = p.dataplane.syncs.length;
      const c = await changeWhileBlind(env.http, 'c');
      // The proxy is behind: it has seen none of it.
      assert.deepEqual(viewOf([...p.rec.state.Service.values()]), viewOf(before.services));
      env.cp.compactHistory();
      assert.ok(env.cp.dropWatches() >= 3);
      const after = await assertConverged(p, env.http);
      assert.ok(p.counters.listed.includes('services:expired'), `lists: ${p.counters.listed.join(',')}`);
      assert.ok(p.counters.listed.includes('endpointslices:expired'), `lists: ${p.counters.listed.join(',')}`);
      const k = (n: string): string => `default/${n}`;
      assert.deepEqual(eventsSince(p, mark, 'Service'), [
        ...c.added.map((n) => `add ${k(n)}`),
        ...[...c.deleted, ...c.hidden].map((n) => `delete ${k(n)}`),
        ...c.updatedServices.map((n) => `update ${k(n)}`),
      ].sort());
      assert.deepEqual(eventsSince(p, mark, 'EndpointSlice'), [
        ...c.added.map((n) => `add ${k(n)}-a`),
        ...[...c.deleted, ...c.hidden].map((n) => `delete ${k(n)}-a`),
        ...c.updatedSlices.map((n) => `update ${k(n)}-a`),
      ].sort());
      assertWholeListsOnly(p, syncMark, before, after);
    } finally {
      await scope.close();
    }
  });

  it('control plane stopped, its data changed by another instance, restarted on the same port: rules kept while down, then relist with deletes/updates/adds', async (t) => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-restart');
      await seed(env.cp, 'default', 20, 20);
      const p = startProxy(env.cp);
      scope.defer(() => p.stop());
      const before = await assertConverged(p, env.http);
      const port = env.cp.port;
      const mark = p.rec.events.length;
      const syncMark = p.dataplane.syncs.length;
      env.http.close();
      await env.cp.close();
      // While the API is gone: nothing is deleted, the model is not flushed.
      const down = performance.now();
      await poll('the source to notice the outage', () => p.counters.errors.some((e) => e.startsWith('services:')), 5000);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(p.rec.events.slice(mark), [], 'no events while the API is unreachable');
      assert.deepEqual(describeFamily(p.dataplane.last?.family ?? assert.fail()), expectedModel(before), 'the programmed state is kept');
      assert.deepEqual(p.state.pending(), { services: 0, endpoints: 0 }, 'and nothing is queued to change it');

      // Another instance on the same data dir (another port: the proxy cannot see it) changes it.
      const other = await startPlane(env.dataDir, { kubeconfigOut: join(env.dir, 'other.kubeconfig') });
      const otherHttp = new Client(other);
      scope.defer(async () => {
        otherHttp.close();
        await other.close();
      });
      const c = await changeWhileBlind(otherHttp, 'r');
      otherHttp.close();
      await other.close();

      env.cp = await startPlane(env.dataDir, { listen: `127.0.0.1:${port}` });
      env.http = new Client(env.cp);
      const back = performance.now();
      const after = await assertConverged(p, env.http, 5000);
      const convergedMs = performance.now() - back;
      assert.ok(p.counters.listed.includes('services:expired') || p.counters.listed.includes('services:error'), `lists: ${p.counters.listed.join(',')}`);
      const k = (n: string): string => `default/${n}`;
      assert.deepEqual(eventsSince(p, mark, 'Service'), [
        ...c.added.map((n) => `add ${k(n)}`),
        ...[...c.deleted, ...c.hidden].map((n) => `delete ${k(n)}`),
        ...c.updatedServices.map((n) => `update ${k(n)}`),
      ].sort());
      assertWholeListsOnly(p, syncMark, before, after);
      t.diagnostic(`down for ${Math.round(back - down)} ms; converged ${Math.round(convergedMs)} ms after the API came back`);
      assert.ok(convergedMs < 2000, `converged ${Math.round(convergedMs)} ms after the API came back`);

      // restart() and writes right after it: whatever the source catches live or by relist.
      const mark2 = p.rec.events.length;
      await env.cp.restart();
      await expectStatus(env.http.post(servicesOf('default'), serviceBody('after-restart', 82)), 201);
      await expectStatus(env.http.delete(`${servicesOf('default')}/svc-10`), 200);
      await assertConverged(p, env.http, 5000);
      assert.ok(eventsSince(p, mark2, 'Service').includes('add default/after-restart'));
      assert.ok(eventsSince(p, mark2, 'Service').includes('delete default/svc-10'));
    } finally {
      await scope.close();
    }
  });

  it('a watch that goes silent is restarted by the inactivity watchdog; a bookmarked quiet watch is not', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-silent', { bookmarkIntervalMs: 150 });
      await seed(env.cp, 'default', 10, 10);
      const p = startProxy(env.cp, { tuning: { inactivityTimeoutMs: 500 } });
      scope.defer(() => p.stop());
      await assertConverged(p, env.http);
      await watching(env.cp);
      // Quiet but healthy: bookmarks keep the watchdog away.
      await new Promise((r) => setTimeout(r, 1200));
      assert.deepEqual(p.counters.restarts.filter((r) => r.endsWith(':idle')), [], 'no idle restart while bookmarks flow');

      env.cp.silenceWatches({ includeFuture: true });
      const mark = p.rec.events.length;
      const c = await changeWhileBlind(env.http, 's');
      await poll('two idle restarts of the services watch', () => p.counters.restarts.filter((r) => r === 'services:idle').length >= 2, 5000);
      assert.deepEqual(p.rec.events.slice(mark), [], 'silenced watches deliver nothing');
      env.cp.clearFaults();
      await assertConverged(p, env.http, 5000);
      assert.deepEqual([...p.counters.listed].sort(), ['endpointslices:initial', 'nodes:initial', 'services:initial'],
        'the restarted watch resumed from its resourceVersion: history still had the events');
      assert.ok(eventsSince(p, mark, 'Service').includes(`add default/${c.added[0] ?? ''}`));
    } finally {
      await scope.close();
    }
  });

  it('500s on the initial list: nothing is programmed until a whole list succeeded', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-500-list');
      await seed(env.cp, 'default', 120, 120);
      env.cp.failNextRequests(3, { code: 500, match: (_m, path) => path === SERVICES_PATH });
      const p = startProxy(env.cp, { tuning: { pageSize: 50 } });
      scope.defer(() => p.stop());
      const server = await assertConverged(p, env.http);
      assert.deepEqual(p.counters.errors.filter((e) => e.startsWith('services:')), ['services:list:API_STATUS', 'services:list:API_STATUS', 'services:list:API_STATUS']);
      const first = p.dataplane.syncs[0];
      assert.ok(first !== undefined);
      assert.deepEqual(describeFamily(first.family), expectedModel(server), 'the first sync already had every Service and endpoint');
      assert.equal(first.full, true);
    } finally {
      await scope.close();
    }
  });

  it('500 on a re-watch relists (as client-go); 429 + Retry-After is honoured and re-watches without a relist', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-5xx');
      await seed(env.cp, 'default', 10, 10);
      const p = startProxy(env.cp);
      scope.defer(() => p.stop());
      await assertConverged(p, env.http);

      // 500 on the next watch of each collection.
      env.cp.failNextRequests(2, { code: 500, match: (_m, path) => collection(path) });
      env.cp.dropWatches();
      await changeWhileBlind(env.http, 'e');
      await poll('the 500s to be served', () => p.counters.errors.filter((e) => e.endsWith(':API_STATUS')).length === 2, 5000);
      await assertConverged(p, env.http, 5000);
      assert.ok(p.counters.listed.includes('services:error') || p.counters.listed.includes('endpointslices:error'), `lists: ${p.counters.listed.join(',')}`);

      // 429 twice with Retry-After: 1 on the services collection.
      const listsBefore = p.counters.listed.length;
      const watchesBefore = p.client.of(SERVICES_PATH, true).length;
      env.cp.failNextRequests(2, { code: 429, retryAfterSeconds: 1, match: (_m, path) => path === SERVICES_PATH });
      env.cp.dropWatches();
      await expectStatus(env.http.post(servicesOf('default'), serviceBody('while-throttled', 83)), 201);
      await poll('the services watch to be re-established', () => p.client.of(SERVICES_PATH, true).slice(watchesBefore).some((r) => r.status === 200), 5000);
      await assertConverged(p, env.http, 5000);
      const attempts = p.client.of(SERVICES_PATH, true).slice(watchesBefore);
      assert.deepEqual(attempts.map((r) => r.status), [429, 429, 200]);
      for (let i = 1; i < attempts.length; i++) {
        const gap = (attempts[i]?.at ?? 0) - (attempts[i - 1]?.at ?? 0);
        assert.ok(gap >= 950, `retry ${i} came ${Math.round(gap)} ms after a 429 with Retry-After: 1`);
      }
      assert.deepEqual(p.counters.listed.slice(listsBefore), [], '429 is retried as a watch, no relist');
      const state = await serverState(env.http);
      assert.ok(state.services.some((s) => s.metadata.name === 'while-throttled'));
    } finally {
      await scope.close();
    }
  });
});
