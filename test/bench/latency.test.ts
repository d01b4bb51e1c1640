// bench/lib/latency.ts: pooling the latency grids of several wrk runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pooledPercentile, type LatencyGrid } from '../../bench/lib/latency.ts';

/** A run whose requests are spread evenly over [from, to] µs, on wrk-report.lua's grid. */
function uniform(requests: number, from: number, to: number): LatencyGrid {
  const ps: number[] = [];
  for (let p = 1; p <= 89; p++) ps.push(p);
  for (let i = 0; i < 90; i++) ps.push(90 + i / 10);
  for (let i = 0; i < 100; i++) ps.push(99 + i / 100);
  const grid: [number, number][] = ps.map((p) => [p, Math.round(from + ((to - from) * p) / 100)]);
  grid.push([100, to]);
  return { requests, grid };
}

describe('pooledPercentile', () => {
  it('of one run is that run\'s percentile', () => {
    const r = uniform(10_000, 0, 1000);
    assert.equal(pooledPercentile([r], 50), 500);
    assert.equal(pooledPercentile([r], 99), 990);
  });

  it('weighs runs by their requests', () => {
    // Equal halves: the pooled median is where the fast run ends, the p99 in the slow run's tail.
    const fast = uniform(1000, 0, 1000);
    const slow = uniform(1000, 1000, 2000);
    assert.equal(pooledPercentile([fast, slow], 50), 1000);
    assert.equal(pooledPercentile([fast, slow], 99), 1980);
    // Nine fast runs for one slow one: p90 at the boundary, p99 in the middle of the slow run.
    const many = [...Array.from({ length: 9 }, () => fast), slow];
    assert.equal(pooledPercentile(many, 90), 1000);
    assert.equal(pooledPercentile(many, 99), 1900);
  });

  it('is the same for a path whichever order its runs came in, and NaN without requests', () => {
    const runs = [uniform(500, 100, 300), uniform(2000, 200, 900), uniform(800, 50, 5000)];
    assert.equal(pooledPercentile(runs, 99), pooledPercentile([...runs].reverse(), 99));
    assert.ok(Number.isNaN(pooledPercentile([], 99)));
  });
});
