// The nftables dataplane: renders snapshots and applies them with one `nft -f -` transaction
// per sync. Partial syncs rewrite only the chains of changed services and diff set/map
// elements against our own record; full syncs redefine every chain and reconcile elements
// against a fresh (cheap) read of the kernel. Nothing is flushed at start: the first full sync
// replaces old rules atomically. See README.md.

import type { Dataplane, SyncRequest } from '../dataplane.ts';
import type { FamilySnapshot, IPFamily } from '../../model/types.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/logger.ts';
import type { Conntrack } from '../conntrack/conntrack.ts';
import { planConntrackCleanup, runConntrackCleanup } from '../conntrack/cleanup.ts';
import type { CategorizeFn } from './categorize.ts';
import { NftCommandError } from './errors.ts';
import { readKernelView } from './kernel-read.ts';
import { noopNftablesMetrics, type NftablesMetrics, type SyncKind } from './metrics.ts';
import { TABLE } from './names.ts';
import type { FamilyContext, NftablesRenderOptions } from './options.ts';
import { planFull, planPartial, type FamilyPlan, type KernelView } from './plan.ts';
import { portKeysOfServices, renderFamily, renderPort, resolveFamilyContext, type RenderDeps } from './render.ts';
import { renderBase } from './render-base.ts';
import type { ServiceFragment, SkippedService } from './ruleset.ts';
import type { NftRunner } from './runner.ts';
import { FamilyState } from './state.ts';

export interface NftablesDataplaneOptions {
  readonly runner: NftRunner;
  readonly logger: Logger;
  readonly render: NftablesRenderOptions;
  readonly clock?: Clock;
  readonly metrics?: NftablesMetrics;
  /** Stale UDP/SCTP flows are deleted after each successful sync when given. */
  readonly conntrack?: Conntrack;
  readonly categorize?: CategorizeFn;
  /** Read chains/sets/maps back from the kernel on full syncs to correct drift (default true). */
  readonly readKernelOnFullSync?: boolean;
  /** A flushed chain is deleted by a sync at least this much later (default 1000 ms). */
  readonly staleChainDelayMs?: number;
}

/** A sync failed; the kernel keeps the previous rules. `cause` holds the nft error. */
export class NftSyncError extends Error {
  readonly code = 'NFT_SYNC_FAILED';
  readonly stderr: string;
  constructor(message: string, stderr: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NftSyncError';
    this.stderr = stderr;
  }
}

interface FamilyWork {
  readonly snap: FamilySnapshot;
  readonly state: FamilyState;
  readonly kind: SyncKind;
  readonly plan: FamilyPlan;
  readonly start: number;
}

export class NftablesDataplane implements Dataplane {
  readonly mode = 'nftables' as const;
  readonly #o: NftablesDataplaneOptions;
  readonly #clock: Clock;
  readonly #metrics: NftablesMetrics;
  readonly #deps: RenderDeps;
  readonly #contexts = new Map<IPFamily, FamilyContext>();
  readonly #states = new Map<IPFamily, FamilyState>();
  #needFull = true;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: NftablesDataplaneOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics ?? noopNftablesMetrics;
    this.#deps = options.categorize ? { categorize: options.categorize } : {};
    // Validate the options for both families up front: a bad CIDR fails construction.
    for (const family of ['IPv4', 'IPv6'] as const) {
      const ctx = resolveFamilyContext(family, options.render);
      this.#contexts.set(family, ctx);
      this.#states.set(family, new FamilyState(family, ctx.nft));
    }
  }

  /** Test/debug view of the record for one family. */
  stateOf(family: IPFamily): FamilyState | undefined {
    return this.#states.get(family);
  }

  sync(request: SyncRequest): Promise<void> {
    const next = this.#queue.then(() => this.#sync(request));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #sync(request: SyncRequest): Promise<void> {
    const full = request.full || this.#needFull;
    const now = this.#clock.monotonic();
    await this.#deleteStaleChains(request.families, now);
    const work: FamilyWork[] = [];
    for (const snap of request.families) {
      const state = this.#states.get(snap.family);
      const ctx = this.#contexts.get(snap.family);
      if (!state || !ctx) continue;
      const start = this.#clock.monotonic();
      const familyFull = full || !state.fullySynced;
      const plan = familyFull ? await this.#planFull(snap, ctx, state, now) : this.#planPartial(snap, ctx, state, now);
      work.push({ snap, state, kind: familyFull ? 'full' : 'partial', plan, start });
    }
    const lines: string[] = [];
    for (const w of work) for (const l of w.plan.sections.lines()) lines.push(l);
    if (lines.length > 0) {
      try {
        await this.#o.runner.run(lines.join('\n') + '\n');
      } catch (err) {
        this.#needFull = true;
        this.#metrics.syncFailed();
        const stderr = err instanceof NftCommandError ? err.stderr : '';
        this.#o.logger.error({ err, operations: lines.length }, 'nftables sync failed; previous rules stay in place');
        throw new NftSyncError(`nftables transaction failed: ${err instanceof Error ? err.message : String(err)}`, stderr, { cause: err });
      }
    }
    this.#needFull = false;
    for (const w of work) {
      w.plan.commit();
      this.#report(w);
    }
    if (this.#o.conntrack) {
      for (const w of work) {
        const filters = planConntrackCleanup(w.snap);
        if (filters.length === 0) continue;
        const n = await runConntrackCleanup(this.#o.conntrack, filters, this.#o.logger);
        this.#metrics.conntrackEntriesDeleted(w.snap.family, n);
      }
    }
  }

  #report(w: FamilyWork): void {
    const s = w.state;
    const seconds = (this.#clock.monotonic() - w.start) / 1000;
    const base = renderBaseChainCount;
    this.#metrics.synced({
      family: s.family, kind: w.kind, durationSeconds: seconds, operations: w.plan.sections.operations,
      chains: base + s.chains.size, elements: s.elementCount(), affinitySets: s.affinitySets.size, staleChains: s.staleChains.size,
    });
    this.#metrics.noLocalEndpoints(s.family, 'internal', s.noLocalInternal);
    this.#metrics.noLocalEndpoints(s.family, 'external', s.noLocalExternal);
    this.#o.logger.debug({ family: s.family, kind: w.kind, seconds, ...w.plan.stats }, 'nftables sync complete');
  }

  #logSkipped(skipped: readonly SkippedService[]): void {
    for (const sk of skipped) {
      const e = sk.error as Error & { code?: string; field?: string; value?: string };
      this.#o.logger.error({ kind: 'Service', service: sk.serviceKey, portKey: sk.portKey, field: e.field, value: e.value, code: e.code }, 'skipping service: value unsafe for nftables');
    }
  }

  #planPartial(snap: FamilySnapshot, ctx: FamilyContext, state: FamilyState, now: number): FamilyPlan {
    const updates = new Map<string, ServiceFragment | undefined>();
    const skipped: SkippedService[] = [];
    const current = portKeysOfServices(snap, snap.changedServices);
    for (const svc of snap.changedServices) {
      for (const portKey of state.portsByService.get(svc) ?? []) updates.set(portKey, undefined);
      for (const portKey of current.get(svc) ?? []) {
        const r = renderPort(ctx, snap, portKey, this.#deps);
        if (r?.ok === true) updates.set(portKey, r.fragment);
        else if (r) skipped.push(r.skipped);
      }
    }
    this.#logSkipped(skipped);
    return planPartial(state, updates, now);
  }

  async #planFull(snap: FamilySnapshot, ctx: FamilyContext, state: FamilyState, now: number): Promise<FamilyPlan> {
    const rs = renderFamily(snap, this.#o.render, this.#deps);
    this.#logSkipped(rs.skipped);
    let kernel: KernelView | undefined;
    if (this.#o.readKernelOnFullSync ?? true) {
      const t0 = this.#clock.monotonic();
      try {
        kernel = await readKernelView(this.#o.runner, ctx.nft);
        this.#metrics.kernelRead(snap.family, (this.#clock.monotonic() - t0) / 1000);
      } catch (err) {
        this.#o.logger.warn({ err, family: snap.family }, 'could not read nftables state; reconciling against our own record');
      }
    }
    return planFull(state, { base: rs.base, fragments: rs.services, kernel, recreateBaseChains: !state.fullySynced, now });
  }

  /** Delete chains flushed by an earlier sync, in their own transaction (as upstream). */
  async #deleteStaleChains(families: readonly FamilySnapshot[], now: number): Promise<void> {
    const delay = this.#o.staleChainDelayMs ?? 1000;
    const lines: string[] = [];
    const done: [FamilyState, string][] = [];
    for (const snap of families) {
      const state = this.#states.get(snap.family);
      if (!state) continue;
      for (const [name, since] of state.staleChains) {
        if (now - since < delay) continue;
        lines.push(`delete chain ${state.nft} ${TABLE} ${name}`);
        done.push([state, name]);
      }
    }
    if (lines.length === 0) return;
    try {
      await this.#o.runner.run(lines.join('\n') + '\n');
      for (const [state, name] of done) {
        state.staleChains.delete(name);
        state.chains.delete(name);
      }
      this.#o.logger.debug({ chains: lines.length }, 'deleted stale nftables chains');
    } catch (err) {
      // They stay recorded as stale and are retried; a full sync re-reads the kernel anyway.
      this.#metrics.cleanupFailed();
      this.#o.logger.warn({ err, chains: lines.length }, 'could not delete stale nftables chains; will retry');
    }
  }

  async cleanup(): Promise<void> {
    const script = ['ip', 'ip6'].map((f) => `add table ${f} ${TABLE}\ndelete table ${f} ${TABLE}`).join('\n') + '\n';
    await this.#o.runner.run(script);
    for (const [family, ctx] of this.#contexts) this.#states.set(family, new FamilyState(family, ctx.nft));
    this.#needFull = true;
  }

  close(): Promise<void> {
    return this.#queue;
  }
}

const renderBaseChainCount = renderBase(resolveFamilyContext('IPv4', {})).chains.length;
