// Balancer factory: one instance per endpoint pool, chosen by the Service's annotation or the
// configured default.

import type { LoadBalancingAlgorithm } from '../../../model/types.ts';
import type { Balancer, Random } from './balancer.ts';
import { LeastConnectionsBalancer } from './least-connections.ts';
import { PowerOfTwoChoicesBalancer } from './power-of-two.ts';
import { RandomBalancer } from './random.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import { SourceHashBalancer } from './source-hash.ts';

export type { Balancer, PickContext, Random } from './balancer.ts';
export { seededRandom } from './random.ts';
export { AffinityTable } from './affinity.ts';
export { PassiveHealth, DEFAULT_BACKOFF, backoffMs, type BackoffPolicy, type HealthRecord } from './health.ts';

export function createBalancer(algorithm: LoadBalancingAlgorithm, random: Random): Balancer {
  switch (algorithm) {
    case 'round-robin': return new RoundRobinBalancer();
    case 'random': return new RandomBalancer(random);
    case 'least-connections': return new LeastConnectionsBalancer();
    case 'power-of-two-choices': return new PowerOfTwoChoicesBalancer(random);
    case 'source-hash': return new SourceHashBalancer();
  }
}
