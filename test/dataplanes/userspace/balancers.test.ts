// Each algorithm's distribution. Exact for round robin; statistical bounds, each with failure
// probability ≤ 1e-6 for a correct implementation (see stats.ts), for the randomised ones;
// deterministic steering for least connections; movement bounds for source hashing.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer, seededRandom } from '../../../src/dataplanes/userspace/balancers/index.ts';
import { randomEligible } from '../../../src/dataplanes/userspace/balancers/balancer.ts';
import { SourceHashBalancer } from '../../../src/dataplanes/userspace/balancers/source-hash.ts';
import { binomialSlack, chiSquareCritical, chiSquareUniform, FAILURE_PROBABILITY } from './stats.ts';
import { clientIP, ctx, makePool, states } from './kit.ts';

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.1.${i + 1}:80`);

function counts(n: number, picks: Iterable<number>): number[] {
  const c = new Array<number>(n).fill(0);
  for (const i of picks) c[i] = (c[i] ?? 0) + 1;
  return c;
}

function* repeat(times: number, fn: (k: number) => number): Generator<number> {
  for (let k = 0; k < times; k++) yield fn(k);
}

describe('round-robin', () => {
  it('is exact: k·N picks give every endpoint k, in order', () => {
    const b = createBalancer('round-robin', seededRandom(1));
    b.reset(keys(5));
    const seq = [...repeat(50, () => b.pick(ctx('c')))];
    assert.deepEqual(seq.slice(0, 10), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    assert.deepEqual(counts(5, seq), [10, 10, 10, 10, 10]);
  });

  it('skips ineligible endpoints and stays exact over the rest', () => {
    const b = createBalancer('round-robin', seededRandom(1));
    b.reset(keys(4));
    const seq = [...repeat(30, () => b.pick(ctx('c', [], new Set([1]))))];
    assert.deepEqual(counts(4, seq), [10, 0, 10, 10]);
    assert.equal(b.pick(ctx('c', [], new Set([0, 1, 2, 3]))), -1);
  });

  it('carries on after the last pick when the endpoint list changes', () => {
    const b = createBalancer('round-robin', seededRandom(1));
    b.reset(['a', 'b', 'c']);
    assert.equal(b.pick(ctx('c')), 0);
    assert.equal(b.pick(ctx('c')), 1); // picked b
    b.reset(['a', 'b', 'bb', 'c']);
    assert.equal(b.pick(ctx('c')), 2); // bb follows b
  });
});

describe('random', () => {
  // 4 endpoints × 40 000 picks. Chi-square (df 3) below its 1e-6 critical value (30.66), and
  // each count within z·σ of 10 000 with z for 1e-6/4 two-sided (union bound over 4 counts).
  const N = 4;
  const M = 40_000;
  it(`is uniform (chi-square and per-endpoint binomial bounds at ${FAILURE_PROBABILITY})`, () => {
    const b = createBalancer('random', seededRandom(42));
    b.reset(keys(N));
    const c = counts(N, repeat(M, () => b.pick(ctx('c'))));
    const critical = chiSquareCritical(N - 1, FAILURE_PROBABILITY);
    assert.ok(chiSquareUniform(c) < critical, `chi2 ${chiSquareUniform(c)} >= ${critical} for ${c.join(',')}`);
    const slack = binomialSlack(M, 1 / N, FAILURE_PROBABILITY / N);
    for (const x of c) assert.ok(Math.abs(x - M / N) <= slack, `${x} outside ${M / N}±${slack.toFixed(0)}`);
  });

  it('stays uniform over the eligible endpoints when some are excluded', () => {
    const b = createBalancer('random', seededRandom(7));
    b.reset(keys(5));
    const c = counts(5, repeat(30_000, () => b.pick(ctx('c', [], new Set([0, 3])))));
    assert.equal(c[0], 0);
    assert.equal(c[3], 0);
    const eligible = [c[1] ?? 0, c[2] ?? 0, c[4] ?? 0];
    assert.ok(chiSquareUniform(eligible) < chiSquareCritical(2, FAILURE_PROBABILITY), eligible.join(','));
  });

  it('randomEligible can exclude one more index (second choice of two)', () => {
    const r = seededRandom(3);
    for (let k = 0; k < 1000; k++) {
      const i = randomEligible(r, 3, ctx('c', [], new Set([0])), 1);
      assert.equal(i, 2);
    }
    assert.equal(randomEligible(r, 0, ctx('c')), -1);
  });
});

describe('least-connections', () => {
  it('steers new connections away from endpoints holding long-lived ones', () => {
    const eps = states(3);
    const { pool } = makePool('least-connections', eps);
    const [a, b, c] = eps;
    assert.ok(a && b && c);
    a.active = 10; // ten long-lived connections
    const got = new Map<string, number>();
    for (let k = 0; k < 18; k++) {
      const s = pool.pick(clientIP(k));
      assert.ok(s);
      s.active++; // these stay open too
      got.set(s.key, (got.get(s.key) ?? 0) + 1);
    }
    assert.deepEqual([...got].sort(), [[b.key, 9], [c.key, 9]]);
    // All at 10 now: the next three go one to each.
    const next = [0, 1, 2].map((k) => { const s = pool.pick(clientIP(100 + k)); assert.ok(s); s.active++; return s.key; });
    assert.deepEqual(next.sort(), [a.key, b.key, c.key].sort());
  });

  it('shares equally loaded endpoints in turn (short requests do not all hit the first)', () => {
    const b = createBalancer('least-connections', seededRandom(1));
    b.reset(keys(4));
    const c = counts(4, repeat(400, () => b.pick(ctx('c', [0, 0, 0, 0]))));
    assert.deepEqual(c, [100, 100, 100, 100]);
  });

  it('ignores ineligible endpoints even when they are the least loaded', () => {
    const b = createBalancer('least-connections', seededRandom(1));
    b.reset(keys(3));
    assert.equal(b.pick(ctx('c', [0, 5, 3], new Set([0]))), 2);
  });
});

describe('power-of-two-choices', () => {
  it('prefers the less loaded of two random picks: the idle endpoint wins every pair it is in', () => {
    // Loads [0, 9, 9, 9]: endpoint 0 is in a random pair with probability 1 − C(3,2)/C(4,2)
    // = 1/2 and then wins; each other endpoint gets (1 − 1/2)/3 = 1/6 (the first drawn wins a
    // tie). Binomial bounds at 1e-6/4 each.
    const b = createBalancer('power-of-two-choices', seededRandom(11));
    b.reset(keys(4));
    const M = 60_000;
    const c = counts(4, repeat(M, () => b.pick(ctx('c', [0, 9, 9, 9]))));
    const q = FAILURE_PROBABILITY / 4;
    assert.ok(Math.abs((c[0] ?? 0) - M / 2) <= binomialSlack(M, 1 / 2, q), c.join(','));
    for (const x of c.slice(1)) assert.ok(Math.abs(x - M / 6) <= binomialSlack(M, 1 / 6, q), c.join(','));
  });

  it('keeps long-lived connections far more even than random', () => {
    // 10 endpoints, 10 000 connections that never close. With two choices the gap between the
    // busiest and idlest endpoint stays O(log log n) (a handful); one random choice gives a
    // gap of order √(m/n)·√(2 ln n) ≈ 200.
    const spread = (algorithm: 'power-of-two-choices' | 'random'): number => {
      const b = createBalancer(algorithm, seededRandom(5));
      b.reset(keys(10));
      const load = new Array<number>(10).fill(0);
      const c = ctx('c', load);
      for (let k = 0; k < 10_000; k++) {
        const i = b.pick(c);
        load[i] = (load[i] ?? 0) + 1;
      }
      return Math.max(...load) - Math.min(...load);
    };
    assert.ok(spread('power-of-two-choices') <= 4, `p2c spread ${spread('power-of-two-choices')}`);
    assert.ok(spread('random') > 40, `random spread ${spread('random')}`);
  });

  it('with one eligible endpoint, picks it', () => {
    const b = createBalancer('power-of-two-choices', seededRandom(1));
    b.reset(keys(3));
    assert.equal(b.pick(ctx('c', [], new Set([0, 2]))), 1);
    assert.equal(b.pick(ctx('c', [], new Set([0, 1, 2]))), -1);
  });
});

describe('source-hash (rendezvous)', () => {
  const CLIENTS = 10_000;
  const assign = (b: SourceHashBalancer, excluded: ReadonlySet<number> = new Set()): number[] =>
    Array.from({ length: CLIENTS }, (_, k) => b.pick(ctx(clientIP(k), [], excluded)));

  it('sends a client to the same endpoint every time, and spreads clients evenly', () => {
    const b = new SourceHashBalancer();
    b.reset(keys(10));
    const first = assign(b);
    assert.deepEqual(assign(b), first);
    // Each endpoint's share of 10 000 clients within the binomial bound (p 1/10, 1e-6/10 each).
    const c = counts(10, first);
    const slack = binomialSlack(CLIENTS, 0.1, FAILURE_PROBABILITY / 10);
    for (const x of c) assert.ok(Math.abs(x - CLIENTS / 10) <= slack, c.join(','));
  });

  it('adding an endpoint moves about 1/(N+1) of the clients, all of them to the newcomer', () => {
    for (const n of [3, 10, 50]) {
      const b = new SourceHashBalancer();
      const before = keys(n);
      b.reset(before);
      const a1 = assign(b).map((i) => before[i]);
      const after = [...before, '10.0.9.9:80'];
      b.reset(after);
      const a2 = assign(b).map((i) => after[i]);
      let moved = 0;
      for (let k = 0; k < CLIENTS; k++) {
        if (a1[k] === a2[k]) continue;
        moved++;
        assert.equal(a2[k], '10.0.9.9:80', 'a client moved between two old endpoints');
      }
      // Binomial(10 000, 1/(N+1)) at 1e-6, upper side.
      const bound = CLIENTS / (n + 1) + binomialSlack(CLIENTS, 1 / (n + 1), FAILURE_PROBABILITY);
      assert.ok(moved <= bound, `N=${n}: moved ${moved} > ${bound.toFixed(0)}`);
      assert.ok(moved > 0);
    }
  });

  it('removing an endpoint moves only its own clients', () => {
    const b = new SourceHashBalancer();
    const before = keys(8);
    b.reset(before);
    const a1 = assign(b).map((i) => before[i]);
    const after = before.filter((k) => k !== before[3]);
    b.reset(after);
    const a2 = assign(b).map((i) => after[i]);
    for (let k = 0; k < CLIENTS; k++) if (a1[k] !== before[3]) assert.equal(a2[k], a1[k]);
  });

  it('an ineligible endpoint sends its clients to their second choice, spread over the others', () => {
    const b = new SourceHashBalancer();
    b.reset(keys(5));
    const a1 = assign(b);
    const a2 = assign(b, new Set([0]));
    const dest = counts(5, a2.filter((_, k) => a1[k] === 0));
    assert.equal(dest[0], 0);
    for (const x of dest.slice(1)) assert.ok(x > 0, dest.join(','));
    for (let k = 0; k < CLIENTS; k++) if (a1[k] !== 0) assert.equal(a2[k], a1[k]);
  });
});
