// An endpoint pool: the endpoints one class of traffic of one service port may use (the
// "cluster" or the "local" set from categorizeEndpoints), with the balancer, session affinity
// and passive health around it. Forwarders call pick() once per new connection or flow (and
// again, excluding what failed, on a connect failure).

import type { Endpoint, LoadBalancingAlgorithm, ServicePortName, SessionAffinity } from '../../model/types.ts';
import type { Clock } from '../../util/clock.ts';
import { AffinityTable, createBalancer, type Balancer, type HealthRecord, type PassiveHealth, type PickContext, type Random } from './balancers/index.ts';
import type { UserspaceMetrics } from './metrics.ts';

/**
 * Runtime state of one endpoint of one service port, shared by its pools: outstanding
 * connections (what least-connections and power-of-two-choices read) and health.
 */
export class EndpointState implements HealthRecord {
  readonly key: string;
  readonly ip: string;
  readonly port: number;
  active = 0;
  selections = 0;
  failures = 0;
  backoffUntil = 0;

  constructor(ep: Pick<Endpoint, 'key' | 'ip' | 'port'>) {
    this.key = ep.key;
    this.ip = ep.ip;
    this.port = ep.port;
  }
}

/** What the dataplane does with traffic when the pool is empty (as upstream). */
export type EmptyAction = 'reject' | 'drop';

export interface PoolDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly health: PassiveHealth;
  readonly metrics: UserspaceMetrics;
}

export interface PoolConfig {
  readonly algorithm: LoadBalancingAlgorithm;
  readonly sessionAffinity: SessionAffinity;
  readonly emptyAction: EmptyAction;
}

/** The PickContext handed to balancers; mutable so a pick allocates nothing. */
class Picker implements PickContext {
  client = '';
  states: readonly EndpointState[] = [];
  tried: ReadonlySet<EndpointState> | undefined;
  checkHealth = true;
  readonly #health: PassiveHealth;
  constructor(health: PassiveHealth) {
    this.#health = health;
  }
  eligible(i: number): boolean {
    const s = this.states[i];
    if (s === undefined || this.tried?.has(s) === true) return false;
    return !this.checkHealth || this.#health.available(s);
  }
  load(i: number): number {
    return this.states[i]?.active ?? 0;
  }
}

export class EndpointPool {
  readonly name: ServicePortName;
  readonly kind: 'cluster' | 'local';
  emptyAction: EmptyAction = 'reject';
  readonly #deps: PoolDeps;
  #states: readonly EndpointState[] = [];
  #index = new Map<string, number>();
  #balancer: Balancer;
  #affinity: AffinityTable | undefined;
  readonly #picker: Picker;

  constructor(name: ServicePortName, kind: 'cluster' | 'local', deps: PoolDeps, config: PoolConfig) {
    this.name = name;
    this.kind = kind;
    this.#deps = deps;
    this.#picker = new Picker(deps.health);
    this.#balancer = createBalancer(config.algorithm, deps.random);
    this.update([], config);
  }

  get size(): number {
    return this.#states.length;
  }

  get algorithm(): LoadBalancingAlgorithm {
    return this.#balancer.algorithm;
  }

  /** Whether pick() looks at the client address (session affinity, source hashing). */
  get needsClientIP(): boolean {
    return this.#affinity !== undefined || this.#balancer.algorithm === 'source-hash';
  }

  /** Endpoint keys in pick order (for tests and debugging). */
  get keys(): string[] {
    return this.#states.map((s) => s.key);
  }

  has(key: string): boolean {
    return this.#index.has(key);
  }

  /** New endpoint list or configuration; applies to the next pick. */
  update(states: readonly EndpointState[], config: PoolConfig): void {
    this.emptyAction = config.emptyAction;
    const changed = states.length !== this.#states.length || states.some((s, i) => s !== this.#states[i]);
    const algorithmChanged = config.algorithm !== this.#balancer.algorithm;
    if (algorithmChanged) this.#balancer = createBalancer(config.algorithm, this.#deps.random);
    const sa = config.sessionAffinity;
    if (sa.type === 'None') {
      this.#affinity = undefined;
    } else if (this.#affinity?.timeoutMs !== sa.timeoutSeconds * 1000) {
      this.#affinity = new AffinityTable(sa.timeoutSeconds, this.#deps.clock);
    }
    if (!changed && !algorithmChanged) return;
    const index = new Map<string, number>();
    states.forEach((s, i) => index.set(s.key, i));
    if (changed && this.#affinity !== undefined) {
      // Affinity to an endpoint this pool no longer uses is dropped, as upstream drops the
      // endpoint's affinity set: if it comes back, its clients are balanced afresh.
      const gone = new Set<string>();
      for (const s of this.#states) if (!index.has(s.key)) gone.add(s.key);
      this.#affinity.dropEndpoints(gone);
    }
    this.#states = states;
    this.#index = index;
    this.#balancer.reset(states.map((s) => s.key));
  }

  /**
   * Choose an endpoint for a new connection from `client` (its IP), skipping `tried`.
   * Affinity first (if its endpoint is still usable), then the balancer over endpoints not in
   * backoff, then — when all of those are in backoff — over all untried endpoints.
   */
  pick(client: string, tried?: ReadonlySet<EndpointState>): EndpointState | undefined {
    const p = this.#picker;
    p.client = client;
    p.states = this.#states;
    p.tried = tried;
    p.checkHealth = true;
    const affinity = this.#affinity;
    let i = -1;
    if (affinity !== undefined) {
      const key = affinity.lookup(client);
      const at = key === undefined ? undefined : this.#index.get(key);
      if (at !== undefined && p.eligible(at)) i = at;
      else if (key !== undefined) affinity.forget(client);
    }
    if (i < 0) i = this.#balancer.pick(p);
    if (i < 0) {
      p.checkHealth = false;
      i = this.#balancer.pick(p);
    }
    p.tried = undefined;
    const s = this.#states[i];
    if (s === undefined) return undefined;
    affinity?.record(client, s.key);
    s.selections++;
    this.#deps.metrics.endpointSelected(this.name, s.key);
    return s;
  }

  /** Affinity entries held (for tests). */
  get affinityEntries(): number {
    return this.#affinity?.size ?? 0;
  }
}
