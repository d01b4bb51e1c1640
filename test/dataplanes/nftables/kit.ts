// Shared pieces for dataplane tests: a recording fake runner, a fake clock, recording
// metrics, and (for kernel tests) a comparison of what the kernel holds with the record.

import assert from 'node:assert/strict';
import type { Clock, Timer } from '../../../src/util/clock.ts';
import type { IPFamily } from '../../../src/model/types.ts';
import { readKernelView } from '../../../src/dataplanes/nftables/kernel-read.ts';
import type { NftablesMetrics, NftablesSyncReport } from '../../../src/dataplanes/nftables/metrics.ts';
import type { NftablesDataplane } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { NftCommandError } from '../../../src/dataplanes/nftables/errors.ts';
import { scriptText, type NftRunner, type NftScript, type StartedNft } from '../../../src/dataplanes/nftables/runner.ts';

export class FakeClock implements Clock {
  t = 1_000_000;
  now(): number { return this.t; }
  monotonic(): number { return this.t; }
  setTimeout(): Timer { return { cancel: () => undefined }; }
  advance(ms: number): void { this.t += ms; }
}

/** Records every script; optionally fails; delegates to an inner runner when given. */
export class RecordingRunner implements NftRunner {
  readonly scripts: string[] = [];
  readonly queries: string[][] = [];
  failNext = 0;
  readonly inner: NftRunner | undefined;
  constructor(inner?: NftRunner) { this.inner = inner; }
  async run(given: NftScript, options?: { readonly check?: boolean }): Promise<void> {
    const script = scriptText(given);
    this.scripts.push(script);
    if (this.failNext > 0) {
      this.failNext--;
      if (this.inner) {
        // Make the kernel refuse it: a rule in a chain that does not exist, at the very end.
        await this.inner.run(`${script}add rule ip kube-proxy no-such-chain-kpt drop\n`, options);
        return;
      }
      throw new NftCommandError('NFT_FAILED', 'injected failure', 'Error: injected', 1);
    }
    if (this.inner) await this.inner.run(script, options);
  }
  /** Recorded like run; the inner runner's start when it has one (streamed cold-start elements). */
  start(given: NftScript, options?: { readonly background?: boolean }): StartedNft {
    this.scripts.push(scriptText(given));
    this.started++;
    if (this.inner?.start) return this.inner.start(given, options);
    return { done: this.inner ? this.inner.run(given) : Promise.resolve(), foreground: () => undefined };
  }
  started = 0;
  async query(args: readonly string[]): Promise<string> {
    this.queries.push([...args]);
    if (this.inner) return this.inner.query(args);
    throw new NftCommandError('NFT_FAILED', 'no kernel in this test', '', 1);
  }
  get last(): string { return this.scripts.at(-1) ?? ''; }
  lastLines(): string[] { return this.last.split('\n').filter((l) => l !== ''); }
}

export class RecordingMetrics implements NftablesMetrics {
  failures = 0;
  cleanupFailures = 0;
  reports: NftablesSyncReport[] = [];
  noLocal = new Map<string, number>();
  conntrackDeleted = 0;
  kernelReads = 0;
  syncFailed(): void { this.failures++; }
  cleanupFailed(): void { this.cleanupFailures++; }
  synced(r: NftablesSyncReport): void { this.reports.push(r); }
  noLocalEndpoints(family: IPFamily, policy: 'internal' | 'external', count: number): void { this.noLocal.set(`${family}/${policy}`, count); }
  kernelRead(): void { this.kernelReads++; }
  conntrackEntriesDeleted(_f: IPFamily, n: number): void { this.conntrackDeleted += n; }
}

/** Addresses in the kernel's hairpin set ("ip . ip" elements). */
export async function readHairpin(runner: NftRunner, nft: 'ip' | 'ip6'): Promise<string[]> {
  const doc = JSON.parse(await runner.query(['-j', 'list', 'set', nft, 'kube-proxy', 'hairpin-ips'])) as { nftables?: { set?: { elem?: unknown[] } }[] };
  const out: string[] = [];
  for (const o of doc.nftables ?? []) {
    for (const e of o.set?.elem ?? []) {
      const concat = (e as { concat?: unknown[] }).concat;
      if (Array.isArray(concat) && typeof concat[0] === 'string') out.push(concat[0]);
    }
  }
  return out.sort();
}

/** The kernel's chains, affinity sets, elements and hairpin set equal the dataplane's record. */
export async function assertKernelMatchesRecord(dp: NftablesDataplane, runner: NftRunner, family: IPFamily = 'IPv4'): Promise<void> {
  const state = dp.stateOf(family);
  assert.ok(state);
  const kernel = await readKernelView(runner, state.nft);
  const kernelServiceChains = [...kernel.chains].filter((c) => !state.fixedChains.has(c)).sort();
  assert.deepEqual(kernelServiceChains, [...state.chains.keys()].sort(), 'service chains differ');
  for (const id of state.fixedChains.keys()) assert.ok(kernel.chains.has(id), `fixed chain ${id} missing`);
  assert.deepEqual([...kernel.tables].sort(), [...state.tables].sort(), 'tables differ');
  assert.deepEqual([...kernel.affinitySets].sort(), [...state.affinitySets].sort(), 'affinity sets differ');
  for (const [container, want] of state.elements) {
    const have = kernel.elements.get(container) ?? new Map<string, string>();
    assert.deepEqual([...have].sort(), [...want].sort(), `elements of ${container} differ`);
  }
  assert.deepEqual(await readHairpin(runner, state.nft), [...state.hairpin].sort(), 'hairpin set differs');
}
