// Everything the userspace dataplane runs for one service port of one family: endpoint state
// shared by its pools, the cluster/local pools, the internal/external routes the listeners
// follow, and the listeners themselves. update() applies a new ServicePort and endpoint list;
// endpoint changes reach the next connection at once, established ones are left alone.

import type { Endpoint, FamilySnapshot, LoadBalancingAlgorithm, ServicePort } from '../../model/types.ts';
import type { CategorizeFn } from '../nftables/categorize.ts';
import type { EntryPlan, ListenSpec } from './entry-points.ts';
import { EndpointPool, EndpointState, type PoolConfig, type PoolDeps } from './pool.ts';
import { PortRoute } from './route.ts';
import type { Element } from './redirect.ts';
import { TcpFrontend, type ForwarderDeps } from './tcp.ts';
import { UdpFrontend } from './udp.ts';

export type Frontend = TcpFrontend | UdpFrontend;

export interface PortRuntimeDeps {
  readonly pool: PoolDeps;
  readonly forwarder: ForwarderDeps;
  readonly categorize: CategorizeFn;
  readonly defaultAlgorithm: LoadBalancingAlgorithm;
  readonly udpIdleTimeoutMs: number;
  readonly isNodeLocal: (ip: string) => boolean;
  /** TCP listeners with SO_REUSEPORT, so serving threads can share their ports (threads/). */
  readonly reusePort?: boolean;
}

export class PortRuntime {
  sp: ServicePort;
  readonly internal: PortRoute;
  readonly external: PortRoute;
  readonly frontends = new Map<string, Frontend>();
  /** Unservable entry points already reported (each is logged once). */
  readonly reported = new Set<string>();
  /** Listen failures already reported, by "listen key|error code". */
  readonly listenErrors = new Set<string>();
  /** Redirect elements programmed for this port, by element id. */
  programmed = new Map<string, Element>();
  plan: EntryPlan | undefined;
  #states = new Map<string, EndpointState>();
  #cluster: EndpointPool | undefined;
  #local: EndpointPool | undefined;
  readonly #deps: PortRuntimeDeps;

  constructor(sp: ServicePort, deps: PortRuntimeDeps) {
    this.sp = sp;
    this.#deps = deps;
    this.internal = new PortRoute(sp.name, 'internal', deps.isNodeLocal);
    this.external = new PortRoute(sp.name, 'external', deps.isNodeLocal);
  }

  get cluster(): EndpointPool | undefined {
    return this.#cluster;
  }

  get local(): EndpointPool | undefined {
    return this.#local;
  }

  /** Endpoint runtime state by key (for tests and debugging). */
  endpointState(key: string): EndpointState | undefined {
    return this.#states.get(key);
  }

  /** New ServicePort and endpoints: pools and routes change now, listeners in the caller. */
  update(sp: ServicePort, endpoints: readonly Endpoint[], snap: Pick<FamilySnapshot, 'nodeName' | 'nodeLabels'>): void {
    this.sp = sp;
    const cat = this.#deps.categorize(endpoints, sp, snap.nodeName, snap.nodeLabels);
    const states = new Map<string, EndpointState>();
    const alive = new Set<string>();
    for (const ep of endpoints) {
      states.set(ep.key, this.#states.get(ep.key) ?? new EndpointState(ep));
      if (ep.ready || ep.serving) alive.add(ep.key);
    }
    this.#states = states;
    const stateList = (eps: readonly Endpoint[]): EndpointState[] => eps.map((ep) => states.get(ep.key) ?? new EndpointState(ep));
    const base = { algorithm: sp.loadBalancingAlgorithm ?? this.#deps.defaultAlgorithm, sessionAffinity: sp.sessionAffinity };
    this.#cluster = this.#pool(this.#cluster, 'cluster', cat.clusterEndpoints, stateList, { ...base, emptyAction: 'reject' });
    // Local policy with endpoints elsewhere but none here: drop rather than reject.
    this.#local = this.#pool(this.#local, 'local', cat.localEndpoints, stateList, { ...base, emptyAction: cat.hasAnyEndpoints ? 'drop' : 'reject' });
    this.internal.pool = sp.internalPolicyLocal ? this.#local : this.#cluster;
    this.external.pool = sp.externalPolicyLocal ? this.#local : this.#cluster;
    this.external.localClientPool = sp.externalPolicyLocal ? this.#cluster : undefined;
    this.internal.alive = alive;
    this.external.alive = alive;
  }

  #pool(current: EndpointPool | undefined, kind: 'cluster' | 'local', eps: readonly Endpoint[] | undefined,
    stateList: (eps: readonly Endpoint[]) => EndpointState[], config: PoolConfig): EndpointPool | undefined {
    if (eps === undefined) return undefined;
    const pool = current ?? new EndpointPool(this.sp.name, kind, this.#deps.pool, config);
    pool.update(stateList(eps), config);
    return pool;
  }

  /** A listener for `spec`, not yet listening. */
  createFrontend(spec: ListenSpec): Frontend {
    const route = spec.kind === 'internal' ? this.internal : this.external;
    if (this.sp.protocol === 'UDP') return new UdpFrontend(spec.host, spec.port, route, this.#deps.forwarder, this.#deps.udpIdleTimeoutMs);
    return new TcpFrontend(spec.host, spec.port, route, this.#deps.forwarder, this.#deps.reusePort === true);
  }

  /** The bound port of the listener serving `kind` in redirect mode, if it is up. */
  listenerPort(kind: 'internal' | 'external'): number | undefined {
    for (const [key, f] of this.frontends) if (key.startsWith(`${kind}|`) && f.port !== 0) return f.port;
    return undefined;
  }

  /** The key of the listener serving `kind` in redirect mode, if it is up. */
  listenerKey(kind: 'internal' | 'external'): string | undefined {
    for (const [key, f] of this.frontends) if (key.startsWith(`${kind}|`) && f.port !== 0) return key;
    return undefined;
  }

  /** Connections and flows currently open through this port's listeners. */
  get activeConnections(): number {
    let n = 0;
    for (const f of this.frontends.values()) n += f instanceof TcpFrontend ? f.activeConnections : f.activeFlows;
    return n;
  }
}

/**
 * Listeners taken out of service (their service port or entry point went away) stop accepting
 * at once while their established TCP connections drain. They are kept here until those
 * connections end, so that closing the dataplane (shutdown) closes them too: a drained
 * connection left open would keep the process from exiting on SIGTERM.
 */
export class RetiredFrontends {
  readonly #draining = new Set<TcpFrontend>();

  /** Frontends still draining connections. */
  get size(): number {
    return this.#draining.size;
  }

  /** Stop `f` accepting; its connections carry on until they end or closeAll(). */
  async retire(f: Frontend): Promise<void> {
    await f.close(true);
    if (!(f instanceof TcpFrontend) || f.activeConnections === 0) return;
    this.#draining.add(f);
    void f.drained().then(() => { this.#draining.delete(f); });
  }

  /** Close every draining connection; resolves with the frontends that were draining. */
  async closeAll(): Promise<TcpFrontend[]> {
    const all = [...this.#draining];
    this.#draining.clear();
    await Promise.all(all.map((f) => f.close(false)));
    return all;
  }
}
