// Per-packet cost: TCP handshake latency to a ClusterIP on the reference node (10 services)
// and on the big node (the whole shape), and bulk throughput through a ClusterIP versus
// straight to the pod. The machine is shared and its speed drifts by ±30 % within minutes, so
// the three connect paths take turns in short bursts: a `probe.ts step` process per path waits
// in its namespace, and each step asks one of them for BURST back-to-back handshakes after
// SKIP unrecorded ones (a probe that just woke up is slower: ≈ 110 against 40 µs, which would
// hide the rules' cost). Never two paths at once; the first path rotates every step. Reported:
// the median over all cycles of shape / reference burst medians (paired: ±1.5 % in A/A runs,
// calibrate.ts), percentiles over every handshake of the run (pooled: p99 ±2 % in A/A with
// bursts of 8, ±8 % with bursts of 20, as a stall of the machine lands in one path's burst),
// and each round's percentiles with their medians over rounds (±5 % p50, ±10 % p99: the
// measure before stop 11). Bulk runs alternate between rounds.

import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { LabNetns } from '../../test/lab/netns.ts';
import { placement, POD_DIRECT_PORT, POD_IP, POD_PORT } from './env.ts';
import { median, percentile, round } from './stats.ts';

const PROBE = join(import.meta.dirname, 'probe.ts');

interface BulkRun { readonly bytes: number; readonly seconds: number; readonly gbitPerS: number }

/** The command line of a probe, pinned to the probes' CPU when there is one. */
function probeCommand(args: readonly string[]): [string, string[]] {
  const cpu = placement().probes;
  return cpu === undefined ? [process.execPath, [PROBE, ...args]] : ['taskset', ['-c', cpu, process.execPath, PROBE, ...args]];
}

async function probe<T>(ns: LabNetns, args: readonly string[], timeoutMs: number): Promise<T> {
  const out = await ns.run(...probeCommand(args), { timeoutMs });
  return JSON.parse(out.trim()) as T;
}

export interface DataplaneResult {
  readonly connect: {
    readonly referenceServices: number;
    readonly shapeServices: number;
    readonly p50us: { readonly reference: number; readonly shape: number; readonly direct: number };
    readonly p99us: { readonly reference: number; readonly shape: number; readonly direct: number };
    /** shape / reference */
    readonly p50Ratio: number;
    readonly p99Ratio: number;
    // Since stop 11 (older result files lack them):
    /** Each round's p50 and p99 ratio, to show the spread. */
    readonly roundRatios?: { readonly p50: readonly number[]; readonly p99: readonly number[] };
    /** The median over every cycle of shape / reference burst medians (bursts ≈ 0.5 ms apart). */
    readonly pairedP50Ratio?: number;
    /**
     * Percentiles over every handshake of the run, per path: the p99 of 36,000 samples rests
     * on 360 of them, where a round's p99 rests on 30 (what one stall of the machine moves).
     */
    readonly pooled?: {
      readonly p50us: { readonly reference: number; readonly shape: number; readonly direct: number };
      readonly p99us: { readonly reference: number; readonly shape: number; readonly direct: number };
      readonly p50Ratio: number;
      readonly p99Ratio: number;
    };
    readonly method?: 'interleaved';
    readonly failures?: number;
  };
  readonly throughput: {
    readonly clusterIPGbit: number;
    readonly directGbit: number;
    /** clusterIP / direct */
    readonly ratio: number;
    /** The median over rounds of each round's clusterIP / direct (the two run back to back). */
    readonly pairedRatio?: number;
  };
  readonly rounds: number;
}

export interface DataplaneInput {
  readonly referenceNode: LabNetns;
  readonly referenceClusterIP: string;
  readonly shapeNode: LabNetns;
  readonly shapeClusterIP: string;
  readonly shapeServices: number;
  readonly rounds: number;
  readonly connects: number;
  readonly bulkSeconds: number;
}

const BURST = 8;
const SKIP = 3;

/** A `probe.ts step` process in a namespace: a burst of TCP handshakes per `step()`. */
class Stepper {
  readonly #child: ChildProcess;
  readonly #waiting: ((line: string) => void)[] = [];
  readonly #early: string[] = [];

  private constructor(child: ChildProcess) {
    this.#child = child;
    if (child.stdout === null) throw new Error('probe without stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      const w = this.#waiting.shift();
      if (w) w(line);
      else this.#early.push(line);
    });
  }

  static async start(ns: LabNetns, host: string, port: number, warmUp: number): Promise<Stepper> {
    const s = new Stepper(ns.spawn(...probeCommand(['step', host, String(port), String(warmUp)])));
    const first = await s.#line(60_000);
    if (first !== 'ready') throw new Error(`probe ${host}:${String(port)} in ${ns.name}: ${first}`);
    return s;
  }

  #line(timeoutMs: number): Promise<string> {
    const early = this.#early.shift();
    if (early !== undefined) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('probe did not answer')); }, timeoutMs);
      this.#waiting.push((line) => { clearTimeout(timer); resolve(line); });
    });
  }

  /** µs of each of `n` handshakes made after `skip` others; undefined for a failed one. */
  async step(n: number, skip: number): Promise<(number | undefined)[]> {
    this.#child.stdin?.write(`${String(n)} ${String(skip)}\n`);
    const words = (await this.#line(30_000)).split(' ');
    if (words.length !== n) throw new Error(`probe answered ${String(words.length)} of ${String(n)} handshakes`);
    return words.map((w) => (w === 'fail' || !Number.isFinite(Number(w)) ? undefined : Number(w)));
  }

  stop(): void {
    this.#child.stdin?.end();
    if (this.#child.exitCode === null && this.#child.pid !== undefined) this.#child.kill('SIGTERM');
  }
}

async function bulkRound(i: DataplaneInput, r: number, viaCIP: BulkRun[], viaPod: BulkRun[]): Promise<void> {
  const t = 120_000;
  const bulk: (() => Promise<void>)[] = [
    async () => { viaCIP.push(await probe<BulkRun>(i.shapeNode, ['bulk', i.shapeClusterIP, '80', String(i.bulkSeconds)], t)); },
    async () => { viaPod.push(await probe<BulkRun>(i.shapeNode, ['bulk', POD_IP, String(POD_PORT), String(i.bulkSeconds)], t)); },
  ];
  for (let k = 0; k < bulk.length; k++) await bulk[(k + r) % bulk.length]?.();
}

export async function measureDataplane(i: DataplaneInput): Promise<DataplaneResult> {
  const paths = [
    await Stepper.start(i.referenceNode, i.referenceClusterIP, 80, 100),
    await Stepper.start(i.shapeNode, i.shapeClusterIP, 80, 100),
    await Stepper.start(i.shapeNode, POD_IP, POD_DIRECT_PORT, 100),
  ];
  // Per path (reference, shape, direct): each round's p50 and p99.
  const p50s: number[][] = [[], [], []];
  const p99s: number[][] = [[], [], []];
  const viaCIP: BulkRun[] = [];
  const viaPod: BulkRun[] = [];
  // Shape / reference of each cycle's burst medians: bursts ≈ 0.5 ms apart see the same machine.
  const paired: number[] = [];
  const all: number[][] = [[], [], []];
  let failures = 0;
  try {
    for (let r = 0; r < i.rounds; r++) {
      const us: number[][] = [[], [], []];
      for (let n = 0; n * BURST < i.connects; n++) {
        const burst = Math.min(BURST, i.connects - n * BURST);
        const burstMedian: number[] = [];
        for (let k = 0; k < paths.length; k++) {
          const p = (n + r + k) % paths.length;
          const values: number[] = [];
          for (const v of await paths[p]?.step(burst, SKIP) ?? []) {
            if (v === undefined) failures++;
            else values.push(v);
          }
          us[p]?.push(...values);
          all[p]?.push(...values);
          burstMedian[p] = median(values);
        }
        const ratio = (burstMedian[1] ?? Number.NaN) / (burstMedian[0] ?? Number.NaN);
        if (Number.isFinite(ratio)) paired.push(ratio);
      }
      us.forEach((values, p) => { p50s[p]?.push(percentile(values, 0.5)); p99s[p]?.push(percentile(values, 0.99)); });
      await bulkRound(i, r, viaCIP, viaPod);
    }
  } finally {
    for (const s of paths) s.stop();
  }
  const med = (values: readonly number[] | undefined): number => round(median(values ?? []), 1);
  const p50 = { reference: med(p50s[0]), shape: med(p50s[1]), direct: med(p50s[2]) };
  const p99 = { reference: med(p99s[0]), shape: med(p99s[1]), direct: med(p99s[2]) };
  const pooledAt = (q: number): { reference: number; shape: number; direct: number } => ({
    reference: round(percentile(all[0] ?? [], q), 1), shape: round(percentile(all[1] ?? [], q), 1), direct: round(percentile(all[2] ?? [], q), 1),
  });
  const pooled50 = pooledAt(0.5);
  const pooled99 = pooledAt(0.99);
  const ratios = (per: number[][]): number[] => (per[1] ?? []).map((v, r) => round(v / (per[0]?.[r] ?? Number.NaN), 3));
  const cip = round(median(viaCIP.map((b) => b.gbitPerS)), 2);
  const pod = round(median(viaPod.map((b) => b.gbitPerS)), 2);
  return {
    connect: {
      referenceServices: 10, shapeServices: i.shapeServices, p50us: p50, p99us: p99,
      p50Ratio: round(p50.shape / p50.reference, 3), p99Ratio: round(p99.shape / p99.reference, 3),
      roundRatios: { p50: ratios(p50s), p99: ratios(p99s) }, pairedP50Ratio: round(median(paired), 3),
      pooled: { p50us: pooled50, p99us: pooled99, p50Ratio: round(pooled50.shape / pooled50.reference, 3), p99Ratio: round(pooled99.shape / pooled99.reference, 3) },
      method: 'interleaved', failures,
    },
    throughput: {
      clusterIPGbit: cip, directGbit: pod, ratio: round(cip / pod, 3),
      pairedRatio: round(median(viaCIP.map((b, r) => b.gbitPerS / (viaPod[r]?.gbitPerS ?? Number.NaN))), 3),
    },
    rounds: i.rounds,
  };
}
