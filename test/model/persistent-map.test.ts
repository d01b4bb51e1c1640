// PersistentMap: behaves like a Map, never changes a version already handed out, and shares
// structure (so small edits of big maps are cheap).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PersistentMap, hashString } from '../../src/model/persistent-map.ts';

/** Deterministic pseudo-random numbers (tests must be reproducible). */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return s;
  };
}

function assertSame(pm: PersistentMap<number>, ref: ReadonlyMap<string, number>): void {
  assert.equal(pm.size, ref.size);
  const seen = new Map(pm);
  assert.equal(seen.size, ref.size, 'iteration yields each key once');
  for (const [k, v] of ref) {
    assert.equal(pm.get(k), v);
    assert.equal(pm.has(k), true);
    assert.equal(seen.get(k), v);
  }
  assert.deepEqual([...pm.keys()].sort(), [...ref.keys()].sort());
  assert.deepEqual([...pm.values()].sort(), [...ref.values()].sort());
}

/** Two keys with equal 32-bit FNV-1a hashes (found once by a birthday search). */
const COLLIDING: [string, string] = ['ns/svc6158:p/TCP', 'ns/svc1918526:p/TCP'];

describe('PersistentMap', () => {
  it('matches a Map under random sets and deletes, and old versions stay intact', () => {
    const next = rng(42);
    let pm = PersistentMap.empty<number>();
    const ref = new Map<string, number>();
    const versions: [PersistentMap<number>, Map<string, number>][] = [];
    for (let i = 0; i < 30000; i++) {
      const k = `k${next() % 3000}`;
      if (next() % 3 === 0) {
        pm = pm.delete(k);
        ref.delete(k);
      } else {
        const v = next();
        pm = pm.set(k, v);
        ref.set(k, v);
      }
      if (i % 3000 === 0) versions.push([pm, new Map(ref)]);
    }
    assertSame(pm, ref);
    for (const [v, r] of versions) assertSame(v, r);
  });

  it('a builder batches edits without touching the map it started from', () => {
    const base = PersistentMap.from([['a', 1], ['b', 2]]);
    const b = base.builder();
    b.set('c', 3).delete('a').set('b', 20);
    assert.equal(b.size, 2);
    const built = b.build();
    assertSame(base, new Map([['a', 1], ['b', 2]]));
    assertSame(built, new Map([['b', 20], ['c', 3]]));
    assert.throws(() => b.set('d', 4), /after build/);
  });

  it('a built map is not changed by a later builder from it', () => {
    const next = rng(7);
    const v1 = PersistentMap.from(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i] as const));
    const b = v1.builder();
    for (let i = 0; i < 5000; i++) b.set(`k${next() % 6000}`, -1);
    for (let i = 0; i < 2000; i++) b.delete(`k${next() % 6000}`);
    b.build();
    assertSame(v1, new Map(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i] as const)));
  });

  it('returns the same map for no-op edits', () => {
    const m = PersistentMap.from([['a', 1]]);
    assert.equal(m.set('a', 1), m);
    assert.equal(m.delete('zz'), m);
  });

  it('handles full 32-bit hash collisions', () => {
    const [a, b] = COLLIDING;
    assert.equal(hashString(a), hashString(b));
    let m = PersistentMap.empty<string>().set(a, 'A').set(b, 'B').set('other', 'O');
    assert.deepEqual([m.get(a), m.get(b), m.size], ['A', 'B', 3]);
    m = m.set(b, 'B2');
    assert.deepEqual([m.get(a), m.get(b), m.size], ['A', 'B2', 3]);
    const withoutA = m.delete(a);
    assert.deepEqual([withoutA.get(a), withoutA.get(b), withoutA.size], [undefined, 'B2', 2]);
    assert.equal(m.get(a), 'A');
    const empty = withoutA.delete(b).delete('other');
    assert.equal(empty.size, 0);
    assert.deepEqual([...empty], []);
  });

  it('is a ReadonlyMap', () => {
    const m: ReadonlyMap<string, number> = PersistentMap.from([['x', 1], ['y', 2]]);
    const seen: string[] = [];
    m.forEach((v, k, map) => { seen.push(`${k}=${v}`); assert.equal(map, m); });
    assert.deepEqual(seen.sort(), ['x=1', 'y=2']);
    assert.deepEqual(new Map(m), new Map([['x', 1], ['y', 2]]));
  });
});
