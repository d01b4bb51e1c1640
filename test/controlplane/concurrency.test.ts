// 1,000 creates from 20 parallel clients: nothing lost or duplicated, unique resourceVersions,
// and a watch opened before sees exactly 1,000 ADDED events in resourceVersion order.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, meta, startTestPlane, svc } from './helpers.ts';

describe('concurrency', () => {
  it('1,000 parallel creates: all present, unique rvs, watcher sees all in order', async () => {
    const t = await startTestPlane();
    try {
      const SVC = '/api/v1/namespaces/default/services';
      const rv0 = t.cp.resourceVersion();
      const w = t.client.watch(`${SVC}?watch=true&resourceVersion=${String(rv0)}`);
      await w.ready;
      const N = 1000;
      const WORKERS = 20;
      const clients = Array.from({ length: WORKERS }, () => new Client(t.cp, 1));
      let next = 0;
      const createdRVs: number[] = [];
      const started = Date.now();
      await Promise.all(clients.map(async (c) => {
        for (;;) {
          const i = next++;
          if (i >= N) return;
          const r = await c.post(SVC, svc(`svc-${String(i)}`, { labels: { worker: 'x' } }));
          assert.equal(r.status, 201, r.text);
          createdRVs.push(Number(meta(r.json())['resourceVersion']));
        }
      }));
      const ms = Date.now() - started;
      for (const c of clients) c.close();
      assert.equal(new Set(createdRVs).size, N, 'every create got its own resourceVersion');
      const list = (await t.client.get(SVC)).json();
      const items = list['items'] as Record<string, unknown>[];
      assert.equal(items.length, N);
      assert.equal(new Set(items.map((o) => meta(o)['name'])).size, N);
      const ips = new Set(items.map((o) => (o['spec'] as Record<string, unknown>)['clusterIP']));
      assert.equal(ips.size, N, 'every Service got its own ClusterIP');
      await w.until((e) => e.length >= N, 10_000);
      assert.equal(w.events.length, N);
      assert.ok(w.events.every((e) => e.type === 'ADDED'));
      const rvs = w.events.map((e) => Number(meta(e.object)['resourceVersion']));
      for (let i = 1; i < rvs.length; i++) assert.ok((rvs[i] ?? 0) > (rvs[i - 1] ?? 0), 'in resourceVersion order');
      assert.deepEqual([...rvs].sort((a, b) => a - b), [...createdRVs].sort((a, b) => a - b));
      w.close();
      // Informational: how long 1,000 durable creates took.
      assert.ok(ms < 20_000, `1,000 creates took ${String(ms)} ms`);
    } finally {
      await t.stop();
    }
  });
});
