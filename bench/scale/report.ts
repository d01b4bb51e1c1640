// Results of the scale benchmark: one JSON file per run under bench/results/, and the one-line
// summary per shape that `npm run bench:scale` ends each shape with.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import type { ShapeResult } from './run-shape.ts';

export const RESULTS_DIR = join(import.meta.dirname, '..', 'results');

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly nft: string;
  readonly node: string;
  readonly commit: string;
}

function tryRun(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  const dirty = tryRun('git', ['status', '--porcelain', '--untracked-files=no']) !== '';
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    nft: tryRun('nft', ['--version']),
    node: process.version,
    commit: `${tryRun('git', ['rev-parse', '--short', 'HEAD'])}${dirty ? '+dirty' : ''}`,
  };
}

/** `shape 10000x10: full_sync_s=… add_service_ms=… endpoint_change_ms=… churn_p99_ms=… rss_mib=…` */
export function shapeLine(r: ShapeResult): string {
  const churn = r.churn?.p99Ms ?? Number.NaN;
  return `shape ${r.shape}: full_sync_s=${String(r.fullSync.coldMedianSeconds)} add_service_ms=${String(r.addService.minSync0.medianMs)}`
    + ` endpoint_change_ms=${String(r.endpointChange.minSync0.medianMs)} churn_p99_ms=${String(churn)} rss_mib=${String(r.memory.proxyPeakMiB)}`;
}

export interface RunRecord {
  readonly kind: 'kube-proxy-ts/bench-scale/v1';
  readonly label: string;
  readonly startedAt: string;
  readonly machine: Machine;
  readonly options: Readonly<Record<string, unknown>>;
  readonly shape: ShapeResult;
}

/** Writes one shape's record; returns the path. */
export function writeRecord(rec: RunRecord): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = rec.startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
  const path = join(RESULTS_DIR, `scale-${rec.shape.shape}-${rec.label}-${stamp}.json`);
  writeFileSync(path, `${JSON.stringify(rec, null, 2)}\n`);
  return path;
}
