// 1,000 Services and their 1,000 EndpointSlices created by 20 parallel clients while the proxy
// watches: none lost, none duplicated. Once quietly, once with every watch dropped every 100 ms
// (each resumes from its resourceVersion: the replayed history must not add anything twice).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Scope, assertConverged, assertSyncsMatchInputs, createMany, openEnv, serviceBody, servicesOf, sliceBody, slicesOf, startProxy, watching,
  type Proxy,
} from './harness.ts';

const N = 1000;
const WORKERS = 20;

/** Creates Service i and then its slice, from 20 clients; `during` runs every 100 ms meanwhile. */
async function createAll(env: { cp: Parameters<typeof createMany>[0] }, during?: () => void): Promise<number> {
  const timer = during === undefined ? undefined : setInterval(during, 100);
  const started = performance.now();
  try {
    await createMany(env.cp, 2 * N, WORKERS, (j) => {
      const i = j >> 1;
      const ns = i % 2 === 0 ? 'default' : 'kube-system';
      return j % 2 === 0
        ? { path: servicesOf(ns), body: serviceBody(`c-${i}`, 80 + (i % 5)) }
        : { path: slicesOf(ns), body: sliceBody(`c-${i}`, `c-${i}-x`, [`10.${1 + (i >> 8)}.${i & 255}.1`, `10.${1 + (i >> 8)}.${i & 255}.2`]) };
    });
  } finally {
    if (timer !== undefined) clearInterval(timer);
  }
  return performance.now() - started;
}

function assertExactlyOnce(p: Proxy): void {
  for (const kind of ['Service', 'EndpointSlice'] as const) {
    const events = p.rec.events.filter((e) => e.kind === kind && e.type !== 'synced');
    assert.deepEqual(events.filter((e) => e.type !== 'add'), [], `${kind}: only ADDs`);
    const perKey = new Map<string, number>();
    for (const e of events) perKey.set(e.key, (perKey.get(e.key) ?? 0) + 1);
    assert.equal(perKey.size, N, `${kind}: ${N} distinct objects`);
    assert.deepEqual([...perKey].filter(([, n]) => n !== 1), [], `${kind}: exactly one ADD per object`);
    assert.equal(p.rec.state[kind].size, N);
  }
  assert.equal(p.state.serviceCount, N, 'the model holds exactly the 1,000 Services');
  assert.equal(p.state.endpointSliceCount, N, 'and the 1,000 EndpointSlices');
  const last = p.dataplane.last;
  assert.ok(last !== undefined);
  assert.equal(last.family.services.size, N, 'one service port each, programmed');
  let endpoints = 0;
  for (const eps of last.family.endpoints.values()) endpoints += eps.length;
  assert.equal(endpoints, 2 * N, 'two endpoints each, programmed');
}

describe('concurrent writers while the proxy watches', () => {
  for (const drop of [false, true]) {
    it(`${N} Services + ${N} EndpointSlices from ${WORKERS} parallel clients${drop ? ', watches dropped every 100 ms' : ''}: none lost, none duplicated`, async () => {
      const scope = new Scope();
      try {
        const env = await openEnv(scope, drop ? 'int-conc-drop' : 'int-conc');
        const p = startProxy(env.cp);
        scope.defer(() => p.stop());
        await assertConverged(p, env.http);
        await watching(env.cp);
        let dropped = 0;
        await createAll(env, drop ? () => { dropped += env.cp.dropWatches(); } : undefined);
        await assertConverged(p, env.http, 10_000);
        assertExactlyOnce(p);
        assertSyncsMatchInputs(p, 0, 30);
        if (drop) {
          assert.ok(dropped >= 3, `${dropped} watches dropped`);
          assert.deepEqual([...p.counters.listed].sort(), ['endpointslices:initial', 'nodes:initial', 'services:initial'], 'no relist: resumed from resourceVersions');
        }
      } finally {
        await scope.close();
      }
    });
  }
});
