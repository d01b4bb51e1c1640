// Recent events of one resource, so a watch can start from a past resourceVersion. Events with
// rv > startRV are all retained; a watch from an older rv gets "410 Expired". Bounded by count
// and by bytes (of the events' JSON), whichever is reached first.

import type { StoreEvent } from '../storage/store.ts';

export class History {
  private events: StoreEvent[] = [];
  private head = 0;
  private start: number;
  private readonly limit: number;
  private readonly maxBytes: number;
  private bytes = 0;

  constructor(startRV: number, limit: number, maxBytes = Number.POSITIVE_INFINITY) {
    this.start = startRV;
    this.limit = Math.max(1, limit);
    this.maxBytes = maxBytes;
  }

  /** Every event with rv > startRV is retained. */
  get startRV(): number {
    return this.start;
  }

  get size(): number {
    return this.events.length - this.head;
  }

  push(ev: StoreEvent): void {
    this.events.push(ev);
    this.bytes += ev.object.json.length;
    while (this.events.length - this.head > 1 && (this.events.length - this.head > this.limit || this.bytes > this.maxBytes)) {
      const dropped = this.events[this.head];
      this.head++;
      if (dropped) {
        this.start = dropped.rv;
        this.bytes -= dropped.object.json.length;
      }
    }
    if (this.head > 1024 && this.head > this.events.length / 2) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** Events with rv > `rv`, or undefined when some of them are no longer retained. */
  since(rv: number): StoreEvent[] | undefined {
    if (rv < this.start) return undefined;
    // Binary search for the first event with rv > `rv`.
    let lo = this.head;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.events[mid];
      if (e && e.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }

  /** Forgets everything up to `rv` (compaction). */
  compact(rv: number): void {
    this.events = this.events.filter((e, i) => i >= this.head && e.rv > rv);
    this.head = 0;
    this.bytes = this.events.reduce((n, e) => n + e.object.json.length, 0);
    this.start = Math.max(this.start, rv);
  }
}
