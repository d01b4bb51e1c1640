// Per-family bookkeeping of the userspace dataplane: the service ports it runs, and in
// redirect mode which nftables elements each port owns. A sync prepares one transaction from
// the ports it touched (a full sync: the whole table, flushed and refilled atomically), and
// the record changes only once nft has accepted it.

import type { IPFamily, ServiceKey } from '../../model/types.ts';
import type { ConntrackFilter } from '../conntrack/conntrack.ts';
import type { Logger } from '../../util/logger.ts';
import { NftUnsafeValueError } from '../nftables/errors.ts';
import { resolveFamilyContext, type NodePortAddresses } from '../nftables/options.ts';
import { familyOf, isLoopback } from '../nftables/safety.ts';
import type { EntryOptions, RedirectMap } from './entry-points.ts';
import type { PortRuntime } from './port-runtime.ts';
import {
  addElementLine, deleteElementLine, elementId, listenerElement, redirectElement, redirectLookupKey, renderBaseAndFlush, type Element,
} from './redirect.ts';

export interface ResolvedEntryOptions {
  readonly entry: EntryOptions;
  /** Redirect mode: NodePort addresses for the nft rule; undefined: every local address. */
  readonly nodePortIPsForNft: readonly string[] | undefined;
}

export function resolveFamilyEntryOptions(family: IPFamily, o: {
  readonly redirect?: unknown; readonly nodeIPs?: readonly string[]; readonly nodePortAddresses?: NodePortAddresses;
  readonly localAddresses?: readonly string[]; readonly listenHost?: Partial<Record<IPFamily, string>>;
}): ResolvedEntryOptions {
  const ctx = resolveFamilyContext(family, {
    nodeIPs: o.nodeIPs ?? [],
    nodePortAddresses: o.nodePortAddresses ?? { kind: 'primary' },
    localAddresses: o.localAddresses ?? o.nodeIPs ?? [],
  });
  const local = [...(o.localAddresses ?? []), ...(o.nodeIPs ?? [])].filter((ip) => familyOf(ip) === family);
  const nodePortIPs = ctx.nodePortIPs ?? [...new Set(local.filter((ip) => !isLoopback(ip)))];
  return {
    entry: {
      redirect: o.redirect !== undefined,
      listenHost: o.listenHost?.[family] ?? (family === 'IPv4' ? '0.0.0.0' : '::'),
      nodePortIPs,
      localAddresses: new Set(local),
    },
    nodePortIPsForNft: ctx.nodePortIPs,
  };
}

/**
 * Redirect mode with serving threads: each thread's own listener ports (threads/), for the
 * redirect elements in its maps (redirect.ts).
 */
export interface ThreadPorts {
  /** Serving threads besides the main thread. */
  readonly count: number;
  /** Whether the threads serve this port (TCP without session affinity). */
  shared(portKey: string): boolean;
  /** The port thread `thread`'s listener `listenKey` is bound to, if it is up. */
  port(portKey: string, thread: number, listenKey: string): number | undefined;
}

interface Pending {
  readonly full: boolean;
  /** UDP entry points the previous process redirected to another port than ours now. */
  readonly staleFlows: ConntrackFilter[];
  /** Entry points redirected for the first time: their flows that were not DNATed (unNATed). */
  readonly unNATed: ConntrackFilter[];
  readonly lines: string[];
  readonly programmed: Map<string, Map<string, Element>>;
  /** Full: the new owner map. Partial: changes over the current one (undefined = released). */
  readonly owners: Map<string, string | undefined>;
}

export class FamilyRuntime {
  readonly family: IPFamily;
  readonly entry: EntryOptions;
  readonly ports = new Map<string, PortRuntime>();
  readonly byService = new Map<ServiceKey, Set<string>>();
  /** Element id → port key that programmed it (committed state). */
  #owners = new Map<string, string>();
  /** Elements of ports removed since the last commit (to be deleted). */
  readonly #removed = new Map<string, Map<string, Element>>();
  readonly #nodePortIPsForNft: readonly string[] | undefined;
  readonly #logger: Logger;
  readonly #reported = new Set<string>();
  #pending: Pending | undefined;
  /** Redirect targets the previous process left in the kernel (redirectLookupKey → port), until our first commit. */
  #previous: ReadonlyMap<string, number> | undefined;
  /** Previous listener ports handed out ("proto|port"), so two listeners never ask for one. */
  readonly #claimed = new Set<string>();
  fullySynced = false;
  /** Full syncs render the rules that hold new connections while no listener is up (redirect.ts). */
  holdNew = false;
  readonly #threads: ThreadPorts | undefined;

  constructor(family: IPFamily, resolved: ResolvedEntryOptions, logger: Logger, threads?: ThreadPorts) {
    this.family = family;
    this.entry = resolved.entry;
    this.#nodePortIPsForNft = resolved.nodePortIPsForNft;
    this.#logger = logger;
    this.#threads = threads !== undefined && threads.count > 0 ? threads : undefined;
  }

  addPort(key: string, rt: PortRuntime): void {
    this.ports.set(key, rt);
    const svc = rt.sp.name.service;
    let set = this.byService.get(svc);
    if (set === undefined) this.byService.set(svc, (set = new Set()));
    set.add(key);
  }

  removePort(key: string): void {
    const rt = this.ports.get(key);
    if (rt === undefined) return;
    this.ports.delete(key);
    const set = this.byService.get(rt.sp.name.service);
    set?.delete(key);
    if (set?.size === 0) this.byService.delete(rt.sp.name.service);
    if (rt.programmed.size > 0) this.#removed.set(key, rt.programmed);
  }

  /** What the previous process programmed (parseRedirectPorts), read before our first full sync. */
  setPrevious(ports: ReadonlyMap<string, number>): void {
    this.#previous = ports;
    this.#claimed.clear();
  }

  /**
   * The port the previous process's listener of `kind` had for this service port, if its
   * entry points were redirected there and nobody else asked for it; else 0 (any port).
   * Reusing it keeps the redirects in the kernel (and conntrack entries, a UDP flow's
   * included) pointing at a live listener across a restart.
   */
  previousListenerPort(rt: PortRuntime, kind: 'internal' | 'external', thread = 0): number {
    const previous = this.#previous;
    const protocol = rt.sp.protocol;
    if (previous === undefined || protocol === 'SCTP') return 0;
    const proto = protocol === 'TCP' ? 'tcp' : 'udp';
    for (const r of rt.plan?.redirects ?? []) {
      if (r.kind !== kind) continue;
      const port = previous.get(redirectLookupKey(r.map, r.ip, proto, r.port, thread));
      if (port === undefined || this.#claimed.has(`${proto}|${String(port)}`)) continue;
      this.#claimed.add(`${proto}|${String(port)}`);
      return port;
    }
    return 0;
  }

  /** Work out the transaction for the ports in `keys` (all of them when full). */
  prepare(full: boolean, keys: ReadonlySet<string>): void {
    const p: Pending = { full, staleFlows: [], unNATed: [], lines: [], programmed: new Map(), owners: new Map() };
    this.#pending = p;
    if (!this.entry.redirect) return;
    if (full) {
      p.lines.push(...renderBaseAndFlush(this.family, this.#nodePortIPsForNft, this.holdNew, (this.#threads?.count ?? 0) + 1));
      for (const key of [...this.ports.keys()].sort()) {
        const rt = this.ports.get(key);
        if (rt === undefined) continue;
        const accepted = new Map<string, Element>();
        for (const [id, e] of this.#desired(key, rt)) {
          const owner = p.owners.get(id);
          if (owner !== undefined) { this.#conflict(key, id, owner); continue; }
          p.owners.set(id, key);
          accepted.set(id, e);
          p.lines.push(addElementLine(this.family, e));
          this.#noteNew(p, id, e);
        }
        p.programmed.set(key, accepted);
        p.staleFlows.push(...this.#staleFlows(rt));
      }
      return;
    }
    const ownerOf = (id: string): string | undefined => (p.owners.has(id) ? p.owners.get(id) : this.#owners.get(id));
    const olds = new Map<string, Map<string, Element>>();
    const news = new Map<string, Map<string, Element>>();
    for (const key of keys) {
      const rt = this.ports.get(key);
      olds.set(key, rt?.programmed ?? this.#removed.get(key) ?? new Map<string, Element>());
      news.set(key, rt === undefined ? new Map<string, Element>() : this.#desired(key, rt));
    }
    // Deletions first, so an element one port gives up can be taken by another.
    for (const [key, old] of olds) {
      const want = news.get(key);
      for (const [id, e] of old) {
        if (want?.has(id) === true) continue;
        p.lines.push(deleteElementLine(this.family, e));
        p.owners.set(id, undefined);
      }
    }
    for (const [key, want] of news) {
      const old = olds.get(key);
      const accepted = new Map<string, Element>();
      for (const [id, e] of want) {
        const owner = ownerOf(id);
        if (owner !== undefined && owner !== key) { this.#conflict(key, id, owner); continue; }
        const prev = old?.get(id);
        if (prev?.value !== e.value) {
          if (prev !== undefined) p.lines.push(deleteElementLine(this.family, prev));
          p.lines.push(addElementLine(this.family, e));
          if (prev === undefined) this.#noteNew(p, id, e);
        }
        p.owners.set(id, key);
        accepted.set(id, e);
      }
      p.programmed.set(key, accepted);
    }
  }

  /**
   * Conntrack entries of UDP flows that still redirect to the previous process's listener port
   * of an entry point whose listener now has another port (the old one could not be bound):
   * every datagram refreshes such an entry, so the flow would never reach our listener.
   */
  #staleFlows(rt: PortRuntime): ConntrackFilter[] {
    const previous = this.#previous;
    if (previous === undefined || rt.sp.protocol !== 'UDP') return [];
    const out: ConntrackFilter[] = [];
    for (const r of rt.plan?.redirects ?? []) {
      const was = previous.get(redirectLookupKey(r.map, r.ip, 'udp', r.port));
      const now = rt.listenerPort(r.kind);
      if (was === undefined || now === undefined || was === now) continue;
      out.push(r.ip === undefined
        ? { family: this.family, protocol: 'udp', origDstPort: r.port }
        : { family: this.family, protocol: 'udp', origDst: r.ip, origDstPort: r.port });
    }
    return out;
  }

  /**
   * An entry point redirected for the first time (not in our record, nor in the previous
   * process's table): flows to it that the kernel tracked before, while nothing redirected it,
   * were not DNATed, and conntrack keeps them so: a client's SYN retransmissions (and its next
   * connections from the same source port, for as long as it keeps trying: the SYN_SENT
   * timeout is 120 s) go on being routed past our listener, usually into an ICMP unreachable.
   * Such flows are told apart by their reply source, which is still the service IP and port (a
   * redirected flow's is this node's address and the listener's port), and are deleted once
   * the redirect is in. Service IPs only (ClusterIP, external and load-balancer IPs): a NodePort
   * is on this node's own addresses, which answer an attempt made before its redirect with a
   * RST (no listener), and conntrack starts such a flow afresh on the client's next SYN.
   */
  #noteNew(p: Pending, id: string, e: Element): void {
    const entry = entryOf(e);
    if (entry === undefined) return;
    if (this.#owners.has(id)) return;
    if (this.#previous?.has(redirectLookupKey(entry.map, entry.ip, entry.proto, entry.port)) === true) return;
    p.unNATed.push({ family: this.family, protocol: entry.proto, origDst: entry.ip, origDstPort: entry.port, replySrc: entry.ip, replySrcPort: entry.port });
  }

  /** The pending transaction's entry points redirected for the first time (#noteNew); their flows to delete once it is committed. */
  unNATedFlows(): readonly ConntrackFilter[] {
    return this.#pending?.unNATed ?? [];
  }

  /** The pending transaction's stale UDP flows (staleFlows); to delete once it is committed. */
  staleFlows(): readonly ConntrackFilter[] {
    return this.#pending?.staleFlows ?? [];
  }

  transactionLines(): readonly string[] {
    return this.#pending?.lines ?? [];
  }

  /** nft accepted the transaction (or there was none): the record follows. */
  commit(): void {
    const p = this.#pending;
    this.#pending = undefined;
    if (p === undefined) return;
    if (p.full) {
      this.#owners = new Map();
      for (const [id, key] of p.owners) if (key !== undefined) this.#owners.set(id, key);
      this.#removed.clear();
    } else {
      for (const [id, key] of p.owners) {
        if (key === undefined) this.#owners.delete(id);
        else this.#owners.set(id, key);
      }
    }
    for (const [key, accepted] of p.programmed) {
      this.#removed.delete(key);
      const rt = this.ports.get(key);
      if (rt !== undefined) rt.programmed = accepted;
    }
    this.fullySynced = true;
    // The kernel now holds our own redirects: what the previous process left is gone.
    this.#previous = undefined;
    this.#claimed.clear();
  }

  /** nft refused: nothing changed in the kernel; the next sync is a full one. */
  abort(): void {
    this.#pending = undefined;
    this.fullySynced = false;
  }

  /** The tables were deleted (cleanup): nothing is programmed any more. */
  forgetKernel(): void {
    this.#owners = new Map();
    this.#removed.clear();
    for (const rt of this.ports.values()) rt.programmed = new Map();
    this.fullySynced = false;
  }

  #desired(key: string, rt: PortRuntime): Map<string, Element> {
    const out = new Map<string, Element>();
    const protocol = rt.sp.protocol;
    if (protocol === 'SCTP') return out;
    const add = (e: Element): void => { out.set(elementId(e), e); };
    const threads = this.#threads !== undefined && protocol === 'TCP' && this.#threads.shared(key) ? this.#threads : undefined;
    try {
      for (const r of rt.plan?.redirects ?? []) {
        const port = rt.listenerPort(r.kind);
        if (port === undefined) continue;
        add(redirectElement(this.family, protocol, r, port, 0));
        if (threads === undefined) continue;
        // Every thread's map has the entry point (a thread not listening: the main thread's port).
        const listenKey = rt.listenerKey(r.kind) ?? '';
        for (let t = 1; t <= threads.count; t++) {
          const own = threads.port(key, t, listenKey) ?? port;
          add(redirectElement(this.family, protocol, r, own, t));
          add(listenerElement(protocol, own));
        }
      }
      for (const f of rt.frontends.values()) add(listenerElement(protocol, f.port));
    } catch (err) {
      if (!(err instanceof NftUnsafeValueError)) throw err;
      this.#reportOnce(`${rt.sp.name.key}|unsafe`, { service: rt.sp.name.key, field: err.field, value: err.value },
        `skipping redirects of service port ${rt.sp.name.key}: ${err.field} ${JSON.stringify(err.value)} is unsafe for nftables`);
      return new Map();
    }
    return out;
  }

  #conflict(key: string, id: string, owner: string): void {
    this.#reportOnce(`${key}|${id}`, { service: key, element: id, owner },
      `service port ${key}: entry point ${id} is already taken by ${owner}; not redirected`);
  }

  #reportOnce(id: string, fields: Record<string, unknown>, msg: string): void {
    if (this.#reported.has(id)) return;
    this.#reported.add(id);
    this.#logger.warn(fields, msg);
  }
}

/** The entry point of a main-thread service-IP redirect element (`ip . proto . port`), else undefined. */
function entryOf(e: Element): { map: RedirectMap; ip: string; proto: 'tcp' | 'udp'; port: number } | undefined {
  if (e.container !== 'service-ips') return undefined;
  const [ip, proto, port] = e.key.split(' . ');
  if (ip === undefined || (proto !== 'tcp' && proto !== 'udp') || port === undefined) return undefined;
  return { map: e.container, ip, proto, port: Number(port) };
}
