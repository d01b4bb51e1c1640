// Least connections: the eligible endpoint with the fewest outstanding connections. Ties are
// broken by a rotating start, so equally loaded endpoints (e.g. all idle between short
// requests) share the work round-robin instead of the first one taking everything.

import type { Balancer, PickContext } from './balancer.ts';

export class LeastConnectionsBalancer implements Balancer {
  readonly algorithm = 'least-connections' as const;
  #n = 0;
  #start = 0;

  reset(keys: readonly string[]): void {
    this.#n = keys.length;
    this.#start = this.#n === 0 ? 0 : this.#start % this.#n;
  }

  pick(ctx: PickContext): number {
    const n = this.#n;
    let best = -1;
    let bestLoad = Infinity;
    for (let step = 0; step < n; step++) {
      const i = (this.#start + step) % n;
      if (!ctx.eligible(i)) continue;
      const load = ctx.load(i);
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    if (best >= 0) this.#start = (best + 1) % n;
    return best;
  }
}
