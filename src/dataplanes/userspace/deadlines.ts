// Deadlines that all share one duration (every connect attempt of a listener gets the same
// connect timeout), so they expire in the order they were added: a FIFO with one timer
// replaces a timer per connection. Adding is O(1) and allocation-free (parallel arrays);
// cancelling clears the slot so the owner is not kept alive until its deadline; the timer is
// armed for the oldest live deadline, rounded up to `granularityMs` so a busy listener
// handles expiries in batches rather than waking for each one. Expiry is never early, and
// late by at most the granularity.

import type { Clock, Timer } from '../../util/clock.ts';

export class DeadlineQueue<T extends object> {
  readonly durationMs: number;
  readonly #clock: Clock;
  readonly #granularityMs: number;
  readonly #onExpire: (item: T) => void;
  #items: (T | undefined)[] = [];
  #deadlines: number[] = [];
  #head = 0;
  /** Absolute index of #items[0]: tickets stay valid across compactions. */
  #base = 0;
  #live = 0;
  #timer: Timer | undefined;
  #firing = false;

  constructor(clock: Clock, durationMs: number, onExpire: (item: T) => void, granularityMs = Math.min(100, Math.max(1, Math.floor(durationMs / 10)))) {
    this.#clock = clock;
    this.durationMs = durationMs;
    this.#granularityMs = granularityMs;
    this.#onExpire = onExpire;
  }

  /** Deadlines added and neither expired nor cancelled. */
  get size(): number {
    return this.#live;
  }

  /** Start `item`'s deadline now; the ticket cancels it. */
  add(item: T): number {
    this.#items.push(item);
    this.#deadlines.push(this.#clock.monotonic() + this.durationMs);
    this.#live++;
    if (this.#timer === undefined && !this.#firing) this.#arm(this.durationMs);
    return this.#base + this.#items.length - 1;
  }

  /** Cancel the deadline behind `ticket` (a stale or expired ticket is ignored). */
  cancel(ticket: number): void {
    const i = ticket - this.#base;
    if (i < this.#head || i >= this.#items.length || this.#items[i] === undefined) return;
    this.#items[i] = undefined;
    this.#live--;
    if (this.#live === 0) this.#clear();
  }

  /** Drop everything without expiring it. */
  clear(): void {
    this.#clear();
  }

  #clear(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#base += this.#items.length;
    this.#items = [];
    this.#deadlines = [];
    this.#head = 0;
    this.#live = 0;
  }

  #arm(inMs: number): void {
    this.#timer = this.#clock.setTimeout(() => { this.#fire(); }, Math.max(0, inMs) + this.#granularityMs);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firing = true;
    const now = this.#clock.monotonic();
    try {
      // onExpire may add (a retry: pushed behind, due later) or clear (swaps the arrays).
      while (this.#head < this.#items.length && (this.#deadlines[this.#head] ?? 0) <= now) {
        const item = this.#items[this.#head];
        this.#items[this.#head] = undefined;
        this.#head++;
        if (item === undefined) continue;
        this.#live--;
        this.#onExpire(item);
      }
    } finally {
      this.#firing = false;
    }
    const items = this.#items;
    while (this.#head < items.length && items[this.#head] === undefined) this.#head++;
    if (this.#head === items.length) {
      this.#base += items.length;
      this.#items = [];
      this.#deadlines = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#base += this.#head;
      this.#items = items.slice(this.#head);
      this.#deadlines = this.#deadlines.slice(this.#head);
      this.#head = 0;
    }
    this.#arm((this.#deadlines[this.#head] ?? now) - now);
  }
}
