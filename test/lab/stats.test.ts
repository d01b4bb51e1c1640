// The balance check's own tests: exact tails against hand-computed values, thresholds that
// keep their promise (simulated with a seeded generator), and unfair spreads that are caught.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  binomialLowerTail, binomialUpperTail, checkBalance, lowerThreshold, minSamples, ONE_IN_A_MILLION, upperThreshold,
} from './stats.ts';
import { prng } from '../helpers/prng.ts';


function spread(n: number, weights: readonly number[], random: () => number): Record<string, number> {
  const total = weights.reduce((a, b) => a + b, 0);
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    let r = random() * total;
    let k = 0;
    while (k < weights.length - 1 && r >= (weights[k] ?? 0)) r -= weights[k++] ?? 0;
    counts[`ep${k}`] = (counts[`ep${k}`] ?? 0) + 1;
  }
  return counts;
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `ep${i}`);

describe('binomial tails', () => {
  const cases: { n: number; p: number; k: number; upper: number; lower: number }[] = [
    // Binomial(10, 1/2): P(X ≥ 8) = (45 + 10 + 1)/1024, P(X ≤ 2) the same by symmetry.
    { n: 10, p: 0.5, k: 8, upper: 56 / 1024, lower: 1 - 56 / 1024 + 45 / 1024 },
    // Binomial(3, 1/4): P(X ≥ 3) = 1/64, P(X ≤ 3) = 1.
    { n: 3, p: 0.25, k: 3, upper: 1 / 64, lower: 1 },
    { n: 5, p: 0.2, k: 0, upper: 1, lower: 0.8 ** 5 },
  ];
  for (const c of cases) {
    it(`Binomial(${c.n}, ${c.p}) at ${c.k}`, () => {
      assert.ok(Math.abs(binomialUpperTail(c.n, c.p, c.k) - c.upper) < 1e-12);
      assert.ok(Math.abs(binomialLowerTail(c.n, c.p, c.k) - c.lower) < 1e-12);
    });
  }

  it('thresholds sit where the union bound puts them', () => {
    for (const [n, N] of [[600, 4], [400, 2], [1000, 3]] as const) {
      const u = upperThreshold(n, N);
      const l = lowerThreshold(n, N);
      assert.ok(N * binomialUpperTail(n, 1 / N, u) <= ONE_IN_A_MILLION / 2);
      assert.ok(N * binomialUpperTail(n, 1 / N, u - 1) > ONE_IN_A_MILLION / 2, 'U is the smallest such');
      assert.ok(N * binomialLowerTail(n, 1 / N, l) <= ONE_IN_A_MILLION / 2);
      assert.ok(N * binomialLowerTail(n, 1 / N, l + 1) > ONE_IN_A_MILLION / 2, 'L is the largest such');
      assert.ok(l < n / N && n / N < u);
    }
    assert.deepEqual([lowerThreshold(600, 4), upperThreshold(600, 4)], [97, 208]);
  });

  it('minSamples is the first n where "every endpoint gets traffic" can be asserted', () => {
    for (const N of [2, 3, 4]) {
      const n = minSamples(N);
      assert.equal(lowerThreshold(n, N), 0);
      assert.equal(lowerThreshold(n - 1, N), -1);
    }
  });
});

describe('checkBalance', () => {
  it('a uniform spread passes (1000 seeded runs, none fail)', () => {
    const random = prng(42);
    for (let run = 0; run < 1000; run++) {
      const v = checkBalance(spread(400, [1, 1, 1, 1], random), names(4));
      assert.ok(v.ok, v.message);
    }
  });

  it('keeps its promised false-failure rate at a loose alpha (simulated)', () => {
    // At alpha = 0.05 the union bound promises at most 5 % failures for a fair spread.
    const random = prng(7);
    let failed = 0;
    const runs = 4000;
    for (let run = 0; run < runs; run++) if (!checkBalance(spread(200, [1, 1, 1], random), names(3), 0.05).ok) failed++;
    assert.ok(failed / runs <= 0.05 + 0.01, `${failed}/${runs}`);
  });

  const unfair: { what: string; counts: Record<string, number>; endpoints: string[]; match: RegExp }[] = [
    { what: 'an endpoint with no traffic', counts: { ep0: 300, ep1: 300, ep2: 0 }, endpoints: names(3), match: /ep2 got 0/ },
    { what: 'an endpoint with twice its share', counts: { ep0: 200, ep1: 100, ep2: 100 }, endpoints: names(2).concat('ep2'), match: /ep0 got 200 ≥/ },
    { what: 'traffic to something else', counts: { ep0: 150, ep1: 150, ETIMEDOUT: 1 }, endpoints: names(2), match: /unexpected ETIMEDOUT/ },
    { what: 'too few samples', counts: { ep0: 5, ep1: 5 }, endpoints: names(2), match: /too few/ },
  ];
  for (const c of unfair) {
    it(`fails on ${c.what}`, () => {
      const v = checkBalance(c.counts, c.endpoints);
      assert.equal(v.ok, false);
      assert.match(v.message, c.match);
    });
  }

  it('catches a 2:1:1:1 weighting at n = 2000 (seeded)', () => {
    const v = checkBalance(spread(2000, [2, 1, 1, 1], prng(3)), names(4));
    assert.equal(v.ok, false, v.message);
  });
});
