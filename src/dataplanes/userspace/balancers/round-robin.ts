// Round robin: endpoints in turn, skipping ineligible ones. Over k·N picks with nothing
// excluded, every endpoint is picked exactly k times.

import type { Balancer, PickContext } from './balancer.ts';

export class RoundRobinBalancer implements Balancer {
  readonly algorithm = 'round-robin' as const;
  #keys: readonly string[] = [];
  #next = 0;

  reset(keys: readonly string[]): void {
    // Carry on after the endpoint picked last, if it is still there; else from its slot.
    const last = this.#keys[(this.#next + this.#keys.length - 1) % Math.max(1, this.#keys.length)];
    this.#keys = keys;
    const at = last === undefined ? -1 : keys.indexOf(last);
    this.#next = keys.length === 0 ? 0 : (at >= 0 ? at + 1 : this.#next) % keys.length;
  }

  pick(ctx: PickContext): number {
    const n = this.#keys.length;
    for (let step = 0; step < n; step++) {
      const i = (this.#next + step) % n;
      if (ctx.eligible(i)) {
        this.#next = (i + 1) % n;
        return i;
      }
    }
    return -1;
  }
}
