// Session affinity (sessionAffinity: ClientIP): a client IP keeps going to the endpoint it
// was last sent to while it comes back within the timeout. Each use refreshes the entry (as
// nftables' `update @affinity-… { ip saddr }` and iptables' `recent --set` do). Entries sit in
// a Map in last-use order (a refresh re-inserts), so expired entries are always at the front
// and are swept in amortised O(1) per use: memory is bounded by the clients seen within one
// timeout.

import type { Clock } from '../../../util/clock.ts';

interface Entry {
  readonly endpoint: string;
  readonly lastUsed: number;
}

export class AffinityTable {
  readonly timeoutMs: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(timeoutSeconds: number, clock: Clock) {
    this.timeoutMs = timeoutSeconds * 1000;
    this.#clock = clock;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The client's endpoint key if its entry has not expired; an expired entry is dropped. */
  lookup(client: string): string | undefined {
    const e = this.#entries.get(client);
    if (e === undefined) return undefined;
    if (this.#clock.monotonic() - e.lastUsed >= this.timeoutMs) {
      this.#entries.delete(client);
      return undefined;
    }
    return e.endpoint;
  }

  /** Record (or refresh) that `client` was sent to `endpoint` now. */
  record(client: string, endpoint: string): void {
    const now = this.#clock.monotonic();
    this.#entries.delete(client);
    this.#entries.set(client, { endpoint, lastUsed: now });
    this.#sweep(now);
  }

  /** Forget one client's entry (its endpoint turned out to be unusable). */
  forget(client: string): void {
    this.#entries.delete(client);
  }

  /** Drop every entry that points at one of `endpoints` (they are no longer usable). */
  dropEndpoints(endpoints: ReadonlySet<string>): void {
    if (endpoints.size === 0) return;
    for (const [client, e] of this.#entries) if (endpoints.has(e.endpoint)) this.#entries.delete(client);
  }

  #sweep(now: number): void {
    for (const [client, e] of this.#entries) {
      if (now - e.lastUsed < this.timeoutMs) return;
      this.#entries.delete(client);
    }
  }
}
