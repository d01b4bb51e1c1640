// Turning interleaved samples into the bench's report: medians per path and test, ratios
// kube-proxy-ts / HAProxy and kube-proxy-ts / direct (of the medians, plus per round to show
// the spread), where the CPU went, a text table, and the JSON written to bench/results/.

import { fixed, median, ratio } from './stats.ts';

export type PathName = 'direct' | 'haproxy' | 'haproxy-nat' | 'haproxy-b' | 'kube-proxy-ts';
export type TestName = 'rps' | 'cps' | 'bulk';

/** CPU time per unit of work (µs per request, per connection, or per MB) and who spent it. */
export interface CpuSplit {
  /** The proxy process (every thread), if the path has one. */
  readonly proxy?: number;
  /** Share of the proxy's time spent in the kernel (system time). */
  readonly proxyKernelShare?: number;
  /** The backend's server process. */
  readonly backend?: number;
  /** wrk or curl. */
  readonly loadgen?: number;
}

export interface Sample {
  readonly round: number;
  readonly path: PathName;
  readonly test: TestName;
  /** req/s, conn/s or MB/s. */
  readonly value: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  /** The rest of wrk's latency distribution (JSON only). */
  readonly latencyUs?: { readonly mean: number; readonly p90: number; readonly p999: number; readonly max: number };
  readonly errors?: number;
  /** wrk's errors by kind, when there were any (JSON only). */
  readonly errorKinds?: { readonly connect: number; readonly read: number; readonly write: number; readonly status: number; readonly timeout: number };
  readonly cpu: CpuSplit;
  /** Share of all CPUs busy during the test (everything on the machine). */
  readonly machineBusy: number;
  /**
   * Share of all CPUs busy with something other than proxy, backend and load generator: kernel
   * threads (softirq work deferred to ksoftirqd), this bench, and whatever else runs here.
   */
  readonly othersBusy: number;
  /** Packets per unit of work on the proxy node's client-side and backend-side links (JSON only). */
  readonly packets?: { readonly clientSide: number; readonly backendSide: number };
}

export interface TestSummary {
  readonly value: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
  readonly cpu: Required<CpuSplit>;
  readonly machineBusy: number;
  readonly othersBusy: number;
}

export type PathSummary = Partial<Record<TestName, TestSummary>>;

export interface Ratios {
  readonly rps: number;
  readonly cps: number;
  readonly bulk: number;
  /** Keep-alive latency. */
  readonly p50: number;
  readonly p99: number;
  /** New-connection latency. */
  readonly cpsP99: number;
}

export interface Report {
  readonly summary: Partial<Record<PathName, PathSummary>>;
  readonly vsHaproxy: Ratios;
  readonly vsDirect: Ratios;
  readonly perRound: readonly { readonly round: number; readonly rps: number; readonly cps: number; readonly p99: number }[];
}

export function summarize(samples: readonly Sample[], paths: readonly PathName[], rounds: number): Report {
  const summary: Partial<Record<PathName, PathSummary>> = {};
  for (const path of paths) {
    const ps: PathSummary = {};
    for (const test of ['rps', 'cps', 'bulk'] as const) {
      const xs = samples.filter((s) => s.path === path && s.test === test);
      if (xs.length === 0) continue;
      const m = (f: (s: Sample) => number | undefined): number => median(xs.map((s) => f(s) ?? Number.NaN));
      ps[test] = {
        value: m((s) => s.value),
        p50Us: m((s) => s.p50Us),
        p99Us: m((s) => s.p99Us),
        errors: xs.reduce((n, s) => n + (s.errors ?? 0), 0),
        cpu: {
          proxy: m((s) => s.cpu.proxy), proxyKernelShare: m((s) => s.cpu.proxyKernelShare),
          backend: m((s) => s.cpu.backend), loadgen: m((s) => s.cpu.loadgen),
        },
        machineBusy: m((s) => s.machineBusy),
        othersBusy: m((s) => s.othersBusy),
      };
    }
    summary[path] = ps;
  }
  const ratios = (a: PathSummary | undefined, b: PathSummary | undefined): Ratios => ({
    rps: ratio(a?.rps?.value ?? Number.NaN, b?.rps?.value ?? Number.NaN),
    cps: ratio(a?.cps?.value ?? Number.NaN, b?.cps?.value ?? Number.NaN),
    bulk: ratio(a?.bulk?.value ?? Number.NaN, b?.bulk?.value ?? Number.NaN),
    p50: ratio(a?.rps?.p50Us ?? Number.NaN, b?.rps?.p50Us ?? Number.NaN),
    p99: ratio(a?.rps?.p99Us ?? Number.NaN, b?.rps?.p99Us ?? Number.NaN),
    cpsP99: ratio(a?.cps?.p99Us ?? Number.NaN, b?.cps?.p99Us ?? Number.NaN),
  });
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const at = (path: PathName, test: TestName): Sample | undefined => samples.find((s) => s.round === r && s.path === path && s.test === test);
    perRound.push({
      round: r + 1,
      rps: ratio(at('kube-proxy-ts', 'rps')?.value ?? Number.NaN, at('haproxy', 'rps')?.value ?? Number.NaN),
      cps: ratio(at('kube-proxy-ts', 'cps')?.value ?? Number.NaN, at('haproxy', 'cps')?.value ?? Number.NaN),
      p99: ratio(at('kube-proxy-ts', 'rps')?.p99Us ?? Number.NaN, at('haproxy', 'rps')?.p99Us ?? Number.NaN),
    });
  }
  return { summary, vsHaproxy: ratios(summary['kube-proxy-ts'], summary.haproxy), vsDirect: ratios(summary['kube-proxy-ts'], summary.direct), perRound };
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd());
}

const us = (x: number): string => (Number.isFinite(x) ? (x >= 10_000 ? `${(x / 1000).toFixed(1)} ms` : `${x.toFixed(0)} µs`) : 'n/a');
const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : 'n/a');

export function renderReport(rep: Report, paths: readonly PathName[], title: string): string[] {
  const lines = [title, ''];
  const rows: string[][] = [['path', 'keep-alive req/s', 'p50', 'p99', 'new conn/s', 'p50', 'p99', 'bulk MB/s', 'errors']];
  for (const p of paths) {
    const s = rep.summary[p];
    if (s === undefined) continue;
    const e = (s.rps?.errors ?? 0) + (s.cps?.errors ?? 0) + (s.bulk?.errors ?? 0);
    rows.push([p, fixed(s.rps?.value ?? Number.NaN, 0), us(s.rps?.p50Us ?? Number.NaN), us(s.rps?.p99Us ?? Number.NaN),
      fixed(s.cps?.value ?? Number.NaN, 0), us(s.cps?.p50Us ?? Number.NaN), us(s.cps?.p99Us ?? Number.NaN), fixed(s.bulk?.value ?? Number.NaN, 0), String(e)]);
  }
  lines.push(...table(rows), '');
  lines.push('CPU per unit of work (µs per request / per new connection / per MB), medians:');
  const cpuRows: string[][] = [['path', 'test', 'proxy', 'proxy in kernel', 'load generator', 'backend', 'machine busy', 'of which others']];
  for (const p of paths) {
    for (const t of ['rps', 'cps', 'bulk'] as const) {
      const s = rep.summary[p]?.[t];
      if (s === undefined) continue;
      cpuRows.push([p, t, fixed(s.cpu.proxy, 1), pct(s.cpu.proxyKernelShare), fixed(s.cpu.loadgen, 1), fixed(s.cpu.backend, 1), pct(s.machineBusy), pct(s.othersBusy)]);
    }
  }
  lines.push(...table(cpuRows), '');
  const ratioLine = (name: string, r: Ratios): string =>
    `${name.padEnd(24)} req/s ${fixed(r.rps, 2)}  conn/s ${fixed(r.cps, 2)}  MB/s ${fixed(r.bulk, 2)}  keep-alive p50 ${fixed(r.p50, 2)}  p99 ${fixed(r.p99, 2)}  new-conn p99 ${fixed(r.cpsP99, 2)}`;
  lines.push(ratioLine('kube-proxy-ts / haproxy', rep.vsHaproxy));
  lines.push(ratioLine('kube-proxy-ts / direct', rep.vsDirect));
  lines.push(`per round vs haproxy:    ${rep.perRound.map((r) => `[rps ${fixed(r.rps, 2)} cps ${fixed(r.cps, 2)} p99 ${fixed(r.p99, 2)}]`).join(' ')}`);
  lines.push('targets vs haproxy: rps ≥ 0.60, cps ≥ 0.60, keep-alive p99 ≤ 2.00');
  return lines;
}

/** Keep-alive latency over many short interleaved windows per path, pooled (latency.ts). */
export interface LatencyReport {
  readonly windows: number;
  readonly seconds: number;
  readonly pooled: Partial<Record<PathName, { readonly requests: number; readonly p50Us: number; readonly p99Us: number; readonly p999Us: number }>>;
  /** kube-proxy-ts / haproxy, and (--aa) haproxy-b / haproxy: the same for two identical proxies. */
  readonly vsHaproxy: LatencyRatios;
  readonly aa?: LatencyRatios & { readonly roundsP99: number };
  /** Each window's p99 per path (µs). */
  readonly windowP99: readonly Partial<Record<PathName, number>>[];
}

/** Ratios of two paths' latency: of the pooled percentiles, and of the windows' p99s. */
export interface LatencyRatios {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  /** Of the medians over windows of each path's p99. */
  readonly medianP99: number;
  /** The median over windows of the two paths' p99 ratio in that window (they ran back to back). */
  readonly pairedP99: number;
}

export function renderLatency(l: LatencyReport, paths: readonly PathName[]): string[] {
  const lines = [`keep-alive latency, ${String(l.windows)} windows × ${String(l.seconds)} s per path, paths taking turns, pooled:`];
  const rows: string[][] = [['path', 'requests', 'p50', 'p99', 'p99.9']];
  for (const p of paths) {
    const x = l.pooled[p];
    if (x !== undefined) rows.push([p, String(x.requests), us(x.p50Us), us(x.p99Us), us(x.p999Us)]);
  }
  lines.push(...table(rows));
  const line = (name: string, r: LatencyRatios): string =>
    `${name.padEnd(24)} pooled p50 ${fixed(r.p50, 2)}  p99 ${fixed(r.p99, 2)}  p99.9 ${fixed(r.p999, 2)}  windows' p99: median ${fixed(r.medianP99, 2)}  paired ${fixed(r.pairedP99, 2)}`;
  lines.push(line('kube-proxy-ts / haproxy', l.vsHaproxy));
  if (l.aa !== undefined) lines.push(`${line('A/A haproxy-b / haproxy', l.aa)}  (rounds: ${fixed(l.aa.roundsP99, 2)})`);
  return lines;
}

/**
 * The benchmark's last line. The p99 is that of the interleaved latency windows when they ran
 * (the paths measured under the same conditions): the ratio of the medians over windows of each
 * path's p99. In A/A runs (two identical HAProxies) it came out 0.99–1.02, where the median over
 * 4 s rounds gave 0.84–4.34 and the pooled p99 0.37–1.06 (a few disturbed windows own a pooled
 * tail). Without the windows: the median over rounds.
 */
export function ratiosLine(rep: Report, latency?: LatencyReport): string {
  return `ratios vs haproxy: rps=${fixed(rep.vsHaproxy.rps, 2)} cps=${fixed(rep.vsHaproxy.cps, 2)} p99=${fixed(latency?.vsHaproxy.medianP99 ?? rep.vsHaproxy.p99, 2)}`;
}
