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
export type ElementContainer = RedirectMap | typeof LISTENER_PORTS_SET;

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

/** The element that redirects one entry point to `listenerPort`. */
export function redirectElement(family: IPFamily, protocol: 'TCP' | 'UDP', r: RedirectSpec, listenerPort: number): Element {
  const proto = nftProtocol(protocol);
  const port = safePort('port', r.port);
  const value = String(safePort('listener port', listenerPort));
  if (r.map === 'service-nodeports') return { container: r.map, key: `${proto} . ${port}`, value };
  return { container: r.map, key: `${safeIP('service IP', family, r.ip ?? '')} . ${proto} . ${port}`, value };
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
 * listens on; needs the kernel's nft `socket` expression (renderHoldProbe).
 */
export function renderBaseAndFlush(family: IPFamily, nodePortIPs: readonly string[] | undefined, holdNew = false): string[] {
  const f = nftFamily(family);
  const t = `${f} ${USERSPACE_TABLE}`;
  const addr = family === 'IPv4' ? 'ipv4_addr' : 'ipv6_addr';
  const ipX = family === 'IPv4' ? 'ip' : 'ip6';
  const loopback = family === 'IPv4' ? '127.0.0.0/8' : '::1';
  const lines = [
    `add table ${t}`,
    `add map ${t} service-ips { type ${addr} . inet_proto . inet_service : inet_service ; }`,
    `add map ${t} service-nodeports { type inet_proto . inet_service : inet_service ; }`,
    `add set ${t} ${NODEPORT_IPS_SET} { type ${addr} ; }`,
    `add set ${t} ${LISTENER_PORTS_SET} { type inet_proto . inet_service ; }`,
    `add chain ${t} nat-prerouting { type nat hook prerouting priority -100 ; policy accept ; }`,
    `add chain ${t} nat-output { type nat hook output priority -100 ; policy accept ; }`,
    `add chain ${t} filter-input { type filter hook input priority 0 ; policy accept ; }`,
    `add chain ${t} services`,
    `add chain ${t} services-local`,
    `add chain ${t} ${LISTENER_IN_CHAIN}`,
    ...['nat-prerouting', 'nat-output', 'filter-input', 'services', 'services-local', LISTENER_IN_CHAIN].map((c) => `flush chain ${t} ${c}`),
    ...['service-ips', 'service-nodeports'].map((m) => `flush map ${t} ${m}`),
    ...[NODEPORT_IPS_SET, LISTENER_PORTS_SET].map((s) => `flush set ${t} ${s}`),
    `add rule ${t} nat-prerouting jump services`,
    `add rule ${t} nat-output jump services-local`,
  ];
  const l4 = 'meta l4proto { tcp, udp }';
  const serviceIPs = `${ipX} daddr . meta l4proto . th dport map @service-ips`;
  const nodePorts = 'meta l4proto . th dport map @service-nodeports';
  const toListener = (chain: string, port: string): string =>
    (chain === 'services' ? `redirect to : ${port}` : `dnat ${ipX} to ${ipX} saddr : ${port}`);
  let nodePortMatch: string | undefined;
  if (nodePortIPs === undefined) {
    nodePortMatch = `${ipX} daddr != ${loopback} fib daddr type local`;
  } else if (nodePortIPs.length > 0) {
    const ips = nodePortIPs.map((ip) => safeIP('nodePort address', family, ip));
    lines.push(`add element ${t} ${NODEPORT_IPS_SET} { ${ips.join(', ')} }`);
    nodePortMatch = `${ipX} daddr @${NODEPORT_IPS_SET}`;
  }
  for (const chain of ['services', 'services-local']) {
    lines.push(`add rule ${t} ${chain} ${l4} ${toListener(chain, serviceIPs)}`);
    if (nodePortMatch !== undefined) lines.push(`add rule ${t} ${chain} ${nodePortMatch} ${l4} ${toListener(chain, nodePorts)}`);
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
 * address is spelled: "map|ip|proto|port" (ip empty for NodePorts).
 */
export function redirectLookupKey(map: RedirectMap, ip: string | undefined, proto: string, port: number): string {
  let addr = ip ?? '';
  if (addr.includes(':') && ipaddr.IPv6.isValid(addr)) addr = ipaddr.IPv6.parse(addr).toRFC5952String();
  return `${map}|${addr}|${proto}|${String(port)}`;
}

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
    const name = map['name'];
    if (name !== 'service-ips' && name !== 'service-nodeports') continue;
    const elems = Array.isArray(map['elem']) ? (map['elem'] as unknown[]) : [];
    for (const el of elems) {
      if (!Array.isArray(el) || el.length !== 2) continue;
      const [k, v] = el as [unknown, unknown];
      const concat = isRecord(k) && Array.isArray(k['concat']) ? (k['concat'] as unknown[]) : undefined;
      if (concat === undefined || !isPort(v)) continue;
      const parts = name === 'service-ips' ? concat : [undefined, ...concat];
      const [ip, proto, port] = parts;
      if (parts.length !== 3 || (ip !== undefined && typeof ip !== 'string') || (proto !== 'tcp' && proto !== 'udp') || !isPort(port)) continue;
      out.set(redirectLookupKey(name, ip, proto, port), v);
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
