// A manually driven Clock for tests: time only moves when the test calls advance(). Timers fire
// in due order (ties in the order they were set), and pending promises are given the chance to
// settle after each one, so async code driven by timers (runners, retries) completes between
// steps without any real sleep.

import type { Clock, Timer } from '../../src/util/clock.ts';

interface PendingTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/** 2024-01-01T00:00:00Z: a fixed, readable epoch for wall-clock assertions. */
export const FAKE_EPOCH_MS = Date.UTC(2024, 0, 1, 0, 0, 0, 0);

export class FakeClock implements Clock {
  /** Guard against timers that keep re-arming themselves at the same instant. */
  static readonly MAX_FIRINGS_PER_ADVANCE = 100_000;
  #elapsed = 0;
  readonly #wallStart: number;
  readonly #monotonicStart: number;
  #nextId = 1;
  #timers: PendingTimer[] = [];

  /**
   * @param wallStartMs wall-clock time (ms since the epoch) at creation.
   * @param monotonicStartMs monotonic reading at creation (deliberately not 0, so code that
   *   treats 0 as "unset" is caught).
   */
  constructor(wallStartMs: number = FAKE_EPOCH_MS, monotonicStartMs = 1_000_000) {
    this.#wallStart = wallStartMs;
    this.#monotonicStart = monotonicStartMs;
  }

  now(): number {
    return this.#wallStart + this.#elapsed;
  }

  monotonic(): number {
    return this.#monotonicStart + this.#elapsed;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: PendingTimer = { id: this.#nextId++, due: this.#elapsed + delay, fn };
    this.#timers.push(timer);
    return {
      cancel: () => {
        this.#timers = this.#timers.filter((t) => t.id !== timer.id);
      },
    };
  }

  /** Number of timers set and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Milliseconds until the next timer is due, or undefined when none is pending. */
  nextTimerIn(): number | undefined {
    const next = this.#earliest();
    return next === undefined ? undefined : next.due - this.#elapsed;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way (including timers
   * set by the fired callbacks), each at its own due time, and letting promises settle after
   * each. `advance(0)` fires timers that are already due.
   */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(${ms}): must be a finite, non-negative number`);
    const target = this.#elapsed + ms;
    await this.settle();
    for (let fired = 0; ; fired++) {
      const next = this.#earliest();
      if (next === undefined || next.due > target) break;
      if (fired >= FakeClock.MAX_FIRINGS_PER_ADVANCE) {
        throw new Error(`FakeClock.advance(${ms}): more than ${FakeClock.MAX_FIRINGS_PER_ADVANCE} timers fired; a timer probably re-arms itself with no delay`);
      }
      this.#timers = this.#timers.filter((t) => t.id !== next.id);
      this.#elapsed = next.due;
      next.fn();
      await this.settle();
    }
    this.#elapsed = target;
    await this.settle();
  }

  /**
   * Let pending promise chains run to completion: each round waits for a macrotask turn, by
   * which time the whole microtask queue has drained. A few rounds cover code that itself
   * hops through setImmediate.
   */
  async settle(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await new Promise<void>((resolve) => {
        setImmediate(resolve);
      });
    }
  }

  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    }
    return best;
  }
}
