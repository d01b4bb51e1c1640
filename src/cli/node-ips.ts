// Which IPs are "this node's": upstream's detectNodeIPs. A specific --bind-address wins; then
// the Node object's InternalIP/ExternalIP addresses; then the addresses on our own interfaces
// (our addition, for the embedded control plane where no kubelet registers the Node); then
// loopback, with a warning, as upstream does.

import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { IPFamily, NodeInfo } from '../model/types.ts';

export interface NodeIPs {
  /** Primary first, then the other family's first address (dual-stack). */
  readonly ips: readonly string[];
  readonly source: 'bind-address' | 'node' | 'interfaces' | 'loopback';
}

function familyOf(ip: string): IPFamily {
  return ipaddr.parse(ip).kind() === 'ipv4' ? 'IPv4' : 'IPv6';
}

/** Global unicast addresses on this host's interfaces, IPv4 first. */
export function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal) continue;
      const range = ipaddr.parse(a.address).range();
      if (range === 'linkLocal' || range === 'loopback') continue;
      out.push(ipaddr.parse(a.address).toString());
    }
  }
  return out.sort((x, y) => (familyOf(x) === familyOf(y) ? 0 : familyOf(x) === 'IPv4' ? -1 : 1));
}

/** First address of each family, primary family first. */
function firstPerFamily(ips: readonly string[]): string[] {
  const seen = new Set<IPFamily>();
  const out: string[] = [];
  for (const ip of ips) {
    const f = familyOf(ip);
    if (seen.has(f)) continue;
    seen.add(f);
    out.push(ip);
  }
  return out;
}

export function detectNodeIPs(bindAddress: string, node: NodeInfo | undefined, local: readonly string[] = interfaceAddresses()): NodeIPs {
  const bind = ipaddr.parse(bindAddress);
  if (bind.range() !== 'unspecified' && bind.range() !== 'loopback') {
    return { ips: [bind.toString()], source: 'bind-address' };
  }
  if (node !== undefined && node.addresses.length > 0) return { ips: firstPerFamily(node.addresses), source: 'node' };
  if (local.length > 0) return { ips: firstPerFamily(local), source: 'interfaces' };
  return { ips: ['127.0.0.1'], source: 'loopback' };
}
