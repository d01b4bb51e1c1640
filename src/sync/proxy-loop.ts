// The proxy loop: connects the model (ProxyState) to a dataplane through the bounded-frequency
// runner, and reports to health and metrics. This is upstream's syncProxyRules bookkeeping,
// minus the rendering, which lives in the dataplane.
//
// - Every change the model reports queues an update (health, last-queued metric) and asks the
//   runner for a sync; the runner coalesces and rate-limits.
// - Nothing is synced before the initial Service and EndpointSlice lists are complete
//   (k/k #126468: programming early produced "no endpoints" rejects).
// - A failed sync is logged and rethrown so the runner retries with backoff and a full sync;
//   the dataplane keeps its previous programming meanwhile.

import type { Dataplane } from '../dataplanes/dataplane.ts';
import type { FamilySnapshot, IPFamily, NodeInfo } from '../model/types.ts';
import type { Snapshots } from '../model/proxy-state.ts';
import type { ProxyHealth } from '../server/proxy-health.ts';
import type { ProxyMetrics } from '../server/metrics.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { BoundedFrequencyRunner, type SyncContext } from './bounded-frequency-runner.ts';

/** What the loop needs from the model (ProxyState implements it). */
export interface SyncModel {
  readonly synced: boolean;
  takeSnapshots(): Snapshots;
  pending(): { services: number; endpoints: number };
}

export interface ProxyLoopOptions {
  readonly model: SyncModel;
  readonly dataplane: Dataplane;
  readonly families: readonly IPFamily[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly health: ProxyHealth;
  readonly metrics?: ProxyMetrics | undefined;
  readonly minSyncPeriodMs: number;
  readonly syncPeriodMs: number;
  /** Called after every successful sync with its snapshots (tests, status pages). */
  readonly onSynced?: ((families: readonly FamilySnapshot[], full: boolean) => void) | undefined;
  /** Called between taking a sync's snapshots and programming them, with the changes they hold. */
  readonly beforeDataplaneSync?: ((pending: { readonly services: number; readonly endpoints: number }) => void) | undefined;
}

export class ProxyLoop {
  readonly #opts: ProxyLoopOptions;
  readonly #runner: BoundedFrequencyRunner;
  #syncs = 0;
  /** The first real sync (and any after a failure) must be full, whatever the runner says. */
  #fullPending = true;
  /** Wall-clock seconds at which the initial Service and EndpointSlice lists were complete. */
  #initialStateAt: number | undefined;
  #lastQueued = 0;
  #gaugesDue = false;

  constructor(opts: ProxyLoopOptions) {
    this.#opts = opts;
    this.#runner = new BoundedFrequencyRunner({
      name: `${opts.dataplane.mode}-sync`,
      fn: (ctx) => this.#sync(ctx),
      clock: opts.clock,
      minInterval: opts.minSyncPeriodMs,
      maxInterval: opts.syncPeriodMs,
      logger: opts.logger,
    });
  }

  /** Successful syncs so far. */
  get syncCount(): number {
    return this.#syncs;
  }

  /** The model changed: queue an update and ask for a sync. */
  notifyChange(): void {
    const now = this.#opts.clock.now() / 1000;
    for (const family of this.#opts.families) this.#opts.health.queuedUpdate(family);
    this.#lastQueued = now;
    // The gauges once per burst of changes (an initial list is 20k calls in one go; labelled
    // gauge writes were ≈ 50 ms of it), a microtask later.
    if (!this.#gaugesDue) {
      this.#gaugesDue = true;
      queueMicrotask(this.#updateGauges);
    }
    // As upstream (proxier.isInitialized()): no sync is requested before the initial lists are
    // complete. A run made during the initial list would do nothing yet still count against
    // minSyncPeriod, delaying the first real sync by up to that much.
    if (!this.#opts.model.synced) return;
    if (this.#initialStateAt === undefined) {
      this.#initialStateAt = now;
      this.#opts.metrics?.initialStateTimestamp.set(now);
    }
    this.#runner.run();
  }

  readonly #updateGauges = (): void => {
    this.#gaugesDue = false;
    const m = this.#opts.metrics;
    if (m === undefined) return;
    for (const family of this.#opts.families) m.syncProxyRulesLastQueuedTimestamp.set({ ip_family: family }, this.#lastQueued);
    const pending = this.#opts.model.pending();
    m.serviceChangesPending.set(pending.services);
    m.endpointChangesPending.set(pending.endpoints);
  };

  /** Our Node changed (or vanished): health eligibility follows it. */
  notifyNode(node: NodeInfo | undefined): void {
    this.#opts.health.syncNode(node);
  }

  /** Run until the signal aborts. */
  start(signal: AbortSignal): Promise<void> {
    // As upstream: each family counts as updated when its loop starts, so a proxier whose syncs
    // never succeed turns unhealthy after the health timeout.
    for (const family of this.#opts.families) this.#opts.health.updated(family);
    return this.#runner.start(signal);
  }

  async #sync(ctx: SyncContext): Promise<void> {
    const { model, dataplane, clock, logger, metrics, families } = this.#opts;
    if (!model.synced) {
      logger.debug('not syncing: initial Service and EndpointSlice state not complete yet');
      return;
    }
    const pending = model.pending();
    const snapStart = clock.monotonic();
    const snapshots = model.takeSnapshots();
    const snapSeconds = (clock.monotonic() - snapStart) / 1000;
    metrics?.serviceChangesTotal.inc(pending.services);
    metrics?.endpointChangesTotal.inc(pending.endpoints);
    metrics?.serviceChangesPending.set(0);
    metrics?.endpointChangesPending.set(0);
    const full = ctx.full || this.#fullPending || snapshots.topologyChanged;
    this.#fullPending = true;
    metrics?.syncPhaseLast.set({ kind: full ? 'full' : 'partial', phase: 'snapshot' }, snapSeconds);
    metrics?.syncPhaseTotal.inc({ kind: full ? 'full' : 'partial', phase: 'snapshot' }, snapSeconds);
    this.#opts.beforeDataplaneSync?.(pending);
    const started = clock.monotonic();
    // A failure propagates to the runner, which logs it once with the retry delay and makes
    // the next run a full sync; the dataplane keeps its previous programming meanwhile.
    await dataplane.sync({ full, families: snapshots.families });
    this.#fullPending = false;
    const seconds = (clock.monotonic() - started) / 1000;
    const nowMs = clock.now();
    this.#syncs++;
    for (const family of families) {
      metrics?.syncProxyRulesLatency.observe({ ip_family: family }, seconds);
      (full ? metrics?.syncFullProxyRulesLatency : metrics?.syncPartialProxyRulesLatency)?.observe({ ip_family: family }, seconds);
      metrics?.syncProxyRulesLastTimestamp.set({ ip_family: family }, nowMs / 1000);
      for (const t of snapshots.changeTriggerTimes) {
        metrics?.networkProgrammingLatency.observe({ ip_family: family }, Math.max(0, nowMs - t) / 1000);
      }
      this.#opts.health.updated(family);
    }
    const changed = snapshots.families.reduce((n, f) => n + f.changedServices.size, 0);
    logger.debug({ full, seconds, changedServices: changed, reason: ctx.reason }, 'synced');
    this.#opts.onSynced?.(snapshots.families, full);
  }
}
