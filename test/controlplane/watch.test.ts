import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { meta, startTestPlane, str, svc, type TestPlane, type WatchEvent } from './helpers.ts';

const SVC = '/api/v1/namespaces/default/services';
const names = (evs: readonly WatchEvent[]): string[] => evs.map((e) => `${e.type} ${str(meta(e.object)['name'] ?? '')}`);
const rvOf = (o: Record<string, unknown>): string => str(meta(o)['resourceVersion']);

describe('watch', () => {
  let t: TestPlane;
  before(async () => { t = await startTestPlane({ bookmarkIntervalMs: 150 }); });
  after(async () => { await t.stop(); });

  it('rv "" and "0" start with the current objects as ADDED, then stream changes', async () => {
    await t.client.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'w1' } });
    const base = '/api/v1/namespaces/w1/services';
    await t.client.post(base, svc('a'));
    await t.client.post(base, svc('b'));
    for (const rv of ['', '0']) {
      const w = t.client.watch(`${base}?watch=true&resourceVersion=${rv}`);
      await w.until((e) => e.length >= 2);
      assert.deepEqual(names(w.events), ['ADDED a', 'ADDED b']);
      w.close();
    }
    const w = t.client.watch(`${base}?watch=1`);
    await w.until((e) => e.length >= 2);
    await t.client.patch(`${base}/a`, { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
    await t.client.delete(`${base}/b`);
    await w.until((e) => e.length >= 4);
    assert.deepEqual(names(w.events), ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
    const rvs = w.events.slice(2).map((e) => Number(rvOf(e.object)));
    assert.ok((rvs[0] ?? 0) < (rvs[1] ?? 0), 'events in resourceVersion order');
    w.close();
  });

  it('a specific rv replays what happened after it', async () => {
    const c = (await t.client.post(SVC, svc('replay'))).json();
    await t.client.patch(`${SVC}/replay`, { metadata: { labels: { v: '2' } } }, 'application/merge-patch+json');
    await t.client.delete(`${SVC}/replay`);
    const w = t.client.watch(`${SVC}?watch=true&resourceVersion=${rvOf(c)}`);
    await w.until((e) => e.length >= 2);
    assert.deepEqual(names(w.events), ['MODIFIED replay', 'DELETED replay']);
    w.close();
  });

  it('sends BOOKMARKs periodically and before the timeout, then ends', async () => {
    const list = (await t.client.get(SVC)).json();
    const w = t.client.watch(`${SVC}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=${String((list['metadata'] as Record<string, unknown>)['resourceVersion'])}`);
    await w.untilEnded(3000);
    const bookmarks = w.events.filter((e) => e.type === 'BOOKMARK');
    assert.ok(bookmarks.length >= 3, `got ${String(bookmarks.length)} bookmarks`);
    assert.equal(bookmarks[0]?.object['kind'], 'Service');
    assert.match(rvOf(bookmarks[0].object), /^\d+$/);
  });

  it('sendInitialEvents ends the initial list with an annotated BOOKMARK', async () => {
    await t.client.post(SVC, svc('init'));
    const w = t.client.watch(`${SVC}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    await w.until((e) => e.some((x) => x.type === 'BOOKMARK'));
    const bm = w.events.find((x) => x.type === 'BOOKMARK');
    assert.deepEqual((meta(bm?.object ?? {})['annotations'] as Record<string, string>)['k8s.io/initial-events-end'], 'true');
    assert.ok(w.events.some((e) => e.type === 'ADDED' && meta(e.object)['name'] === 'init'));
    w.close();
  });

  it('answers 410 Expired for a resourceVersion older than the retained history', async () => {
    const old = (await t.client.post(SVC, svc('old'))).json();
    const first = (await t.client.get(`${SVC}?limit=1`)).json();
    const cont = String((first['metadata'] as Record<string, unknown>)['continue']);
    await t.client.delete(`${SVC}/old`);
    t.cp.compactHistory();
    const w = t.client.watch(`${SVC}?watch=true&resourceVersion=${rvOf(old)}`);
    await w.untilEnded();
    assert.equal(w.status, 200);
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0]?.type, 'ERROR');
    assert.equal(w.events[0].object['code'], 410);
    assert.equal(w.events[0].object['reason'], 'Expired');
    assert.match(str(w.events[0].object['message']), /^too old resource version: \d+ \(\d+\)$/);
    const page = await t.client.get(`${SVC}?limit=1&continue=${encodeURIComponent(cont)}`);
    assert.equal(page.status, 410);
    assert.equal(page.json()['reason'], 'Expired');
    // A watch from the current revision still works.
    const now = (await t.client.get(SVC)).json();
    const w2 = t.client.watch(`${SVC}?watch=true&resourceVersion=${String((now['metadata'] as Record<string, unknown>)['resourceVersion'])}`);
    await w2.ready;
    await t.client.post(SVC, svc('fresh'));
    await w2.until((e) => e.length >= 1);
    assert.deepEqual(names(w2.events), ['ADDED fresh']);
    w2.close();
  });

  it('translates changes in and out of a selector into ADDED / DELETED', async () => {
    const w = t.client.watch(`${SVC}?watch=true&labelSelector=team%3Dblue`);
    await w.ready;
    await t.client.post(SVC, svc('sel'));
    await t.client.patch(`${SVC}/sel`, { metadata: { labels: { team: 'blue' } } }, 'application/merge-patch+json');
    await t.client.patch(`${SVC}/sel`, { metadata: { labels: { team: 'blue', x: '1' } } }, 'application/merge-patch+json');
    await t.client.patch(`${SVC}/sel`, { metadata: { labels: { team: 'red' } } }, 'application/merge-patch+json');
    await w.until((e) => e.length >= 3);
    assert.deepEqual(names(w.events), ['ADDED sel', 'MODIFIED sel', 'DELETED sel']);
    w.close();
  });

  it('watches one object by field selector and through the legacy /watch/ path', async () => {
    await t.client.post(SVC, svc('one'));
    await t.client.post(SVC, svc('other'));
    const a = t.client.watch(`${SVC}?watch=true&fieldSelector=metadata.name%3Done`);
    const b = t.client.watch('/api/v1/watch/namespaces/default/services/one');
    await a.until((e) => e.length >= 1);
    await b.until((e) => e.length >= 1);
    await t.client.patch(`${SVC}/other`, { metadata: { labels: { z: '1' } } }, 'application/merge-patch+json');
    await t.client.patch(`${SVC}/one`, { metadata: { labels: { z: '1' } } }, 'application/merge-patch+json');
    await a.until((e) => e.length >= 2);
    await b.until((e) => e.length >= 2);
    assert.deepEqual(names(a.events), ['ADDED one', 'MODIFIED one']);
    assert.deepEqual(names(b.events), ['ADDED one', 'MODIFIED one']);
    a.close();
    b.close();
  });

  it('streams Table rows when asked (kubectl get -w)', async () => {
    const w = t.client.watch(`${SVC}?watch=true&fieldSelector=metadata.name%3Dtblw`, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    await w.ready;
    await t.client.post(SVC, svc('tblw'));
    await w.until((e) => e.length >= 1);
    assert.equal(w.events[0]?.object['kind'], 'Table');
    const rows = w.events[0].object['rows'] as { cells: string[] }[];
    assert.equal(rows[0]?.cells[0], 'tblw');
    w.close();
  });
});

describe('fault injection hooks', () => {
  let t: TestPlane;
  before(async () => { t = await startTestPlane(); });
  after(async () => { await t.stop(); });

  it('fails the next N requests with 429 + Retry-After or 500', async () => {
    t.cp.failNextRequests(2, { code: 429, retryAfterSeconds: 7 });
    for (let i = 0; i < 2; i++) {
      const r = await t.client.get(SVC);
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '7');
      assert.equal(r.json()['reason'], 'TooManyRequests');
    }
    assert.equal((await t.client.get(SVC)).status, 200);
    t.cp.failNextRequests(1, { match: (method) => method === 'POST' });
    assert.equal((await t.client.get(SVC)).status, 200);
    const r = await t.client.post(SVC, svc('f'));
    assert.equal(r.status, 500);
    assert.equal(r.json()['reason'], 'InternalError');
    assert.equal((await t.client.post(SVC, svc('f'))).status, 201);
  });

  it('drops all open watches', async () => {
    const w = t.client.watch(`${SVC}?watch=true`);
    await w.ready;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.cp.openWatches(), 1);
    assert.equal(t.cp.dropWatches(), 1);
    await w.untilEnded();
    assert.equal(t.cp.openWatches(), 0);
  });

  it('silences watches: the connection stays open but nothing arrives', async () => {
    const w = t.client.watch(`${SVC}?watch=true&resourceVersion=${String(t.cp.resourceVersion())}`);
    await w.ready;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.cp.silenceWatches(), 1);
    await t.client.post(SVC, svc('silent'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(w.events.length, 0);
    assert.equal(w.ended, false);
    assert.equal(t.cp.openWatches(), 1);
    // New watches are unaffected unless includeFuture was asked.
    const w2 = t.client.watch(`${SVC}?watch=true&fieldSelector=metadata.name%3Dsilent`);
    await w2.until((e) => e.length === 1);
    w.close();
    w2.close();
  });

  it('restarts on the same port and data dir: objects, CA and resourceVersions survive', async () => {
    const first = (await t.client.post(SVC, svc('persist'))).json();
    const created = (await t.client.patch(`${SVC}/persist`, { metadata: { labels: { v: '2' } } }, 'application/merge-patch+json')).json();
    const before = t.cp.resourceVersion();
    const w = t.client.watch(`${SVC}?watch=true`);
    await w.ready;
    const url = t.cp.url;
    const ca = t.cp.caPem;
    await t.cp.restart();
    await w.untilEnded();
    assert.equal(t.cp.url, url);
    assert.equal(t.cp.caPem, ca);
    const got = (await t.client.get(`${SVC}/persist`)).json();
    assert.deepEqual(got, created);
    const next = (await t.client.post(SVC, svc('after'))).json();
    assert.ok(Number(rvOf(next)) > before, 'resourceVersion keeps increasing');
    // History does not survive a restart: revisions before it get 410.
    const old = t.client.watch(`${SVC}?watch=true&resourceVersion=${rvOf(first)}`);
    await old.untilEnded();
    assert.equal(old.events[0]?.object['code'], 410);
  });
});
