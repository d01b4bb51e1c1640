// Randomness for balancers: a small seeded PRNG for reproducible tests and simulations, and
// the uniform-random algorithm itself.

import type { Balancer, PickContext, Random } from './balancer.ts';
import { randomEligible } from './balancer.ts';

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 128 bits of state, passes
 * PractRand, and is plenty for load balancing. Seeded via splitmix32 so nearby seeds give
 * unrelated streams.
 */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** Each pick is an independent uniform draw over the eligible endpoints. */
export class RandomBalancer implements Balancer {
  readonly algorithm = 'random' as const;
  readonly #random: Random;
  #n = 0;

  constructor(random: Random) {
    this.#random = random;
  }

  reset(keys: readonly string[]): void {
    this.#n = keys.length;
  }

  pick(ctx: PickContext): number {
    return randomEligible(this.#random, this.#n, ctx);
  }
}
