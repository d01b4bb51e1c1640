// The userspace dataplane (--proxy-mode=userspace): kube-proxy-ts accepts each service port's
// connections and datagrams itself and forwards them to an endpoint it picks (balancers/).
// With a redirect runner (root), nftables steers ClusterIPs, NodePorts, externalIPs and LB IPs
// to our listeners (redirect.ts); without, only addresses of this node can be listened on
// (entry-points.ts). See README.md.

import type { Dataplane, SyncRequest } from '../dataplane.ts';
import type { FamilySnapshot, IPFamily, LoadBalancingAlgorithm, ServiceKey } from '../../model/types.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/logger.ts';
import { categorizeEndpoints, type CategorizeFn } from '../nftables/categorize.ts';
import type { NodePortAddresses } from '../nftables/options.ts';
import type { NftRunner } from '../nftables/runner.ts';
import type { Conntrack, ConntrackFilter } from '../conntrack/conntrack.ts';
import { runConntrackCleanup } from '../conntrack/cleanup.ts';
import { DEFAULT_BACKOFF, PassiveHealth, type BackoffPolicy, type Random } from './balancers/index.ts';
import { budgetCell, ConnectionBudget } from './budget.ts';
import { planEntryPoints, type ListenSpec } from './entry-points.ts';
import { FamilyRuntime, resolveFamilyEntryOptions, type ThreadPorts } from './family.ts';
import { noopUserspaceMetrics, type UserspaceMetrics } from './metrics.ts';
import { PortRuntime, RetiredFrontends, type Frontend, type PortRuntimeDeps } from './port-runtime.ts';
import { nftFamily, parseRedirectPorts, renderCleanup, renderHoldProbe, USERSPACE_TABLE } from './redirect.ts';
import { TcpFrontend, type ForwarderSettings } from './tcp.ts';
import { ServingThreads, type ServeListen, type ThreadInit } from './threads/serving-threads.ts';

export interface UserspaceDataplaneOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Default balancing algorithm; a Service's annotation overrides it. Default round-robin. */
  readonly algorithm?: LoadBalancingAlgorithm;
  /**
   * nftables redirect of every entry point to our listeners (needs root); off when undefined.
   * `conntrack`: deletes the entries of UDP flows a previous process's redirect left pointing
   * at a listener port we could not take again (README "Restarts").
   */
  readonly redirect?: { readonly runner: NftRunner; readonly conntrack?: Conntrack | undefined } | undefined;
  /** The node's IPs, primary first within each family. */
  readonly nodeIPs?: readonly string[];
  /** Where NodePorts are accepted (as in nftables mode); default the primary node IPs. */
  readonly nodePortAddresses?: NodePortAddresses;
  /** Addresses on this node's interfaces (default nodeIPs). */
  readonly localAddresses?: readonly string[];
  /** Redirect mode: the address listeners bind per family (default 0.0.0.0 and ::). */
  readonly listenHost?: Partial<Record<IPFamily, string>>;
  /** Concurrent TCP connections plus UDP flows, all services together; default 16384. */
  readonly maxConnections?: number;
  /** Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Endpoints tried per connection; default 3. */
  readonly maxConnectAttempts?: number;
  /** TCP connections idle both ways this long are closed; default 24 h (as kube-proxy's conntrack tcpEstablishedTimeout); 0 disables. */
  readonly idleTimeoutMs?: number;
  /** UDP flows idle this long are closed; default 30 s (kube-proxy's conntrack udpTimeout). */
  readonly udpIdleTimeoutMs?: number;
  /** Passive health backoff; default 1 s doubling up to 30 s. */
  readonly backoff?: BackoffPolicy;
  readonly metrics?: UserspaceMetrics;
  /** Randomness of the random and power-of-two-choices balancers (default Math.random). */
  readonly random?: Random;
  readonly categorize?: CategorizeFn;
  /**
   * Threads accepting and forwarding TCP connections, the main thread included (default 1:
   * everything on the main thread). With more, in redirect mode every thread (worker_threads)
   * has listener ports of its own and nftables hands new connections to the threads round
   * robin; without redirect, every TCP listener is opened with SO_REUSEPORT and the extra
   * threads listen on the same ports (the kernel hashes each connection to one of them).
   * Ports with session affinity, and UDP, stay on the main thread.
   * Serving threads use the system clock, Math.random and the default categorisation whatever
   * `clock`, `random` and `categorize` say. See README "Serving threads".
   */
  readonly threads?: number;
}

/** How often serving threads report their metrics to the main thread. */
const THREAD_METRICS_INTERVAL_MS = 250;

/** A sync failed (nftables refused the redirect transaction); the previous redirects stay. */
export class UserspaceSyncError extends Error {
  readonly code = 'USERSPACE_SYNC_FAILED';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UserspaceSyncError';
  }
}

/** Most new entry points in one sync for which flows tracked before their redirect are deleted (#deleteUnNATed). */
const UNNATED_CLEANUP_MAX = 64;

export class UserspaceDataplane implements Dataplane {
  readonly mode = 'userspace' as const;
  readonly #o: UserspaceDataplaneOptions;
  readonly #logger: Logger;
  readonly #families = new Map<IPFamily, FamilyRuntime>();
  readonly #deps: PortRuntimeDeps;
  #needFull = true;
  /** Redirect mode: the previous process's listener ports were read back (once, before the first full sync). */
  #readBack = false;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #threadCount: number;
  readonly #threadInit: ThreadInit | undefined;
  #threads: ServingThreads | undefined;
  /** Listeners no longer wanted whose connections are still draining (closed by close()). */
  readonly #retired = new RetiredFrontends();

  constructor(options: UserspaceDataplaneOptions) {
    this.#o = options;
    this.#logger = options.logger;
    const clock = options.clock ?? systemClock;
    const metrics = options.metrics ?? noopUserspaceMetrics;
    const health = new PassiveHealth(clock, options.backoff ?? DEFAULT_BACKOFF);
    const settings: ForwarderSettings = {
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      idleTimeoutMs: options.idleTimeoutMs ?? 86_400_000,
      maxConnectAttempts: Math.max(1, options.maxConnectAttempts ?? 3),
    };
    this.#threadCount = Math.max(1, Math.floor(options.threads ?? 1));
    const shared = this.#threadCount > 1;
    const cell = budgetCell(shared);
    const maxConnections = options.maxConnections ?? 16_384;
    const budget = new ConnectionBudget(maxConnections, clock, options.logger, metrics, 10_000, cell);
    const local = new Set([...(options.nodeIPs ?? []), ...(options.localAddresses ?? [])]);
    const isNodeLocal = (ip: string): boolean => local.has(ip) || ip.startsWith('127.') || ip === '::1';
    this.#deps = {
      pool: { clock, random: options.random ?? Math.random, health, metrics },
      forwarder: { clock, logger: options.logger, metrics, budget, health, settings },
      categorize: options.categorize ?? categorizeEndpoints,
      defaultAlgorithm: options.algorithm ?? 'round-robin',
      udpIdleTimeoutMs: options.udpIdleTimeoutMs ?? 30_000,
      isNodeLocal,
      reusePort: shared,
    };
    this.#threadInit = shared ? {
      settings,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      maxConnections,
      budgetCell: cell,
      localAddresses: [...local],
      defaultAlgorithm: options.algorithm ?? 'round-robin',
      metricsIntervalMs: THREAD_METRICS_INTERVAL_MS,
      logLevel: options.logger.level,
      ownPorts: options.redirect !== undefined,
    } : undefined;
    for (const family of ['IPv4', 'IPv6'] as const) {
      const threadPorts: ThreadPorts | undefined = shared && options.redirect !== undefined ? {
        count: this.#threadCount - 1,
        shared: (key) => this.#threads?.serves(`${family}|${key}`) === true,
        port: (key, thread, listenKey) => this.#threads?.boundPort(`${family}|${key}`, thread, listenKey),
      } : undefined;
      this.#families.set(family, new FamilyRuntime(family, resolveFamilyEntryOptions(family, options), options.logger, threadPorts));
    }
  }

  /** Test/debug view of one service port's runtime (the main thread's share of its traffic). */
  portRuntime(family: IPFamily, portKey: string): PortRuntime | undefined {
    return this.#families.get(family)?.ports.get(portKey);
  }

  /** The serving threads besides the main thread, once started (threads > 1). */
  get servingThreads(): ServingThreads | undefined {
    return this.#threads;
  }

  sync(request: SyncRequest): Promise<void> {
    const next = this.#queue.then(() => this.#sync(request));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #sync(request: SyncRequest): Promise<void> {
    if (this.#closed) throw new UserspaceSyncError('userspace dataplane is closed');
    const full = request.full || this.#needFull;
    if (full && !this.#readBack && this.#o.redirect !== undefined) await this.#readBackKernel(this.#o.redirect.runner);
    const closing: Frontend[] = [];
    const work: FamilyRuntime[] = [];
    for (const snap of request.families) {
      const fr = this.#families.get(snap.family);
      if (fr === undefined) continue;
      work.push(fr);
      const familyFull = full || !fr.fullySynced;
      const keys = familyFull ? new Set([...fr.ports.keys(), ...snap.services.keys()]) : this.#changedPortKeys(fr, snap);
      const listens: Promise<void>[] = [];
      for (const key of keys) this.#updatePort(fr, snap, key, closing, listens);
      await Promise.all(listens);
      // The serving threads follow before the redirects change (as the main thread's listeners).
      await Promise.all([...keys].map((key) => this.#shareWithThreads(fr, snap, key)));
      fr.prepare(familyFull, keys);
    }
    const stale: ConntrackFilter[] = [];
    const unNATed: ConntrackFilter[] = [];
    try {
      if (this.#o.redirect !== undefined) {
        const lines = work.flatMap((fr) => fr.transactionLines());
        if (lines.length > 0) await this.#o.redirect.runner.run(lines.join('\n') + '\n');
      }
      for (const fr of work) {
        stale.push(...fr.staleFlows());
        unNATed.push(...fr.unNATedFlows());
        fr.commit();
      }
      this.#needFull = false;
    } catch (err) {
      this.#needFull = true;
      for (const fr of work) fr.abort();
      this.#logger.error({ err }, 'userspace redirect sync failed; previous nftables redirects stay in place');
      throw new UserspaceSyncError(`nftables redirect transaction failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      // Listeners no longer wanted stop accepting; their established connections drain.
      await Promise.all(closing.map((f) => this.#retired.retire(f)));
    }
    const conntrack = this.#o.redirect?.conntrack;
    if (stale.length > 0 && conntrack !== undefined) {
      const n = await runConntrackCleanup(conntrack, stale, this.#logger);
      this.#logger.info({ entryPoints: stale.length, deleted: n }, 'deleted conntrack entries of UDP flows redirected to a previous listener port');
    }
    await this.#deleteUnNATed(unNATed);
  }

  /**
   * Flows to entry points redirected for the first time that were tracked before the redirect
   * and so not DNATed (FamilyRuntime#noteNew): deleted, so a client retrying (its SYN
   * retransmissions, its next connection from the same source port) reaches the listener now
   * instead of staying on the route past it for up to two minutes. One `conntrack` run per
   * entry point: done for the few a sync adds while running (a new Service), not for the
   * thousands of a first sync on a fresh node (clients of services that did not exist yet).
   */
  async #deleteUnNATed(filters: readonly ConntrackFilter[]): Promise<void> {
    const conntrack = this.#o.redirect?.conntrack;
    if (filters.length === 0 || conntrack === undefined) return;
    if (filters.length > UNNATED_CLEANUP_MAX) {
      this.#logger.debug({ entryPoints: filters.length, max: UNNATED_CLEANUP_MAX }, 'not looking for flows tracked before their redirect: too many new entry points in one sync');
      return;
    }
    const n = await runConntrackCleanup(conntrack, filters, this.#logger);
    if (n > 0) this.#logger.info({ entryPoints: filters.length, deleted: n }, 'deleted conntrack entries of flows tracked before their entry point was redirected');
  }

  /**
   * Before the first full sync in redirect mode: whether the kernel can hold new connections
   * while no listener is up (the nft `socket` expression), and which listener port every entry
   * point of a previous kube-proxy-ts process is redirected to, so our listeners take the same
   * ports. Its redirects stay in place until our first full sync replaces them (by then our
   * listeners are up): a restart refuses no connection and strands no UDP flow.
   */
  async #readBackKernel(runner: NftRunner): Promise<void> {
    this.#readBack = true;
    let holdNew = true;
    try {
      await runner.run(renderHoldProbe(), { check: true });
    } catch (err) {
      holdNew = false;
      this.#logger.warn({ err }, 'nftables has no socket expression (nft_socket): connections arriving while kube-proxy-ts restarts will be refused');
    }
    await Promise.all([...this.#families.values()].map(async (fr) => {
      fr.holdNew = holdNew;
      if (!fr.entry.redirect) return;
      let json: string;
      try {
        json = await runner.query(['-j', 'list', 'table', nftFamily(fr.family), USERSPACE_TABLE]);
      } catch (err) {
        this.#logger.debug({ err, family: fr.family }, 'no userspace redirect table left by a previous process');
        return;
      }
      const previous = parseRedirectPorts(json);
      fr.setPrevious(previous);
      this.#logger.info({ family: fr.family, entryPoints: previous.size }, 'reusing the listener ports of the previous process where possible');
    }));
  }

  /** Port keys of changed services, those we run and those in the snapshot: O(changes). */
  #changedPortKeys(fr: FamilyRuntime, snap: FamilySnapshot): Set<string> {
    const keys = new Set<string>();
    const changed: ReadonlySet<ServiceKey> = snap.changedServices;
    for (const svc of changed) {
      for (const k of fr.byService.get(svc) ?? []) keys.add(k);
      for (const k of snap.portsByService.get(svc) ?? []) keys.add(k);
    }
    return keys;
  }

  #updatePort(fr: FamilyRuntime, snap: FamilySnapshot, key: string, closing: Frontend[], listens: Promise<void>[]): void {
    const sp = snap.services.get(key);
    let rt = fr.ports.get(key);
    if (sp === undefined) {
      if (rt === undefined) return;
      // Removed: new connections are refused at once; redirects go in this sync's transaction.
      rt.internal.pool = undefined;
      rt.external.pool = undefined;
      rt.external.localClientPool = undefined;
      for (const f of rt.frontends.values()) closing.push(f);
      rt.frontends.clear();
      fr.removePort(key);
      return;
    }
    if (rt === undefined) {
      rt = new PortRuntime(sp, this.#deps);
      fr.addPort(key, rt);
    }
    rt.update(sp, snap.endpoints.get(key) ?? [], snap);
    const plan = planEntryPoints(sp, fr.entry);
    rt.plan = plan;
    for (const what of plan.unservable) {
      if (rt.reported.has(what)) continue;
      rt.reported.add(what);
      this.#logger.warn({ service: sp.name.key, entryPoint: what }, `userspace proxy cannot serve ${what} of service port ${sp.name.key}`);
    }
    const wanted = new Set(plan.listens.map((l) => l.key));
    for (const [k, f] of rt.frontends) {
      if (wanted.has(k)) continue;
      rt.frontends.delete(k);
      closing.push(f);
    }
    for (const spec of plan.listens) {
      if (rt.frontends.has(spec.key)) continue;
      const previous = fr.entry.redirect ? fr.previousListenerPort(rt, spec.kind) : 0;
      listens.push(this.#listen(rt, spec, previous));
    }
  }

  /**
   * Hand a TCP port (without session affinity: that must stay exact, so on one thread) to the
   * serving threads, with the ports the main thread's listeners got; or take it back.
   */
  #shareWithThreads(fr: FamilyRuntime, snap: FamilySnapshot, key: string): Promise<void> {
    if (this.#threadInit === undefined) return Promise.resolve();
    const id = `${fr.family}|${key}`;
    const rt = fr.ports.get(key);
    const sp = snap.services.get(key);
    const listens: ServeListen[] = [];
    if (rt !== undefined && sp !== undefined && sp.protocol === 'TCP' && sp.sessionAffinity.type === 'None') {
      for (const [k, f] of rt.frontends) {
        if (!(f instanceof TcpFrontend) || f.port === 0) continue;
        const kind = k.startsWith('external|') ? 'external' : 'internal';
        // Own ports (redirect): the threads' ports of a previous process first, as the main thread's.
        const previous = this.#threadInit.ownPorts && this.#threads?.serves(id) !== true
          ? Array.from({ length: this.#threadCount }, (_, t) => (t === 0 ? 0 : fr.previousListenerPort(rt, kind, t)))
          : undefined;
        listens.push({ key: k, kind, host: f.host, port: f.port, ...(previous !== undefined ? { previous } : {}) });
      }
    }
    if (listens.length === 0 || sp === undefined) return this.#threads?.remove(id) ?? Promise.resolve();
    this.#threads ??= new ServingThreads(this.#threadCount - 1, this.#threadInit, this.#logger.child({ component: 'userspace-threads' }),
      this.#o.metrics ?? noopUserspaceMetrics, () => { this.#needFull = true; });
    return this.#threads.serve({
      type: 'port', key: id, sp, endpoints: snap.endpoints.get(key) ?? [], nodeName: snap.nodeName, nodeLabels: snap.nodeLabels, listens,
    });
  }

  /** Listen for `spec`; on `previousPort` (a port the previous process used) first if not 0. */
  async #listen(rt: PortRuntime, spec: ListenSpec, previousPort = 0): Promise<void> {
    const f = rt.createFrontend(previousPort === 0 ? spec : { ...spec, port: previousPort });
    try {
      await f.listen();
      rt.frontends.set(spec.key, f);
    } catch (err) {
      await f.close(false);
      const code = (err as NodeJS.ErrnoException).code ?? 'ERROR';
      if (previousPort !== 0) {
        this.#logger.info({ service: rt.sp.name.key, port: previousPort, code },
          `previous listener port ${String(previousPort)} of service port ${rt.sp.name.key} is not free (${code}); using a new one`);
        await this.#listen(rt, spec);
        return;
      }
      const id = `${spec.key}|${code}`;
      if (rt.listenErrors.has(id)) return;
      rt.listenErrors.add(id);
      this.#logger.error({ err, service: rt.sp.name.key, host: spec.host, port: spec.port },
        `userspace proxy cannot listen on ${spec.host}:${spec.port} for service port ${rt.sp.name.key} (${code}); retried on every full sync`);
    }
  }

  async cleanup(): Promise<void> {
    if (this.#o.redirect === undefined) return;
    await cleanupUserspaceTables(this.#o.redirect.runner);
    for (const fr of this.#families.values()) fr.forgetKernel();
    this.#needFull = true;
  }

  /**
   * Stop every listener and close every connection and flow, those still draining from
   * listeners removed earlier included, on every thread; nftables rules stay.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    const all: Promise<unknown>[] = [this.#retired.closeAll()];
    for (const fr of this.#families.values()) {
      for (const rt of fr.ports.values()) for (const f of rt.frontends.values()) all.push(f.close(false));
    }
    if (this.#threads !== undefined) all.push(this.#threads.close());
    await Promise.all(all);
  }
}

/** `--cleanup`: delete `ip`/`ip6 kube-proxy-userspace` (missing tables are not an error). */
export async function cleanupUserspaceTables(runner: NftRunner): Promise<void> {
  await runner.run(renderCleanup());
}
