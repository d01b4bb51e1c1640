// Passive health: an endpoint we failed to connect to is kept out of rotation for a short
// interval that doubles with each consecutive failure (base, 2·base, 4·base, … up to max);
// one successful connection clears it. Nothing is probed: only real traffic is evidence.
// When every endpoint is in backoff the pool tries them anyway (see ../pool.ts): refusing
// outright would turn a brief outage into a longer one.

import type { Clock } from '../../../util/clock.ts';

export interface BackoffPolicy {
  /** First interval after a failure; default 1000 ms. */
  readonly baseMs: number;
  /** Upper bound of the interval; default 30 000 ms. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

/** The health-related part of an endpoint's runtime state. */
export interface HealthRecord {
  /** Consecutive connect failures. */
  failures: number;
  /** Monotonic ms until which the endpoint is out of rotation (0: in rotation). */
  backoffUntil: number;
}

/** Backoff after the `failures`-th consecutive failure (failures ≥ 1). */
export function backoffMs(policy: BackoffPolicy, failures: number): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(policy.baseMs * 2 ** exp, policy.maxMs);
}

export class PassiveHealth {
  readonly policy: BackoffPolicy;
  readonly #clock: Clock;

  constructor(clock: Clock, policy: BackoffPolicy = DEFAULT_BACKOFF) {
    this.#clock = clock;
    this.policy = policy;
  }

  /** A connect attempt failed: returns the interval the endpoint now sits out. */
  failed(r: HealthRecord): number {
    r.failures++;
    const ms = backoffMs(this.policy, r.failures);
    r.backoffUntil = this.#clock.monotonic() + ms;
    return ms;
  }

  succeeded(r: HealthRecord): void {
    r.failures = 0;
    r.backoffUntil = 0;
  }

  available(r: HealthRecord): boolean {
    return r.backoffUntil === 0 || this.#clock.monotonic() >= r.backoffUntil;
  }
}
