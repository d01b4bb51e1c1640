// Regression test (found by complete-lists.test.ts): the embedded control plane served continue
// pages from the current state while labelling them with the first page's resourceVersion, so a
// paginated list mixed revisions and a reflector watching from that resourceVersion was handed
// updates that went back in time. Continue pages must be the state at the first page's revision,
// as kube-apiserver serves them from etcd's snapshot.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Scope, expectStatus, mergePatch, openEnv, serviceBody, servicesOf, type Env } from './harness.ts';

interface Page {
  readonly items: string[];
  readonly rv: string;
  readonly cont: string;
}

async function page(env: Env, path: string, limit: number, cont = ''): Promise<Page> {
  const sep = path.includes('?') ? '&' : '?';
  const r = await env.http.get(`${path}${sep}limit=${limit}${cont === '' ? '' : `&continue=${encodeURIComponent(cont)}`}`);
  assert.equal(r.status, 200, r.text);
  const body = r.json();
  const meta = body['metadata'] as { resourceVersion: string; continue?: string };
  const items = (body['items'] as { metadata: { namespace: string; name: string; resourceVersion: string } }[])
    .map((o) => `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`);
  return { items, rv: meta.resourceVersion, cont: meta.continue ?? '' };
}

/** A whole list as one request, and the same list in pages of `limit` with `between` run after page 1. */
async function pagedVersusWhole(env: Env, path: string, limit: number, between: () => Promise<void>): Promise<{ whole: Page; paged: string[]; pages: number }> {
  const whole = await page(env, path, 0);
  const first = await page(env, path, limit);
  assert.equal(first.rv, whole.rv, 'nothing was written between the two reads');
  await between();
  const paged = [...first.items];
  let cont = first.cont;
  let pages = 1;
  while (cont !== '') {
    const next = await page(env, path, limit, cont);
    assert.equal(next.rv, first.rv, 'every page carries the first page\'s resourceVersion');
    paged.push(...next.items);
    cont = next.cont;
    pages++;
  }
  return { whole, paged, pages };
}

describe('control plane: paginated lists are one consistent snapshot', () => {
  it('continue pages show the state at the first page\'s revision, whatever was written since', async () => {
    const scope = new Scope();
    try {
      const env = await openEnv(scope, 'int-paging');
      await expectStatus(env.http.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } }), 201);
      for (let i = 0; i < 7; i++) await expectStatus(env.http.post(servicesOf('default'), serviceBody(`s${i}`, 80, { team: 'blue' })), 201);
      for (let i = 0; i < 3; i++) await expectStatus(env.http.post(servicesOf('other'), serviceBody(`o${i}`)), 201);
      const writes = async (): Promise<void> => {
        await expectStatus(mergePatch(env.http, `${servicesOf('default')}/s4`, { metadata: { labels: { step: '1' } } }), 200);
        await expectStatus(mergePatch(env.http, `${servicesOf('default')}/s4`, { metadata: { labels: { step: '2', team: 'red' } } }), 200);
        await expectStatus(env.http.delete(`${servicesOf('default')}/s5`), 200);
        await expectStatus(env.http.delete(`${servicesOf('default')}/s0`), 200);
        await expectStatus(env.http.delete(`${servicesOf('default')}/s3`), 200);
        await expectStatus(env.http.post(servicesOf('default'), serviceBody('s3', 81, { team: 'blue' })), 201);
        await expectStatus(env.http.post(servicesOf('default'), serviceBody('s9', 80, { team: 'blue' })), 201);
        await expectStatus(env.http.delete(`${servicesOf('other')}/o1`), 200);
        await expectStatus(env.http.post(servicesOf('other'), serviceBody('o9')), 201);
      };
      // One namespace: nothing from `other` leaks in, deleted objects are still there, the
      // re-created s3 and the new s9 are not, s4 is at its old version.
      let r = await pagedVersusWhole(env, servicesOf('default'), 2, writes);
      assert.equal(r.pages, 4);
      assert.deepEqual(r.paged, r.whole.items);

      // All namespaces, and a label selector that s4 has left since.
      r = await pagedVersusWhole(env, '/api/v1/services?labelSelector=team%3Dblue', 2, async () => {
        await expectStatus(mergePatch(env.http, `${servicesOf('default')}/s6`, { metadata: { labels: { team: 'red' } } }), 200);
        await expectStatus(env.http.delete(`${servicesOf('default')}/s9`), 200);
      });
      assert.deepEqual(r.paged, r.whole.items);
      r = await pagedVersusWhole(env, '/api/v1/services', 3, async () => {
        await expectStatus(env.http.delete(`${servicesOf('other')}/o0`), 200);
        await expectStatus(env.http.post(servicesOf('default'), serviceBody('a0')), 201);
      });
      assert.deepEqual(r.paged, r.whole.items);

      // Once the history no longer covers the first page's revision: 410, as before.
      const first = await page(env, servicesOf('default'), 2);
      await expectStatus(env.http.post(servicesOf('default'), serviceBody('late')), 201);
      env.cp.compactHistory();
      const expired = await env.http.get(`${servicesOf('default')}?limit=2&continue=${encodeURIComponent(first.cont)}`);
      assert.equal(expired.status, 410);
    } finally {
      await scope.close();
    }
  });
});
