// The nftables side of redirect mode: our own table per family, `ip kube-proxy-userspace` /
// `ip6 kube-proxy-userspace`, steering every entry point to its local listener. Pure
// rendering; every value passes the nftables dataplane's safety checks.
//
//   nat-prerouting (-100) → services (traffic from elsewhere):
//        daddr . l4proto . dport  in @service-ips       → redirect to :LISTENER
//        daddr local (not loopback) [daddr @nodeport-ips]
//        l4proto . dport          in @service-nodeports → redirect to :LISTENER
//   nat-output (-100) → services-local (traffic from this node): the same two lookups,
//        but `dnat to <its own source address>:LISTENER`
//   filter-input (0):
//        l4proto . dport in @listener-ports, DNATed  → listener-in
//        l4proto . dport in @listener-ports          → drop (not through a redirect)
//   With N serving threads (threads > 1), each thread has a listener port of its own per
//   entry point, in maps of its own (service-ips-t1, service-nodeports-t1, …; thread 0, the
//   main thread, keeps service-ips and service-nodeports, which hold every entry point). Before
//   the lookups above, for an entry point the threads share (in service-ips-t1):
//        numgen inc mod N vmap { 1 : goto services-t1, … }  (0: on to the main thread's rule)
//   so new connections go round robin over the threads, exactly, whatever their 4-tuple
//   (SO_REUSEPORT's hash split 50 keep-alive connections ≈ 30/20, bench/README.md). The
//   counter is the rule's: every new connection to a shared entry point advances it. (Maps of
//   their own, of the same types, rather than `numgen` as a last key component: that key needs
//   `typeof … th dport`, which nft 1.0.6 reads back as `tcp dport` and then fails every later
//   transaction that loads the rules.)
//   listener-in: a TCP segment other than a bare SYN → accept; a socket listens → accept;
//        else drop: a new connection (or a datagram) whose listener is not up — while
//        kube-proxy-ts restarts — is dropped, not refused (RST / ICMP port unreachable), so
//        the client retransmits (a SYN after 1 s, then 3 s) and the new process, which reuses
//        the same listener ports (parseRedirectPorts), answers it.
//
// `redirect` rewrites the destination to the incoming interface's primary address, so a
// listener on the wildcard address receives it; conntrack reverses it on replies, which
// therefore come from the service address — for UDP too, as long as the reply leaves from the
// address the datagram came to (Node has no IP_PKTINFO: the kernel picks the source by route,
// which is that address on symmetric routes). Locally generated traffic is not `redirect`ed
// (that would go to 127.0.0.1 while the reply to a client on a node IP is sourced from that
// node IP, and conntrack would not match UDP replies): it is DNATed to its own source address.
// The input filter keeps the listeners' own ports from being reached directly (which would
// bypass traffic policy).

import ipaddr from 'ipaddr.js';
import type { IPFamily } from '../../model/types.ts';
import { nftProtocol, safeIP, safePort } from '../nftables/safety.ts';
import type { RedirectMap, RedirectSpec } from './entry-points.ts';

export const USERSPACE_TABLE = 'kube-proxy-userspace';
export const LISTENER_PORTS_SET = 'listener-ports';
export const NODEPORT_IPS_SET = 'nodeport-ips';
export const LISTENER_IN_CHAIN = 'listener-in';
/** A serving thread's own redirect map (thread ≥ 1); thread 0's are the plain names. */
export type ThreadRedirectMap = `${RedirectMap}-t${number}`;
export type ElementContainer = RedirectMap | ThreadRedirectMap | typeof LISTENER_PORTS_SET;

/** The redirect map of `thread` (0: the main thread's, which holds every entry point). */
export function threadMap(map: RedirectMap, thread: number): RedirectMap | ThreadRedirectMap {
  return thread === 0 ? map : (`${map}-t${String(thread)}` as ThreadRedirectMap);
}

/** One element we program: container, nft key text, value text ("" for set elements). */
export interface Element {
  readonly container: ElementContainer;
  readonly key: string;
  readonly value: string;
}

/** Record key of an element, unique per family: "container|key". */
export function elementId(e: Pick<Element, 'container' | 'key'>): string {
  return `${e.container}|${e.key}`;
}

export function nftFamily(family: IPFamily): 'ip' | 'ip6' {
  return family === 'IPv4' ? 'ip' : 'ip6';
}

/** The element that redirects one entry point to `listenerPort` (in `thread`'s map). */
export function redirectElement(family: IPFamily, protocol: 'TCP' | 'UDP', r: RedirectSpec, listenerPort: number, thread = 0): Element {
  const proto = nftProtocol(protocol);
  const port = safePort('port', r.port);
  const value = String(safePort('listener port', listenerPort));
  const container = threadMap(r.map, thread);
  if (r.map === 'service-nodeports') return { container, key: `${proto} . ${port}`, value };
  return { container, key: `${safeIP('service IP', family, r.ip ?? '')} . ${proto} . ${port}`, value };
}

export function listenerElement(protocol: 'TCP' | 'UDP', listenerPort: number): Element {
  return { container: LISTENER_PORTS_SET, key: `${nftProtocol(protocol)} . ${safePort('listener port', listenerPort)}`, value: '' };
}

export function addElementLine(family: IPFamily, e: Element): string {
  const body = e.value === '' ? e.key : `${e.key} : ${e.value}`;
  return `add element ${nftFamily(family)} ${USERSPACE_TABLE} ${e.container} { ${body} }`;
}

export function deleteElementLine(family: IPFamily, e: Pick<Element, 'container' | 'key'>): string {
  return `delete element ${nftFamily(family)} ${USERSPACE_TABLE} ${e.container} { ${e.key} }`;
}

/**
 * The table's fixed part, idempotently (re)defined and its containers flushed: a full sync
 * follows it with every element, all in one transaction, so traffic never sees a gap.
 * `nodePortIPs` undefined: NodePorts on every local address but loopback. `holdNew`: drop
 * (rather than let the kernel refuse) new connections and datagrams to a listener port nobody
 * listens on; needs the kernel's nft `socket` expression (renderHoldProbe). `threads` > 1: the
 * serving threads' own maps and the round-robin dispatch to them (top of this file).
 */
export function renderBaseAndFlush(family: IPFamily, nodePortIPs: readonly string[] | undefined, holdNew = false, threads = 1): string[] {
  const f = nftFamily(family);
  const t = `${f} ${USERSPACE_TABLE}`;
  const addr = family === 'IPv4' ? 'ipv4_addr' : 'ipv6_addr';
  const ipX = family === 'IPv4' ? 'ip' : 'ip6';
  const loopback = family === 'IPv4' ? '127.0.0.0/8' : '::1';
  const others = Array.from({ length: Math.max(0, threads - 1) }, (_, i) => i + 1);
  const serviceChains = ['services', 'services-local', ...others.flatMap((n) => [`services-t${String(n)}`, `services-local-t${String(n)}`])];
  const ipMaps = ['service-ips', ...others.map((n) => threadMap('service-ips', n))];
  const nodePortMaps = ['service-nodeports', ...others.map((n) => threadMap('service-nodeports', n))];
  const lines = [
    `add table ${t}`,
    ...ipMaps.map((m) => `add map ${t} ${m} { type ${addr} . inet_proto . inet_service : inet_service ; }`),
    ...nodePortMaps.map((m) => `add map ${t} ${m} { type inet_proto . inet_service : inet_service ; }`),
    `add set ${t} ${NODEPORT_IPS_SET} { type ${addr} ; }`,
    `add set ${t} ${LISTENER_PORTS_SET} { type inet_proto . inet_service ; }`,
    `add chain ${t} nat-prerouting { type nat hook prerouting priority -100 ; policy accept ; }`,
    `add chain ${t} nat-output { type nat hook output priority -100 ; policy accept ; }`,
    `add chain ${t} filter-input { type filter hook input priority 0 ; policy accept ; }`,
    ...serviceChains.map((c) => `add chain ${t} ${c}`),
    `add chain ${t} ${LISTENER_IN_CHAIN}`,
    ...['nat-prerouting', 'nat-output', 'filter-input', ...serviceChains, LISTENER_IN_CHAIN].map((c) => `flush chain ${t} ${c}`),
    ...[...ipMaps, ...nodePortMaps].map((m) => `flush map ${t} ${m}`),
    ...[NODEPORT_IPS_SET, LISTENER_PORTS_SET].map((set) => `flush set ${t} ${set}`),
    `add rule ${t} nat-prerouting jump services`,
    `add rule ${t} nat-output jump services-local`,
  ];
  const l4 = 'meta l4proto { tcp, udp }';
  const serviceIPs = (m: string): string => `${ipX} daddr . meta l4proto . th dport map @${m}`;
  const nodePorts = (m: string): string => `meta l4proto . th dport map @${m}`;
  const toListener = (local: boolean, port: string): string => (local ? `dnat ${ipX} to ${ipX} saddr : ${port}` : `redirect to : ${port}`);
  let nodePortMatch: string | undefined;
  if (nodePortIPs === undefined) {
    nodePortMatch = `${ipX} daddr != ${loopback} fib daddr type local`;
  } else if (nodePortIPs.length > 0) {
    const ips = nodePortIPs.map((ip) => safeIP('nodePort address', family, ip));
    lines.push(`add element ${t} ${NODEPORT_IPS_SET} { ${ips.join(', ')} }`);
    nodePortMatch = `${ipX} daddr @${NODEPORT_IPS_SET}`;
  }
  for (const local of [false, true]) {
    const chain = local ? 'services-local' : 'services';
    if (others.length > 0) {
      // Entry points the threads share are in every thread's maps (the first one's is asked);
      // numgen 0 matches no verdict and goes on to the main thread's rules below.
      const dispatch = `numgen inc mod ${String(threads)} vmap { ${others.map((n) => `${String(n)} : goto ${chain}-t${String(n)}`).join(', ')} }`;
      lines.push(`add rule ${t} ${chain} meta l4proto tcp ${ipX} daddr . meta l4proto . th dport @${threadMap('service-ips', 1)} ${dispatch}`);
      if (nodePortMatch !== undefined) lines.push(`add rule ${t} ${chain} ${nodePortMatch} meta l4proto tcp meta l4proto . th dport @${threadMap('service-nodeports', 1)} ${dispatch}`);
      for (const n of others) {
        lines.push(`add rule ${t} ${chain}-t${String(n)} meta l4proto tcp ${toListener(local, serviceIPs(threadMap('service-ips', n)))}`);
        if (nodePortMatch !== undefined) lines.push(`add rule ${t} ${chain}-t${String(n)} ${nodePortMatch} meta l4proto tcp ${toListener(local, nodePorts(threadMap('service-nodeports', n)))}`);
      }
    }
    lines.push(`add rule ${t} ${chain} ${l4} ${toListener(local, serviceIPs('service-ips'))}`);
    if (nodePortMatch !== undefined) lines.push(`add rule ${t} ${chain} ${nodePortMatch} ${l4} ${toListener(local, nodePorts('service-nodeports'))}`);
  }
  lines.push(`add rule ${t} filter-input meta l4proto . th dport @${LISTENER_PORTS_SET} ct status dnat ${holdNew ? `goto ${LISTENER_IN_CHAIN}` : 'accept'}`);
  lines.push(`add rule ${t} filter-input meta l4proto . th dport @${LISTENER_PORTS_SET} drop`);
  if (holdNew) lines.push(...HOLD_RULES.map((r) => `add rule ${t} ${LISTENER_IN_CHAIN} ${r}`));
  return lines;
}

/**
 * listener-in: only a bare SYN (a new connection) and UDP need a socket lookup; established TCP
 * segments go through. No listening socket (the process is restarting): drop, so the client
 * retries instead of being refused.
 */
const HOLD_RULES = ['tcp flags & (fin | syn | rst | ack) != syn accept', 'socket transparent 0 accept', 'drop'];

/** `nft -c` script: does the kernel have the `socket` expression the hold rules use? */
export function renderHoldProbe(): string {
  const t = `ip ${USERSPACE_TABLE}-probe`;
  return [`add table ${t}`, `add chain ${t} f { type filter hook input priority 0 ; }`, ...HOLD_RULES.map((r) => `add rule ${t} f ${r}`)].join('\n') + '\n';
}

/**
 * Where a redirect element points, as a lookup key that does not depend on how an IPv6
 * address is spelled: "map|ip|proto|port" (ip empty for NodePorts), "…|t<thread>" in a
 * serving thread's map.
 */
export function redirectLookupKey(map: RedirectMap, ip: string | undefined, proto: string, port: number, thread = 0): string {
  let addr = ip ?? '';
  if (addr.includes(':') && ipaddr.IPv6.isValid(addr)) addr = ipaddr.IPv6.parse(addr).toRFC5952String();
  const key = `${map}|${addr}|${proto}|${String(port)}`;
  return thread === 0 ? key : `${key}|t${String(thread)}`;
}

const THREAD_MAP = /^(service-ips|service-nodeports)(?:-t([1-9][0-9]{0,2}))?$/;

/**
 * The listener port each entry point was redirected to, from `nft -j list table <family>
 * kube-proxy-userspace` (what the previous process programmed), by redirectLookupKey.
 * Anything unexpected in the JSON is skipped.
 */
export function parseRedirectPorts(json: string): Map<string, number> {
  const out = new Map<string, number>();
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return out;
  }
  const items = isRecord(doc) && Array.isArray(doc['nftables']) ? (doc['nftables'] as unknown[]) : [];
  for (const item of items) {
    const map = isRecord(item) ? item['map'] : undefined;
    if (!isRecord(map)) continue;
    const m = typeof map['name'] === 'string' ? THREAD_MAP.exec(map['name']) : null;
    if (m === null) continue;
    const name = m[1] === 'service-ips' ? 'service-ips' : 'service-nodeports';
    const thread = m[2] === undefined ? 0 : Number(m[2]);
    const elems = Array.isArray(map['elem']) ? (map['elem'] as unknown[]) : [];
    for (const el of elems) {
      if (!Array.isArray(el) || el.length !== 2) continue;
      const [k, v] = el as [unknown, unknown];
      const concat = isRecord(k) && Array.isArray(k['concat']) ? (k['concat'] as unknown[]) : undefined;
      if (concat === undefined || !isPort(v)) continue;
      const parts = name === 'service-ips' ? concat : [undefined, ...concat];
      const [ip, proto, port] = parts;
      if (parts.length !== 3 || (ip !== undefined && typeof ip !== 'string') || (proto !== 'tcp' && proto !== 'udp') || !isPort(port)) continue;
      out.set(redirectLookupKey(name, ip, proto, port, thread), v);
    }
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** `--cleanup`: delete both tables; a missing table is not an error. */
export function renderCleanup(): string {
  return ['ip', 'ip6'].map((f) => `add table ${f} ${USERSPACE_TABLE}\ndelete table ${f} ${USERSPACE_TABLE}`).join('\n') + '\n';
}
