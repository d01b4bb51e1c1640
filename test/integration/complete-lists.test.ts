// Nothing is programmed from an incomplete list: 3,000 Services served in 30 pages, with the
// list interrupted (a continue token that expires mid-list, writes between pages) and relisted
// after a 410; every sync the dataplane sees holds whole lists only.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SERVICES_PATH, Scope, assertConverged, assertSyncsMatchInputs, assertWholeListsOnly, describeFamily, expectStatus, expectedModel,
  mergePatch, openEnv, poll, seed, serviceBody, servicesOf, slicesOf, startProxy, viewOf, watching, type Env, type TappedClient,
} from './harness.ts';

const SERVICES = 3000;
const SLICES = 1000;
const PAGE = 100;

/** Holds the first request for page 2 of the Services list until release() is called. */
function holdSecondPage(client: TappedClient): { held: () => boolean; release: () => void } {
  let waiting: (() => void) | undefined;
  let done = false;
  client.gate = (path) => {
    if (done || waiting !== undefined || !path.startsWith(`${SERVICES_PATH}?`) || !path.includes('continue=')) return undefined;
    return new Promise<void>((resolve) => { waiting = resolve; });
  };
  return {
    held: () => waiting !== undefined,
    release: () => {
      done = true;
      waiting?.();
    },
  };
}

/** Deletes svc-<from>…, patches some more, creates some: only Services, all in `default`. */
async function rewrite(env: Env, tag: string, from: number, deletes: number, updates: number, adds: number): Promise<void> {
  const jobs: (() => Promise<void>)[] = [];
  for (let i = from; i < from + deletes; i++) jobs.push(() => expectStatus(env.http.delete(`${servicesOf('default')}/svc-${i}`), 200));
  for (let i = from + deletes; i < from + deletes + updates; i++) {
    jobs.push(() => expectStatus(mergePatch(env.http, `${servicesOf('default')}/svc-${i}`, { spec: { ports: [{ name: 'http', port: 7000, targetPort: 8080, protocol: 'TCP' }] } }), 200));
  }
  for (let i = 0; i < adds; i++) jobs.push(() => expectStatus(env.http.post(servicesOf('default'), serviceBody(`${tag}-${i}`, 90)), 201));
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let j = next++; j < jobs.length; j = next++) await jobs[j]?.();
  }));
}

describe('no sync on incomplete state', () => {
  it(`${SERVICES} Services in ${SERVICES / PAGE} pages: the first sync has all of them; writes between pages and a continue token expired mid-list`, async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-pages');
      await seed(env.cp, 'default', SERVICES, SLICES);
      let hold: ReturnType<typeof holdSecondPage> | undefined;
      const p = startProxy(env.cp, { tuning: { pageSize: PAGE, initialListFromCache: false }, beforeStart: (c) => { hold = holdSecondPage(c); } });
      scope.defer(() => p.stop());
      assert.ok(hold !== undefined);
      const h = hold;
      await poll('page 2 of the Services list to be held', () => h.held(), 10_000);
      // Page 1 was read; the rest of the list changes under the reader, then history is compacted.
      await rewrite(env, 'mid', 1000, 200, 200, 100);
      env.cp.compactHistory();
      assert.equal(p.dataplane.syncs.length, 0, 'nothing programmed from page 1 alone');
      h.release();
      const server = await assertConverged(p, env.http, 20_000);
      assert.equal(server.services.length, SERVICES - 200 + 100);

      const lists = p.client.of(SERVICES_PATH, false);
      assert.deepEqual(lists.slice(0, 3).map((r) => r.status), [200, 410, 200], 'page 1, the expired continue, one unpaginated list');
      assert.ok(!/[?&](limit|continue)=/.test(lists[2]?.path ?? ''), `fallback list ${lists[2]?.path ?? ''} is unpaginated`);
      const first = p.dataplane.syncs[0];
      assert.ok(first !== undefined);
      assert.equal(first.full, true);
      assert.deepEqual(viewOf(first.inputs.services), viewOf(server.services), 'the first sync had the whole, current list of Services');
      assert.deepEqual(viewOf(first.inputs.slices), viewOf(server.slices));
      assert.deepEqual(describeFamily(first.family), expectedModel(server));
      assert.equal(first.family.portsByService.size, server.services.length);
      assertSyncsMatchInputs(p);
    } finally {
      await scope.close();
    }
  });

  it('writes between the pages of a list (continue token still valid): the list is one consistent snapshot, nothing goes back in time', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-snap');
      await seed(env.cp, 'default', 600, 0);
      let hold: ReturnType<typeof holdSecondPage> | undefined;
      const p = startProxy(env.cp, { tuning: { pageSize: PAGE, initialListFromCache: false }, beforeStart: (c) => { hold = holdSecondPage(c); } });
      scope.defer(() => p.stop());
      assert.ok(hold !== undefined);
      const h = hold;
      await poll('page 2 of the Services list to be held', () => h.held(), 10_000);
      const listRV = env.cp.resourceVersion(); // page 1 was served at this revision; nothing written since
      // svc-0 is on page 1 (already read), svc-500 on a later page; both change twice, svc-501 goes.
      for (const n of ['svc-0', 'svc-500', 'svc-0', 'svc-500']) {
        await expectStatus(mergePatch(env.http, `${servicesOf('default')}/${n}`, { metadata: { labels: { step: String(Math.random()).slice(2, 8) } } }), 200);
      }
      await expectStatus(env.http.delete(`${servicesOf('default')}/svc-501`), 200);
      await expectStatus(env.http.post(servicesOf('default'), serviceBody('svc-zzz', 91)), 201);
      h.release();
      await assertConverged(p, env.http, 10_000);
      const first = p.dataplane.syncs[0];
      assert.ok(first !== undefined);
      // The first sync is the state at the list's resourceVersion: none of the writes made
      // after page 1 was served, all of the objects that existed then.
      const names = new Set(first.inputs.services.map((s) => s.metadata.name));
      assert.ok(names.has('svc-501'), 'svc-501 existed at the list revision');
      assert.ok(!names.has('svc-zzz'), 'svc-zzz did not exist at the list revision');
      for (const s of first.inputs.services) {
        assert.ok(Number(s.metadata.resourceVersion) <= listRV, `${s.metadata.name} at rv ${s.metadata.resourceVersion} is newer than the list (${listRV})`);
      }
    } finally {
      await scope.close();
    }
  });

  it('a relist after 410 is paginated too, and no sync ever holds part of it', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-relist');
      await seed(env.cp, 'default', SERVICES, SLICES);
      const p = startProxy(env.cp, { tuning: { pageSize: PAGE, initialListFromCache: false } });
      scope.defer(() => p.stop());
      const before = await assertConverged(p, env.http, 20_000);
      await watching(env.cp);
      env.cp.silenceWatches();
      const syncMark = p.dataplane.syncs.length;
      const listMark = p.client.of(SERVICES_PATH, false).length;
      await rewrite(env, 'late', 0, 500, 300, 300);
      // Some endpoint changes too, so both reflectors relist with differences.
      for (let i = 2000; i < 2050; i++) await expectStatus(env.http.delete(`${slicesOf('default')}/svc-${i % SLICES}-a`), 200, 404);
      env.cp.compactHistory();
      env.cp.dropWatches();
      const after = await assertConverged(p, env.http, 20_000);
      assert.ok(p.counters.listed.includes('services:expired'), `lists: ${p.counters.listed.join(',')}`);
      const relist = p.client.of(SERVICES_PATH, false).slice(listMark);
      assert.ok(relist.length >= (SERVICES - 200) / PAGE, `the relist took ${relist.length} pages`);
      assertWholeListsOnly(p, syncMark, before, after);
    } finally {
      await scope.close();
    }
  });
});
