// Proxy health (upstream pkg/proxy/healthcheck/proxy_health.go, ProxyHealthServer minus the HTTP
// part, which is in health-server.ts). Pure state with an injected clock.
//
// Rules, as upstream:
// - Each IP family's proxier calls queuedUpdate(family) when a change arrives that needs a
//   sync, and updated(family) after a successful sync. The oldest unsynced queued time is kept
//   (later queuedUpdate calls do not move it); updated() clears it.
// - A family is unhealthy when it has an update queued for >= healthTimeout
//   (2 × syncPeriod) without updated(). The proxy is healthy when no family is unhealthy.
// - Only families that have called updated() at least once are judged: before that a family is
//   "starting up" and healthy whatever is queued. Upstream's proxier calls Updated() once when
//   its sync loop starts (so a proxier whose syncs never succeed turns unhealthy after the
//   timeout); the composition root should do the same.
// - lastUpdated is the most recent updated() of any family.
// - Node eligibility (only /healthz uses it): false when our Node is unknown (not yet seen, or
//   deleted), being deleted, or tainted ToBeDeletedByClusterAutoscaler.

import type { Clock } from '../util/clock.ts';
import type { IPFamily, NodeInfo } from '../model/types.ts';

/** The taint the Cluster Autoscaler puts on a node before deleting it. */
export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

/** Health of one family's proxier (upstream ProxierHealth). */
export interface ProxierHealth {
  /** Wall-clock ms of the family's last successful sync. */
  readonly lastUpdated: number;
  readonly healthy: boolean;
}

/** Upstream ProxyHealth, before the HTTP handlers add nodeEligible / rewrite lastUpdated. */
export interface ProxyHealthReport {
  /** True when every family's proxier is healthy (node eligibility not included). */
  readonly healthy: boolean;
  /** Wall-clock ms of the most recent updated() of any family; undefined when none yet. */
  readonly lastUpdated: number | undefined;
  /** Wall-clock ms when the report was made. */
  readonly currentTime: number;
  /** Families that have synced at least once, in IPv4, IPv6 order. */
  readonly status: ReadonlyMap<IPFamily, ProxierHealth>;
}

export interface ProxyHealthOptions {
  readonly clock: Clock;
  /** Milliseconds a queued update may stay unsynced before the proxy is unhealthy. */
  readonly healthTimeout: number;
}

/** Upstream's health timeout for a given sync period: twice the period. */
export function healthTimeoutFor(syncPeriodMs: number): number {
  return 2 * syncPeriodMs;
}

interface Instant {
  /** Wall-clock ms, for reporting. */
  readonly wall: number;
  /** Monotonic ms, for comparing. */
  readonly mono: number;
}

const FAMILY_ORDER: readonly IPFamily[] = ['IPv4', 'IPv6'];

export class ProxyHealth {
  readonly healthTimeout: number;
  readonly #clock: Clock;
  readonly #lastUpdated = new Map<IPFamily, Instant>();
  readonly #oldestPendingQueued = new Map<IPFamily, Instant>();
  #node: NodeInfo | undefined;

  constructor(options: ProxyHealthOptions) {
    if (!Number.isFinite(options.healthTimeout) || options.healthTimeout < 0) {
      throw new RangeError(`healthTimeout must be a finite non-negative number of milliseconds, got ${options.healthTimeout}`);
    }
    this.#clock = options.clock;
    this.healthTimeout = options.healthTimeout;
  }

  #instant(): Instant {
    return { wall: this.#clock.now(), mono: this.#clock.monotonic() };
  }

  /** The family's proxier has synced successfully and reflects the current state. */
  updated(family: IPFamily): void {
    this.#oldestPendingQueued.delete(family);
    this.#lastUpdated.set(family, this.#instant());
  }

  /** The family's proxier received a change it has not synced yet. */
  queuedUpdate(family: IPFamily): void {
    if (!this.#oldestPendingQueued.has(family)) this.#oldestPendingQueued.set(family, this.#instant());
  }

  /** Our Node as last seen; undefined when it is not known (never seen, or deleted). */
  syncNode(node: NodeInfo | undefined): void {
    this.#node = node;
  }

  /** Not being deleted, not tainted for deletion, and known at all. */
  nodeEligible(): boolean {
    const node = this.#node;
    return node !== undefined && !node.deleting && !node.toBeDeletedByAutoscaler;
  }

  /** Proxier health only, ignoring the node (upstream IsHealthy). */
  isHealthy(): boolean {
    return this.health().healthy;
  }

  health(): ProxyHealthReport {
    const now = this.#instant();
    let healthy = true;
    let lastUpdated: number | undefined;
    const status = new Map<IPFamily, ProxierHealth>();
    for (const family of FAMILY_ORDER) {
      const updated = this.#lastUpdated.get(family);
      if (updated === undefined) continue; // starting up: not judged
      if (lastUpdated === undefined || updated.wall > lastUpdated) lastUpdated = updated.wall;
      const queued = this.#oldestPendingQueued.get(family);
      // Healthy while nothing is queued, or while the queued update is not late yet.
      const familyHealthy = queued === undefined || now.mono - queued.mono < this.healthTimeout;
      if (!familyHealthy) healthy = false;
      status.set(family, { lastUpdated: updated.wall, healthy: familyHealthy });
    }
    return { healthy, lastUpdated, currentTime: now.wall, status };
  }
}
