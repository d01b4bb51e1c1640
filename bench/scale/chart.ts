// Draws docs/performance-scale.svg from the newest bench/results/scale-*.json of each shape:
// full sync time, cost of adding one service, and proxy memory against cluster size, next to
// upstream's published figures (../shared/reference/performance-anchors.md).
//
//   npx node bench/scale/chart.ts [--label LABEL] [--out docs/performance-scale.svg]
//
// Plain SVG written by hand: three bar panels, log scale where upstream is minutes and we are
// seconds. Pure apart from reading the results and writing the file.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RESULTS_DIR, type RunRecord } from './report.ts';

interface Point {
  readonly shape: string;
  readonly services: number;
  readonly fullSyncS: number;
  readonly addServiceMs: number;
  readonly rssMiB: number;
}

/** Upstream's published figures per shape where one exists (performance-anchors.md). */
const UPSTREAM: Readonly<Record<string, { fullSyncS?: number; addServiceMs?: number; rssMiB?: number; note: string }>> = {
  '10000x10': { addServiceMs: 141, rssMiB: 260, note: 'k/k PR #126013 (kind, 2 endpoints/service)' },
  '5000x50': { fullSyncS: 13 * 60, note: 'k/k #135639: 13 min per sync at 5,006 services / 250,011 endpoints' },
  '30000x2': { fullSyncS: 16 * 60, note: 'k/k #139513: 16 min full sync at 44,125 services' },
};

const ORDER = ['1000x10', '10000x10', '5000x50', '30000x2'];

export function newestPerShape(records: readonly RunRecord[], label?: string): Point[] {
  const best = new Map<string, RunRecord>();
  for (const r of records) {
    if (label !== undefined && r.label !== label) continue;
    const have = best.get(r.shape.shape);
    if (have === undefined || have.startedAt < r.startedAt) best.set(r.shape.shape, r);
  }
  return [...best.values()]
    .map((r) => ({
      shape: r.shape.shape,
      services: r.shape.services,
      fullSyncS: r.shape.fullSync.coldMedianSeconds,
      addServiceMs: r.shape.addService.minSync0.medianMs,
      rssMiB: r.shape.memory.proxyPeakMiB,
    }))
    .sort((a, b) => (ORDER.indexOf(a.shape) - ORDER.indexOf(b.shape)) || a.services - b.services);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly log: boolean;
  readonly ours: (p: Point) => number;
  readonly theirs: (shape: string) => number | undefined;
  readonly target?: (shape: string) => number | undefined;
}

function panel(x0: number, w: number, h: number, points: readonly Point[], p: Panel): string {
  const top = 50;
  const bottom = h - 60;
  const values = points.flatMap((pt) => [p.ours(pt), p.theirs(pt.shape) ?? 0, p.target?.(pt.shape) ?? 0]).filter((v) => v > 0);
  const max = Math.max(...values, 1);
  const min = Math.min(...values, 1);
  const lo = p.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = p.log ? 10 ** Math.ceil(Math.log10(max)) : max * 1.15;
  const y = (v: number): number => {
    if (p.log) return bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
    return bottom - (v / hi) * (bottom - top);
  };
  const out: string[] = [];
  out.push(`<text x="${String(x0 + w / 2)}" y="24" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<text x="${String(x0 + w / 2)}" y="40" text-anchor="middle" font-size="11" fill="#555">${esc(p.unit)}${p.log ? ' (log scale)' : ''}</text>`);
  out.push(`<line x1="${String(x0 + 40)}" y1="${String(bottom)}" x2="${String(x0 + w - 10)}" y2="${String(bottom)}" stroke="#333"/>`);
  const ticks = p.log
    ? Array.from({ length: Math.round(Math.log10(hi) - Math.log10(lo)) + 1 }, (_, i) => lo * 10 ** i)
    : Array.from({ length: 5 }, (_, i) => (hi / 4) * i);
  for (const t of ticks) {
    out.push(`<line x1="${String(x0 + 40)}" y1="${y(t).toFixed(1)}" x2="${String(x0 + w - 10)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${String(x0 + 36)}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="10">${fmt(t)}</text>`);
  }
  const slot = (w - 50) / Math.max(points.length, 1);
  points.forEach((pt, i) => {
    const cx = x0 + 45 + slot * i;
    const bw = slot / 3 - 2;
    const ours = p.ours(pt);
    out.push(`<rect x="${cx.toFixed(1)}" y="${y(ours).toFixed(1)}" width="${bw.toFixed(1)}" height="${(bottom - y(ours)).toFixed(1)}" fill="#2b7bb9"/>`);
    out.push(`<text x="${(cx + bw / 2).toFixed(1)}" y="${(y(ours) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(ours)}</text>`);
    const theirs = p.theirs(pt.shape);
    if (theirs !== undefined) {
      const tx = cx + bw + 2;
      out.push(`<rect x="${tx.toFixed(1)}" y="${y(theirs).toFixed(1)}" width="${bw.toFixed(1)}" height="${(bottom - y(theirs)).toFixed(1)}" fill="#d9822b"/>`);
      out.push(`<text x="${(tx + bw / 2).toFixed(1)}" y="${(y(theirs) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(theirs)}</text>`);
    }
    const target = p.target?.(pt.shape);
    if (target !== undefined) {
      out.push(`<line x1="${(cx - 2).toFixed(1)}" y1="${y(target).toFixed(1)}" x2="${(cx + 2 * bw + 4).toFixed(1)}" y2="${y(target).toFixed(1)}" stroke="#c00" stroke-dasharray="4 2"/>`);
    }
    out.push(`<text x="${(cx + bw).toFixed(1)}" y="${String(bottom + 14)}" text-anchor="middle" font-size="10">${esc(pt.shape)}</text>`);
  });
  return out.join('\n');
}

const TARGETS: Readonly<Record<string, { fullSyncS?: number; addServiceMs?: number; rssMiB?: number }>> = {
  '10000x10': { fullSyncS: 3, addServiceMs: 50, rssMiB: 250 },
  '5000x50': { fullSyncS: 20, rssMiB: 600 },
  '30000x2': { fullSyncS: 10 },
};

export function renderChart(points: readonly Point[]): string {
  const W = 960;
  const H = 360;
  const pw = W / 3;
  const panels: Panel[] = [
    { title: 'Initial full sync', unit: 'seconds', log: true, ours: (p) => p.fullSyncS, theirs: (s) => UPSTREAM[s]?.fullSyncS, target: (s) => TARGETS[s]?.fullSyncS },
    { title: 'One Service added (minSyncPeriod 0)', unit: 'milliseconds, API write to kernel', log: true, ours: (p) => p.addServiceMs, theirs: (s) => UPSTREAM[s]?.addServiceMs, target: (s) => TARGETS[s]?.addServiceMs },
    { title: 'Proxy memory (RSS, peak)', unit: 'MiB', log: false, ours: (p) => p.rssMiB, theirs: (s) => UPSTREAM[s]?.rssMiB, target: (s) => TARGETS[s]?.rssMiB },
  ];
  const body = panels.map((p, i) => panel(i * pw, pw, H, points, p)).join('\n');
  const legendY = H - 22;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(W)}" height="${String(H)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    body,
    `<rect x="20" y="${String(legendY)}" width="12" height="12" fill="#2b7bb9"/><text x="38" y="${String(legendY + 10)}">kube-proxy-ts (this machine, 2 cores)</text>`,
    `<rect x="290" y="${String(legendY)}" width="12" height="12" fill="#d9822b"/><text x="308" y="${String(legendY + 10)}">upstream nftables, published (other hardware; see docs/performance.md)</text>`,
    `<line x1="740" y1="${String(legendY + 6)}" x2="770" y2="${String(legendY + 6)}" stroke="#c00" stroke-dasharray="4 2"/><text x="776" y="${String(legendY + 10)}">target</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The newest record of each shape as a Markdown table (docs/performance.md). */
export function markdownTable(records: readonly RunRecord[], label?: string): string {
  const best = new Map<string, RunRecord>();
  for (const r of records) {
    if (label !== undefined && r.label !== label) continue;
    const have = best.get(r.shape.shape);
    if (have === undefined || have.startedAt < r.startedAt) best.set(r.shape.shape, r);
  }
  const rows = [...best.values()].sort((a, b) => ORDER.indexOf(a.shape.shape) - ORDER.indexOf(b.shape.shape));
  const n = (v: number | undefined, d = 1): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));
  const lines = [
    '| shape | full sync s (list · sync) | add Service ms (0 / 1 s) | endpoint change ms (0 / 1 s) | churn p50 / p99 ms | CPU s per 1k changes | RSS MiB steady / peak | control plane MiB | connect ratio p50 paired / p99 pooled (per-round medians) | ClusterIP / direct throughput paired (of medians) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const s = r.shape;
    const cold = s.fullSync.cold[0];
    const c = s.churn;
    const d = s.dataplane;
    lines.push(`| ${s.shape} | ${n(s.fullSync.coldMedianSeconds, 2)} (${n(cold?.startupAndListSeconds, 2)} · ${n(cold?.syncSeconds, 2)})`
      + ` | ${n(s.addService.minSync0.medianMs)} / ${n(s.addService.minSync1s.medianMs, 0)} | ${n(s.endpointChange.minSync0.medianMs)} / ${n(s.endpointChange.minSync1s.medianMs)}`
      + ` | ${n(c?.p50Ms, 0)} / ${n(c?.p99Ms, 0)} | ${n(c?.cpuSecondsPer1000, 2)} | ${n(s.memory.proxySteadyMiB, 0)} / ${n(s.memory.proxyPeakMiB, 0)} | ${n(s.memory.controlPlaneMiB, 0)}`
      + ` | ${n(d?.connect.pairedP50Ratio, 3)} / ${n(d?.connect.pooled?.p99Ratio, 2)} (${n(d?.connect.p50Ratio, 2)} / ${n(d?.connect.p99Ratio, 2)}) | ${n(d?.throughput.pairedRatio, 3)} (${n(d?.throughput.ratio, 2)}) |`);
  }
  return `${lines.join('\n')}\n`;
}

export function loadRecords(dir: string = RESULTS_DIR): RunRecord[] {
  return readdirSync(dir)
    .filter((f) => /^scale-.*\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Partial<RunRecord>)
    .filter((r): r is RunRecord => r.kind === 'kube-proxy-ts/bench-scale/v1' && r.shape !== undefined);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { label: { type: 'string' }, table: { type: 'boolean' }, out: { type: 'string', default: join(import.meta.dirname, '..', '..', 'docs', 'performance-scale.svg') } } });
  if (values.table === true) process.stdout.write(markdownTable(loadRecords(), values.label));
  const points = newestPerShape(loadRecords(), values.label);
  if (points.length === 0) {
    process.stderr.write(`no scale results in ${RESULTS_DIR}; run npm run bench:scale first\n`);
    process.exitCode = 1;
  } else {
    writeFileSync(values.out, renderChart(points));
    process.stdout.write(`${values.out}: ${points.map((p) => p.shape).join(', ')}\n`);
  }
}
