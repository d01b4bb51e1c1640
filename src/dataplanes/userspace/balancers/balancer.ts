// What every balancing algorithm implements. Balancers are pure decision logic over an
// endpoint list: no sockets, no clock; randomness is injected (./random.ts) so tests can seed
// it. Session affinity (./affinity.ts) and passive health (./health.ts) sit around them, in
// the pool (../pool.ts), so every algorithm gets both.

import type { LoadBalancingAlgorithm } from '../../../model/types.ts';

/** What a balancer may ask about the endpoints while picking one. */
export interface PickContext {
  /** The client's IP address: the key of source-hash. */
  readonly client: string;
  /** Whether endpoint `i` may be chosen now (not in backoff, not already tried). */
  eligible(i: number): boolean;
  /** Outstanding connections (or UDP flows) of endpoint `i`. */
  load(i: number): number;
}

export interface Balancer {
  readonly algorithm: LoadBalancingAlgorithm;
  /**
   * The endpoint list changed. `keys` ("ip:port", in the model's stable order) are what the
   * indexes of later picks refer to; state tied to a kept key survives where it matters.
   */
  reset(keys: readonly string[]): void;
  /** Index of the chosen endpoint, or -1 when none is eligible. */
  pick(ctx: PickContext): number;
}

/** A source of uniform floats in [0, 1): Math.random in production, a seeded PRNG in tests. */
export type Random = () => number;

/** Uniform integer in [0, n). */
export function randomIndex(random: Random, n: number): number {
  const i = Math.floor(random() * n);
  return i < n ? i : n - 1;
}

/**
 * A uniformly random eligible index out of `n`, or -1. One draw when the first guess is
 * eligible (the common case: nothing excluded); otherwise a draw among the eligible ones, so
 * exclusions do not skew the distribution towards an excluded endpoint's neighbour.
 */
export function randomEligible(random: Random, n: number, ctx: PickContext, skip = -1): number {
  if (n === 0) return -1;
  const guess = randomIndex(random, n);
  if (guess !== skip && ctx.eligible(guess)) return guess;
  let count = 0;
  for (let i = 0; i < n; i++) if (i !== skip && ctx.eligible(i)) count++;
  if (count === 0) return -1;
  let k = randomIndex(random, count);
  for (let i = 0; i < n; i++) {
    if (i === skip || !ctx.eligible(i)) continue;
    if (k === 0) return i;
    k--;
  }
  return -1;
}
