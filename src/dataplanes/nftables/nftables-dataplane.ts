// The nftables dataplane: renders snapshots and applies them with one `nft -f -` transaction
// per sync. Partial syncs render only changed services and write only what differs from our
// record; full syncs reconcile against a cheap read of the kernel, rewriting every chain only
// when a rewrite is due (first sync, failure, hourly); a cleanup transaction deletes what
// partial syncs left behind. Nothing is flushed at start: the first full sync replaces old
// rules atomically. See README.md.

import { availableParallelism } from 'node:os';
import type { Dataplane, SyncRequest } from '../dataplane.ts';
import type { FamilySnapshot, IPFamily } from '../../model/types.ts';
import { systemClock, type Clock, type Timer } from '../../util/clock.ts';
import type { Logger } from '../../util/logger.ts';
import type { Conntrack } from '../conntrack/conntrack.ts';
import { planConntrackCleanup, runConntrackCleanup } from '../conntrack/cleanup.ts';
import type { CategorizeFn } from './categorize.ts';
import { NftCommandError } from './errors.ts';
import { readKernelView } from './kernel-read.ts';
import { noopNftablesMetrics, type NftablesMetrics, type SyncKind } from './metrics.ts';
import { MAX_SHARD_TABLES, shardTable } from './names.ts';
import type { FamilyContext, NftablesRenderOptions } from './options.ts';
import { DEFAULT_SHARD_WEIGHT, rulesetWeight, shardCount, shouldReshard, tableFor } from './placement.ts';
import { planCleanup } from './plan-cleanup.ts';
import type { FamilyPlan } from './plan-common.ts';
import { BULK_MIN_ELEMENTS, coldPrelude, planFull, type KernelView } from './plan-full.ts';
import { planPartial } from './plan-partial.ts';
import { portKeysOfServices, renderFragments, renderPort, renderTables, resolveFamilyContext, type RenderDeps } from './render.ts';
import type { PortNames } from './render-service.ts';
import type { ServiceFragment, SkippedService } from './ruleset.ts';
import type { NftRunner, StartedNft } from './runner.ts';
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
  /**
   * With a large record (≥ 20k elements), a full sync that is not a rewrite reads the kernel
   * only if the last read is at least this old (default 10 min): reading 250k elements back
   * costs ~10 s of nft's CPU, too much for every syncPeriod. Rewrites (start, failure, hourly)
   * always read it. Drift in a large ruleset is thus corrected within this interval.
   */
  readonly kernelReadIntervalMs?: number;
  /** What partial syncs leave behind is deleted once it is this old (default 1000 ms). */
  readonly staleChainDelayMs?: number;
  /**
   * A full sync rewrites every chain once this long has passed since the last rewrite
   * (default 1 h, upstream's FullSyncPeriod); other full syncs only reconcile with the kernel.
   */
  readonly rewriteIntervalMs?: number;
  /** Rules per service table before services are spread over more tables (placement.ts); 0: one table. */
  readonly shardWeight?: number;
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

type Mode = 'rewrite' | 'resync' | 'partial';

interface FamilyWork {
  readonly snap: FamilySnapshot;
  readonly state: FamilyState;
  readonly mode: Mode;
  readonly plan: FamilyPlan;
}

/**
 * A ruleset this large (elements) is not read back element by element: on rewrites and every
 * kernelReadIntervalMs its element containers are flushed and written whole instead (see
 * kernel-read.ts); in between, our record stands in for the kernel.
 */
const LARGE_RECORD_ELEMENTS = 20_000;

/** Longest wait of the cleanup timer between failed attempts. */
const MAX_CLEANUP_RETRY_MS = 60_000;

/** About how many elements a snapshot needs (a backend per endpoint, an entry or two per port). */
function estimatedElements(snap: FamilySnapshot): number {
  let n = 2 * snap.services.size;
  for (const eps of snap.endpoints.values()) n += eps.length;
  return n;
}

export class NftablesDataplane implements Dataplane {
  readonly mode = 'nftables' as const;
  readonly #o: NftablesDataplaneOptions;
  readonly #clock: Clock;
  readonly #metrics: NftablesMetrics;
  readonly #names = new Map<string, PortNames>();
  readonly #deps: RenderDeps;
  readonly #contexts = new Map<IPFamily, FamilyContext>();
  /** Service CIDRs from the cluster (snapshot.serviceCIDRs) the contexts were last built with, by family. */
  readonly #clusterCIDRs = new Map<IPFamily, string>();
  readonly #states = new Map<IPFamily, FamilyState>();
  #needFull = true;
  #needResync = false;
  #lastCleanup: number | undefined;
  #cleanupTimer: Timer | undefined;
  /** Cleanup transactions failed in a row: the timer backs off (1 s, 2 s, 4 s … 60 s). */
  #cleanupFailures = 0;
  #closed = false;
  #queue: Promise<void> = Promise.resolve();
  #timing = { render: 0, plan: 0, kernelRead: 0, apply: 0 };
  /** Transactions a cold start's planning started (streamed elements), still running. */
  #started: StartedNft[] = [];

  constructor(options: NftablesDataplaneOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics ?? noopNftablesMetrics;
    this.#deps = options.categorize ? { categorize: options.categorize, names: this.#names } : { names: this.#names };
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

  #modeFor(state: FamilyState, snap: FamilySnapshot, full: boolean, now: number): Mode {
    if (this.#needFull || !state.fullySynced) return 'rewrite';
    if (this.#needResync) return 'resync';
    if (!full) return 'partial';
    const interval = this.#o.rewriteIntervalMs ?? 3_600_000;
    if (state.lastRewriteAt === undefined || now - state.lastRewriteAt >= interval) return 'rewrite';
    if (shouldReshard(state.shards, rulesetWeight(snap), this.#o.shardWeight ?? DEFAULT_SHARD_WEIGHT)) return 'rewrite';
    return 'resync';
  }

  /**
   * The cluster's Service CIDRs (ServiceCIDR objects, when watched) replace the configured ones
   * in the family's context; a change re-renders the tables (rewrite), which holds the
   * "drop traffic to unallocated ClusterIPs" rule. Rare: a cluster's ranges seldom change.
   */
  #followServiceCIDRs(snap: FamilySnapshot): void {
    const cidrs = snap.serviceCIDRs;
    if (cidrs === undefined) return;
    const key = cidrs.join(',');
    if (this.#clusterCIDRs.get(snap.family) === key) return;
    try {
      this.#contexts.set(snap.family, resolveFamilyContext(snap.family, { ...this.#o.render, serviceCIDRs: cidrs }));
    } catch (err) {
      this.#o.logger.error({ err, family: snap.family, serviceCIDRs: cidrs }, 'unusable Service CIDRs from the cluster; keeping the previous ones');
      return;
    }
    this.#clusterCIDRs.set(snap.family, key);
    this.#needFull = true;
    this.#o.logger.info({ family: snap.family, serviceCIDRs: cidrs }, 'Service CIDRs from the cluster\'s ServiceCIDR objects');
  }

  #shardsFor(state: FamilyState, snap: FamilySnapshot): number {
    const perShard = this.#o.shardWeight ?? DEFAULT_SHARD_WEIGHT;
    if (perShard <= 0) return 1;
    const weight = rulesetWeight(snap);
    if (state.shards > 0 && !shouldReshard(state.shards, weight, perShard)) return Math.min(state.shards, MAX_SHARD_TABLES);
    return shardCount(weight, perShard);
  }

  async #sync(request: SyncRequest): Promise<void> {
    const now = this.#clock.monotonic();
    this.#timing = { render: 0, plan: 0, kernelRead: 0, apply: 0 };
    this.#started = [];
    const work: FamilyWork[] = [];
    for (const snap of request.families) this.#followServiceCIDRs(snap);
    for (const snap of request.families) {
      const state = this.#states.get(snap.family);
      const ctx = this.#contexts.get(snap.family);
      if (!state || !ctx) continue;
      const mode = this.#modeFor(state, snap, request.full, now);
      const plan = mode === 'partial' ? this.#planPartial(snap, ctx, state, now) : await this.#planFull(snap, ctx, state, now, mode === 'rewrite');
      work.push({ snap, state, mode, plan });
    }
    const t0 = this.#clock.monotonic();
    // The transaction goes to nft as lines: never joined into one string.
    const lines: string[] = [];
    for (const w of work) for (const l of w.plan.sections.lines()) lines.push(l);
    const t1 = this.#clock.monotonic();
    this.#timing.plan += t1 - t0;
    const bulk = work.flatMap((w) => (w.plan.bulk === undefined ? [] : [w.plan.bulk]));
    const after = work.flatMap((w) => w.plan.after ?? []);
    const started = this.#started;
    this.#started = [];
    // Planning is done: streamed transactions still running get the CPU like any other.
    for (const s of started) s.foreground();
    if (lines.length > 0 || bulk.length > 0 || started.length > 0) {
      try {
        const main = bulk.length === 0 ? this.#o.runner.run(lines) : this.#runParallel(lines, bulk);
        // Streamed transactions are all in (or failed) before anything else touches nft.
        const results = await Promise.allSettled([main, ...started.map((s) => s.done)]);
        for (const r of results) if (r.status === 'rejected') throw r.reason;
        if (after.length > 0) await this.#o.runner.run(after);
      } catch (err) {
        this.#needFull = true;
        this.#metrics.syncFailed();
        const stderr = err instanceof NftCommandError ? err.stderr : '';
        this.#o.logger.error({ err, operations: lines.length }, 'nftables sync failed; previous rules stay in place');
        throw new NftSyncError(`nftables transaction failed: ${err instanceof Error ? err.message : String(err)}`, stderr, { cause: err });
      }
    }
    const t2 = this.#clock.monotonic();
    this.#needFull = false;
    // A full sync reconciled everything with the kernel: the cleanup starts afresh (a timer
    // armed for a backed-off retry is re-armed below).
    if (this.#cleanupFailures > 0 && work.some((w) => w.mode !== 'partial')) {
      this.#cleanupFailures = 0;
      this.#cleanupTimer?.cancel();
      this.#cleanupTimer = undefined;
    }
    this.#needResync = false;
    for (const w of work) {
      w.plan.commit();
      this.#report(w, (t2 - now) / 1000);
    }
    const t3 = this.#clock.monotonic();
    await this.#cleanup(t3);
    const t4 = this.#clock.monotonic();
    this.#scheduleCleanup();
    const kind: SyncKind = work.some((w) => w.mode !== 'partial') ? 'full' : 'partial';
    this.#metrics.phases?.(kind, {
      render: this.#timing.render / 1000, plan: this.#timing.plan / 1000, kernelRead: this.#timing.kernelRead / 1000,
      apply: (t2 - t1 + this.#timing.apply) / 1000, cleanup: (t4 - t3) / 1000,
    });
    if (this.#o.conntrack) {
      for (const w of work) {
        const filters = planConntrackCleanup(w.snap);
        if (filters.length === 0) continue;
        const n = await runConntrackCleanup(this.#o.conntrack, filters, this.#o.logger);
        this.#metrics.conntrackEntriesDeleted(w.snap.family, n);
      }
    }
  }

  /**
   * A cold start's transaction and its bulk element additions: the tables and containers
   * first, then the main script and the bulk statements spread over parallel nft processes
   * (one per CPU, the main script counting as one), balanced by size. Nothing of ours was in
   * the kernel, so there is no old ruleset that a non-atomic start could break; a failure of
   * any part makes the next sync a rewrite that reconciles with whatever got in.
   */
  async #runParallel(main: readonly string[], bulk: readonly NonNullable<FamilyPlan['bulk']>[]): Promise<void> {
    const prelude = bulk.flatMap((b) => b.prelude);
    if (prelude.length > 0) await this.#o.runner.run(prelude);
    const workers = Math.max(1, Math.min(availableParallelism(), 4));
    let mainSize = 0;
    for (const l of main) mainSize += l.length + 1;
    const groups: { lines: string[]; size: number }[] = [{ lines: [...main], size: mainSize }];
    for (let i = 1; i < workers; i++) groups.push({ lines: [], size: 0 });
    for (const statement of bulk.flatMap((b) => b.statements)) {
      let lightest = groups[0];
      for (const g of groups) if (lightest === undefined || g.size < lightest.size) lightest = g;
      if (lightest === undefined) break;
      lightest.lines.push(statement);
      lightest.size += statement.length + 1;
    }
    await Promise.all(groups.filter((g) => g.lines.length > 0).map((g) => this.#o.runner.run(g.lines)));
  }

  #report(w: FamilyWork, seconds: number): void {
    const s = w.state;
    this.#metrics.synced({
      family: s.family, kind: w.mode === 'partial' ? 'partial' : 'full', durationSeconds: seconds, operations: w.plan.sections.operations,
      chains: s.fixedChains.size + s.chains.size, elements: s.elementCount(), affinitySets: s.affinitySets.size, staleChains: s.staleChains.size,
    });
    this.#metrics.noLocalEndpoints(s.family, 'internal', s.noLocalInternal);
    this.#metrics.noLocalEndpoints(s.family, 'external', s.noLocalExternal);
    this.#o.logger.debug({ family: s.family, mode: w.mode, seconds, shards: s.shards, ...w.plan.stats }, 'nftables sync complete');
  }

  #logSkipped(skipped: readonly SkippedService[]): void {
    for (const sk of skipped) {
      const e = sk.error as Error & { code?: string; field?: string; value?: string };
      this.#o.logger.error({ kind: 'Service', service: sk.serviceKey, portKey: sk.portKey, field: e.field, value: e.value, code: e.code }, 'skipping service: value unsafe for nftables');
    }
  }

  #planPartial(snap: FamilySnapshot, ctx: FamilyContext, state: FamilyState, now: number): FamilyPlan {
    const t0 = this.#clock.monotonic();
    const updates = new Map<string, ServiceFragment | undefined>();
    const skipped: SkippedService[] = [];
    const current = portKeysOfServices(snap, snap.changedServices);
    for (const svc of snap.changedServices) {
      for (const portKey of state.portsByService.get(svc) ?? []) updates.set(portKey, undefined);
      const table = tableFor(svc, state.shards);
      for (const portKey of current.get(svc) ?? []) {
        const r = renderPort(ctx, snap, portKey, this.#deps, table);
        if (r?.ok === true) updates.set(portKey, r.fragment);
        else if (r) skipped.push(r.skipped);
      }
    }
    this.#logSkipped(skipped);
    const t1 = this.#clock.monotonic();
    const plan = planPartial(state, ctx, updates, now);
    const t2 = this.#clock.monotonic();
    this.#timing.render += t1 - t0;
    this.#timing.plan += t2 - t1;
    return plan;
  }

  async #planFull(snap: FamilySnapshot, ctx: FamilyContext, state: FamilyState, now: number, rewrite: boolean): Promise<FamilyPlan> {
    const t0 = this.#clock.monotonic();
    const shards = rewrite ? this.#shardsFor(state, snap) : Math.max(1, state.shards);
    if (rewrite) {
      // Forget names of ports that are gone (the cache only grows between rewrites).
      for (const k of this.#names.keys()) if (!snap.services.has(k)) this.#names.delete(k);
    }
    const t1 = this.#clock.monotonic();
    let kernel: KernelView | undefined;
    const large = Math.max(state.elementCount(), estimatedElements(snap)) >= LARGE_RECORD_ELEMENTS;
    const readDue = rewrite || !large || state.lastKernelReadAt === undefined || now - state.lastKernelReadAt >= (this.#o.kernelReadIntervalMs ?? 600_000);
    if ((this.#o.readKernelOnFullSync ?? true) && readDue) {
      state.lastKernelReadAt = now;
      try {
        kernel = await readKernelView(this.#o.runner, ctx.nft, { elements: !large });
        this.#metrics.kernelRead(snap.family, (this.#clock.monotonic() - t1) / 1000);
      } catch (err) {
        this.#o.logger.warn({ err, family: snap.family }, 'could not read nftables state; reconciling against our own record');
      }
    }
    let t2 = this.#clock.monotonic();
    this.#timing.kernelRead += t2 - t1;
    const tables = renderTables(ctx, shards);
    // A cold start of a large ruleset: its element additions go to nft while the rest is still
    // being planned (nft's parsing of them is most of a cold start's apply; on another CPU it
    // overlaps our rendering). Their tables and containers go in first.
    let stream: ((statements: readonly string[]) => void) | undefined;
    const start = this.#o.runner.start?.bind(this.#o.runner);
    if (start !== undefined && rewrite && kernel !== undefined && kernel.tables.size === 0 && estimatedElements(snap) >= BULK_MIN_ELEMENTS) {
      try {
        await this.#o.runner.run(coldPrelude(ctx.nft, tables));
        // In the background while we plan: on two CPUs, nft gets the one we do not use.
        stream = (statements) => {
          const started = start(statements, { background: true });
          started.done.catch(() => undefined); // awaited in #sync; a failure is reported there
          this.#started.push(started);
        };
      } catch (err) {
        this.#o.logger.warn({ err, family: snap.family }, 'could not create the tables ahead of a cold start; elements go with the main transaction');
      }
      const t = this.#clock.monotonic();
      this.#timing.apply += t - t2;
      t2 = t;
    }
    // Rendered as planned (one fragment alive at a time); the render's share of the time is
    // measured around each port.
    const skipped: SkippedService[] = [];
    let renderMs = 0;
    const clock = this.#clock;
    const rendered = renderFragments(snap, ctx, this.#deps, shards, skipped);
    const fragments = {
      *[Symbol.iterator](): Generator<ServiceFragment> {
        for (;;) {
          const r0 = clock.monotonic();
          const next = rendered.next();
          renderMs += clock.monotonic() - r0;
          if (next.done === true) return;
          yield next.value;
        }
      },
    };
    const plan = planFull(state, {
      ctx, tables, fragments, kernel, rewrite, recreateBaseChains: !state.fullySynced, shards, now, stream,
    });
    this.#logSkipped(skipped);
    this.#timing.render += (t1 - t0) + renderMs;
    this.#timing.plan += this.#clock.monotonic() - t2 - renderMs;
    return plan;
  }

  /**
   * Makes sure what partial syncs left behind is deleted even if no sync comes: a timer runs
   * the cleanup (serialized with syncs) once the oldest leftover is old enough.
   */
  #scheduleCleanup(): void {
    if (this.#cleanupTimer !== undefined || this.#closed) return;
    let oldest: number | undefined;
    for (const s of this.#states.values()) {
      const t = s.oldestStale();
      if (t !== undefined && (oldest === undefined || t < oldest)) oldest = t;
    }
    if (oldest === undefined) return;
    const delay = this.#o.staleChainDelayMs ?? 1000;
    const retry = Math.min(delay * 2 ** this.#cleanupFailures, Math.max(delay, MAX_CLEANUP_RETRY_MS));
    const at = Math.max(oldest + delay, (this.#lastCleanup ?? -Infinity) + retry);
    this.#cleanupTimer = this.#clock.setTimeout(() => {
      this.#cleanupTimer = undefined;
      const next = this.#queue.then(async () => {
        await this.#cleanup(this.#clock.monotonic());
        this.#scheduleCleanup();
      });
      this.#queue = next.catch(() => undefined);
    }, Math.max(0, at - this.#clock.monotonic()));
  }

  /** Deletes what partial syncs left behind, once the oldest of it is old enough. */
  async #cleanup(now: number): Promise<void> {
    const states = [...this.#states.values()];
    const delay = this.#o.staleChainDelayMs ?? 1000;
    const due = states.some((s) => { const t = s.oldestStale(); return t !== undefined && now - t >= delay; });
    if (!due || (this.#lastCleanup !== undefined && now - this.#lastCleanup < delay)) return;
    this.#lastCleanup = now;
    const plans = states.map((s) => planCleanup(s));
    const lines: string[] = [];
    for (const p of plans) for (const l of p.sections.lines()) lines.push(l);
    if (lines.length === 0) {
      for (const p of plans) p.commit();
      return;
    }
    try {
      await this.#o.runner.run(lines);
      for (const p of plans) p.commit();
      this.#cleanupFailures = 0;
      this.#o.logger.debug({ statements: lines.length }, 'deleted stale nftables objects');
    } catch (err) {
      // They stay recorded as stale; the next sync reconciles with the kernel and retries, and
      // so does the timer, less and less often while it keeps failing.
      this.#needResync = true;
      this.#cleanupFailures++;
      this.#metrics.cleanupFailed();
      this.#o.logger.warn({ err, statements: lines.length, failures: this.#cleanupFailures }, 'could not delete stale nftables objects; will reconcile');
    }
  }

  async cleanup(): Promise<void> {
    const tables = Array.from({ length: MAX_SHARD_TABLES }, (_, i) => shardTable(i));
    const script = ['ip', 'ip6'].flatMap((f) => tables.map((t) => `add table ${f} ${t}\ndelete table ${f} ${t}`)).join('\n') + '\n';
    await this.#o.runner.run(script);
    for (const [family, ctx] of this.#contexts) this.#states.set(family, new FamilyState(family, ctx.nft));
    this.#needFull = true;
    this.#cleanupTimer?.cancel();
    this.#cleanupTimer = undefined;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#cleanupTimer?.cancel();
    this.#cleanupTimer = undefined;
    return this.#queue;
  }
}
