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
//        l4proto . dport in @listener-ports, not DNATed (ct status dnat unset) → drop
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

import type { IPFamily } from '../../model/types.ts';
import { nftProtocol, safeIP, safePort } from '../nftables/safety.ts';
import type { RedirectMap, RedirectSpec } from './entry-points.ts';

export const USERSPACE_TABLE = 'kube-proxy-userspace';
export const LISTENER_PORTS_SET = 'listener-ports';
export const NODEPORT_IPS_SET = 'nodeport-ips';
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
 * `nodePortIPs` undefined: NodePorts on every local address but loopback.
 */
export function renderBaseAndFlush(family: IPFamily, nodePortIPs: readonly string[] | undefined): string[] {
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
    ...['nat-prerouting', 'nat-output', 'filter-input', 'services', 'services-local'].map((c) => `flush chain ${t} ${c}`),
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
  lines.push(`add rule ${t} filter-input meta l4proto . th dport @${LISTENER_PORTS_SET} ct status dnat accept`);
  lines.push(`add rule ${t} filter-input meta l4proto . th dport @${LISTENER_PORTS_SET} drop`);
  return lines;
}

/** `--cleanup`: delete both tables; a missing table is not an error. */
export function renderCleanup(): string {
  return ['ip', 'ip6'].map((f) => `add table ${f} ${USERSPACE_TABLE}\ndelete table ${f} ${USERSPACE_TABLE}`).join('\n') + '\n';
}
