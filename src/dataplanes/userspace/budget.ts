// The cap on concurrent connections (TCP connections plus UDP flows) across every listener of
// the dataplane: each costs one or two file descriptors and some memory, so the cap is
// global. Reaching it is logged clearly, then at most once per reportIntervalMs with the
// number refused meanwhile, so a flood cannot flood the log too. With serving threads
// (threads/) every thread's budget counts in one shared cell (a SharedArrayBuffer, Atomics),
// so the cap stays global; each thread rate-limits its own log line.

import type { ServicePortName } from '../../model/types.ts';
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/logger.ts';
import type { UserspaceMetrics } from './metrics.ts';

/** One Int32 cell for the active count; shared between threads when backed by a SharedArrayBuffer. */
export function budgetCell(shared: boolean): Int32Array {
  return new Int32Array(shared ? new SharedArrayBuffer(4) : new ArrayBuffer(4));
}

export class ConnectionBudget {
  readonly max: number;
  readonly #cell: Int32Array;
  #refusedSinceReport = 0;
  #lastReport = -Infinity;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #metrics: UserspaceMetrics;
  readonly #reportIntervalMs: number;

  constructor(max: number, clock: Clock, logger: Logger, metrics: UserspaceMetrics, reportIntervalMs = 10_000, cell: Int32Array = budgetCell(false)) {
    this.max = max;
    this.#cell = cell;
    this.#clock = clock;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#reportIntervalMs = reportIntervalMs;
  }

  get active(): number {
    return Atomics.load(this.#cell, 0);
  }

  /** Take one slot; false (logged, counted) when the cap is reached. */
  acquire(service: ServicePortName): boolean {
    if (Atomics.add(this.#cell, 0, 1) < this.max) return true;
    Atomics.sub(this.#cell, 0, 1);
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
    if (Atomics.sub(this.#cell, 0, 1) <= 0) Atomics.add(this.#cell, 0, 1);
  }
}
