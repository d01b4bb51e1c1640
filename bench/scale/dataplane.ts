// Per-packet cost: TCP handshake latency to a ClusterIP on the reference node (10 services)
// and on the big node (the whole shape), and bulk throughput through a ClusterIP versus
// straight to the pod. Paths are interleaved round by round and medians reported, because the
// machine is shared.

import { join } from 'node:path';
import type { LabNetns } from '../../test/lab/netns.ts';
import { POD_IP, POD_PORT } from './env.ts';
import { median, round } from './stats.ts';

const PROBE = join(import.meta.dirname, 'probe.ts');

interface ConnectRun { readonly count: number; readonly failures: number; readonly p50us: number; readonly p90us: number; readonly p99us: number }
interface BulkRun { readonly bytes: number; readonly seconds: number; readonly gbitPerS: number }

async function probe<T>(ns: LabNetns, args: readonly string[], timeoutMs: number): Promise<T> {
  const out = await ns.run(process.execPath, [PROBE, ...args], { timeoutMs });
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
  };
  readonly throughput: {
    readonly clusterIPGbit: number;
    readonly directGbit: number;
    /** clusterIP / direct */
    readonly ratio: number;
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

export async function measureDataplane(i: DataplaneInput): Promise<DataplaneResult> {
  const ref: ConnectRun[] = [];
  const big: ConnectRun[] = [];
  const direct: ConnectRun[] = [];
  const viaCIP: BulkRun[] = [];
  const viaPod: BulkRun[] = [];
  const n = String(i.connects);
  const t = 120_000;
  for (let r = 0; r < i.rounds; r++) {
    // Rotate the order each round so no path always runs first.
    const steps: (() => Promise<void>)[] = [
      async () => { ref.push(await probe<ConnectRun>(i.referenceNode, ['connect', i.referenceClusterIP, '80', n], t)); },
      async () => { big.push(await probe<ConnectRun>(i.shapeNode, ['connect', i.shapeClusterIP, '80', n], t)); },
      async () => { direct.push(await probe<ConnectRun>(i.shapeNode, ['connect', POD_IP, String(POD_PORT), n], t)); },
    ];
    for (let k = 0; k < steps.length; k++) await steps[(k + r) % steps.length]?.();
    const bulk: (() => Promise<void>)[] = [
      async () => { viaCIP.push(await probe<BulkRun>(i.shapeNode, ['bulk', i.shapeClusterIP, '80', String(i.bulkSeconds)], t)); },
      async () => { viaPod.push(await probe<BulkRun>(i.shapeNode, ['bulk', POD_IP, String(POD_PORT), String(i.bulkSeconds)], t)); },
    ];
    for (let k = 0; k < bulk.length; k++) await bulk[(k + r) % bulk.length]?.();
  }
  const p = (runs: readonly ConnectRun[], f: (c: ConnectRun) => number): number => round(median(runs.map(f)), 1);
  const p50 = { reference: p(ref, (c) => c.p50us), shape: p(big, (c) => c.p50us), direct: p(direct, (c) => c.p50us) };
  const p99 = { reference: p(ref, (c) => c.p99us), shape: p(big, (c) => c.p99us), direct: p(direct, (c) => c.p99us) };
  const cip = round(median(viaCIP.map((b) => b.gbitPerS)), 2);
  const pod = round(median(viaPod.map((b) => b.gbitPerS)), 2);
  return {
    connect: {
      referenceServices: 10, shapeServices: i.shapeServices, p50us: p50, p99us: p99,
      p50Ratio: round(p50.shape / p50.reference, 3), p99Ratio: round(p99.shape / p99.reference, 3),
    },
    throughput: { clusterIPGbit: cip, directGbit: pod, ratio: round(cip / pod, 3) },
    rounds: i.rounds,
  };
}
