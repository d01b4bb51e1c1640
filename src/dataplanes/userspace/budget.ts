// The cap on concurrent connections (TCP connections plus UDP flows) across every listener of
// the dataplane: each costs one or two file descriptors and some memory, so the cap is
// global. Reaching it is logged clearly, then at most once per reportIntervalMs with the
// number refused meanwhile, so a flood cannot flood the log too.

import type { ServicePortName } from '../../model/types.ts';
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/logger.ts';
import type { UserspaceMetrics } from './metrics.ts';

export class ConnectionBudget {
  readonly max: number;
  #active = 0;
  #refusedSinceReport = 0;
  #lastReport = -Infinity;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #metrics: UserspaceMetrics;
  readonly #reportIntervalMs: number;

  constructor(max: number, clock: Clock, logger: Logger, metrics: UserspaceMetrics, reportIntervalMs = 10_000) {
    this.max = max;
    this.#clock = clock;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#reportIntervalMs = reportIntervalMs;
  }

  get active(): number {
    return this.#active;
  }

  /** Take one slot; false (logged, counted) when the cap is reached. */
  acquire(service: ServicePortName): boolean {
    if (this.#active < this.max) {
      this.#active++;
      return true;
    }
    this.#refusedSinceReport++;
    this.#metrics.refused(service, 'connection-limit');
    const now = this.#clock.monotonic();
    if (now - this.#lastReport >= this.#reportIntervalMs) {
      this.#logger.warn(
        { limit: this.max, service: service.key, refused: this.#refusedSinceReport },
        `userspace proxy: connection limit reached (${this.max} concurrent connections and UDP flows); refusing new ones `
        + `(${this.#refusedSinceReport} refused since the last report, latest for ${service.key}); raise the limit or add capacity`,
      );
      this.#lastReport = now;
      this.#refusedSinceReport = 0;
    }
    return false;
  }

  release(): void {
    if (this.#active > 0) this.#active--;
  }
}
