// Pooling latency distributions of several wrk runs. Each run reports its latency at a grid of
// percentiles (wrk-report.lua, KPT_WRK_GRID=1); the pooled distribution weighs each run by its
// requests, so the p99 of a path over many short runs is that of all its requests together.
//
// Why: the machine's speed drifts over seconds (other tenants, the hypervisor), so the p99 of
// one 4 s run per path says as much about when it ran as about the path. Many short runs per
// path, the paths taking turns, expose every path to the same drift; pooled, their p99s compare
// the paths (an A/A run, HAProxy against an identical HAProxy, shows how closely).

/** One run: how many requests, and [percentile, latency µs] pairs in increasing order. */
export interface LatencyGrid {
  readonly requests: number;
  readonly grid: readonly (readonly [number, number])[];
}

/**
 * The `p`th percentile (0–100) of the runs pooled. Within a run the share of requests at or
 * below x is taken as the largest grid percentile whose latency is ≤ x (a lower bound, so the
 * pooled percentile errs high by at most one grid step of each run).
 */
export function pooledPercentile(runs: readonly LatencyGrid[], p: number): number {
  const total = runs.reduce((n, r) => n + r.requests, 0);
  if (total === 0) return Number.NaN;
  const candidates = [...new Set(runs.flatMap((r) => r.grid.map(([, v]) => v)))].sort((a, b) => a - b);
  const shareAtOrBelow = (r: LatencyGrid, x: number): number => {
    let lo = 0;
    let hi = r.grid.length - 1;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const point = r.grid[mid];
      if (point === undefined) break;
      if (point[1] <= x) { best = point[0]; lo = mid + 1; } else hi = mid - 1;
    }
    return best / 100;
  };
  for (const x of candidates) {
    let below = 0;
    for (const r of runs) below += r.requests * shareAtOrBelow(r, x);
    if (below >= (p / 100) * total - 1e-9) return x;
  }
  return candidates.at(-1) ?? Number.NaN;
}
