// Power of two choices: draw two distinct eligible endpoints at random and take the one with
// fewer outstanding connections (the first drawn on a tie). Nearly as even as least
// connections, without scanning every endpoint and without herding onto one idle endpoint.

import type { Balancer, PickContext, Random } from './balancer.ts';
import { randomEligible } from './balancer.ts';

export class PowerOfTwoChoicesBalancer implements Balancer {
  readonly algorithm = 'power-of-two-choices' as const;
  readonly #random: Random;
  #n = 0;

  constructor(random: Random) {
    this.#random = random;
  }

  reset(keys: readonly string[]): void {
    this.#n = keys.length;
  }

  pick(ctx: PickContext): number {
    const a = randomEligible(this.#random, this.#n, ctx);
    if (a < 0) return -1;
    const b = randomEligible(this.#random, this.#n, ctx, a);
    if (b < 0) return a;
    return ctx.load(b) < ctx.load(a) ? b : a;
  }
}
