// Renderer options and their per-family resolution. Options are validated once per family
// (NftConfigError when invalid); the result is what the pure renderer reads.

import type { IPFamily } from '../../model/types.ts';
import { NftConfigError, NftUnsafeValueError } from './errors.ts';
import { cidrContains, cidrFamily, familyOf, isLoopback, quoted, safeCIDR, safeIP, safeInterfaceName } from './safety.ts';
import { nftFamilyOf, type NftFamily } from './ruleset.ts';

/** How to tell pod traffic from other traffic (--detect-local-mode). */
export type LocalDetector =
  | { readonly mode: 'ClusterCIDR'; readonly cidrs: readonly string[] }
  | { readonly mode: 'NodeCIDR'; readonly cidrs: readonly string[] }
  | { readonly mode: 'BridgeInterface'; readonly interfaceName: string }
  | { readonly mode: 'InterfaceNamePrefix'; readonly prefix: string }
  | { readonly mode: 'None' };

/** Where NodePorts are accepted (--nodeport-addresses). */
export type NodePortAddresses =
  /** The node's primary IP of each family (the nftables-mode default). */
  | { readonly kind: 'primary' }
  /** Local addresses inside these CIDRs; a family with no CIDR listed accepts on all. */
  | { readonly kind: 'cidrs'; readonly cidrs: readonly string[] }
  /** Every local address (`fib daddr type local`), except loopback. */
  | { readonly kind: 'all' };

export interface NftablesRenderOptions {
  readonly masqueradeAll?: boolean;
  /** Bit of the packet mark used to request masquerade; default 14 (0x4000). */
  readonly masqueradeBit?: number;
  readonly localDetector?: LocalDetector;
  readonly nodePortAddresses?: NodePortAddresses;
  /** The node's IPs, primary first within each family. */
  readonly nodeIPs?: readonly string[];
  /** Addresses on the node's interfaces, matched against nodePortAddresses CIDRs (defaults to nodeIPs). */
  readonly localAddresses?: readonly string[];
  /** Service CIDRs: traffic to unallocated IPs in them is dropped. */
  readonly serviceCIDRs?: readonly string[];
}

/** Options resolved for one family: everything already validated and formatted. */
export interface FamilyContext {
  readonly family: IPFamily;
  readonly nft: NftFamily;
  /** "ip" or "ip6", for "ip saddr" etc. */
  readonly ipX: 'ip' | 'ip6';
  readonly addrType: 'ipv4_addr' | 'ipv6_addr';
  readonly noLocalhost: string;
  readonly masqueradeAll: boolean;
  /** "0x4000" */
  readonly mark: string;
  /** Matches pod traffic ("ip saddr 10.0.0.0/8"), undefined when detection is off. */
  readonly ifLocal: string | undefined;
  readonly ifNotLocal: string | undefined;
  /** undefined: NodePorts on every local address. */
  readonly nodePortIPs: readonly string[] | undefined;
  readonly primaryNodeIP: string | undefined;
  readonly serviceCIDRs: readonly string[];
}

function formatMark(bit: number): string {
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw new NftConfigError(`masqueradeBit must be an integer in 0..31, got ${String(bit)}`);
  return `0x${((1 << bit) >>> 0).toString(16)}`;
}

function ofFamily(family: IPFamily, what: string, values: readonly string[], cidr: boolean): string[] {
  const out: string[] = [];
  for (const v of values) {
    const f = cidr ? cidrFamily(v) : familyOf(v);
    if (f === undefined) throw new NftConfigError(`invalid ${what}: ${JSON.stringify(v)}`);
    if (f !== family) continue;
    try {
      out.push(cidr ? safeCIDR(what, family, v) : safeIP(what, family, v));
    } catch (err) {
      throw new NftConfigError(`invalid ${what}: ${JSON.stringify(v)}`, { cause: err });
    }
  }
  return out;
}

function setOrSingle(values: readonly string[]): string {
  return values.length === 1 ? (values[0] ?? '') : `{ ${values.join(', ')} }`;
}

function detector(family: IPFamily, ipX: string, d: LocalDetector): [string | undefined, string | undefined] {
  try {
    switch (d.mode) {
      case 'ClusterCIDR':
      case 'NodeCIDR': {
        const cidrs = ofFamily(family, 'local detector CIDR', d.cidrs, true);
        if (cidrs.length === 0) return [undefined, undefined];
        return [`${ipX} saddr ${setOrSingle(cidrs)}`, `${ipX} saddr != ${setOrSingle(cidrs)}`];
      }
      case 'BridgeInterface': {
        const name = quoted('bridge interface', safeInterfaceName('bridge interface', d.interfaceName));
        return [`iifname ${name}`, `iifname != ${name}`];
      }
      case 'InterfaceNamePrefix': {
        const name = quoted('interface prefix', `${safeInterfaceName('interface prefix', d.prefix)}*`);
        return [`iifname ${name}`, `iifname != ${name}`];
      }
      case 'None':
        return [undefined, undefined];
    }
  } catch (err) {
    if (err instanceof NftUnsafeValueError) throw new NftConfigError(err.message, { cause: err });
    throw err;
  }
}

export function resolveFamilyContext(family: IPFamily, o: NftablesRenderOptions): FamilyContext {
  const ipX = family === 'IPv4' ? 'ip' : 'ip6';
  const nodeIPs = ofFamily(family, 'node IP', o.nodeIPs ?? [], false);
  const primaryNodeIP = nodeIPs[0];
  const npa = o.nodePortAddresses ?? { kind: 'primary' };
  let nodePortIPs: string[] | undefined;
  if (npa.kind === 'primary') {
    nodePortIPs = primaryNodeIP !== undefined && !isLoopback(primaryNodeIP) ? [primaryNodeIP] : [];
  } else if (npa.kind === 'cidrs') {
    const cidrs = ofFamily(family, 'nodePortAddresses CIDR', npa.cidrs, true);
    const zero = cidrs.some((c) => c.endsWith('/0'));
    if (cidrs.length === 0 || zero) {
      nodePortIPs = undefined;
    } else {
      const local = ofFamily(family, 'local address', o.localAddresses ?? o.nodeIPs ?? [], false);
      nodePortIPs = [...new Set(local.filter((ip) => !isLoopback(ip) && cidrs.some((c) => cidrContains(c, ip))))];
    }
  }
  const [ifLocal, ifNotLocal] = detector(family, ipX, o.localDetector ?? { mode: 'None' });
  return {
    family,
    nft: nftFamilyOf(family),
    ipX,
    addrType: family === 'IPv4' ? 'ipv4_addr' : 'ipv6_addr',
    noLocalhost: family === 'IPv4' ? 'ip daddr != 127.0.0.0/8' : 'ip6 daddr != ::1',
    masqueradeAll: o.masqueradeAll ?? false,
    mark: formatMark(o.masqueradeBit ?? 14),
    ifLocal,
    ifNotLocal,
    nodePortIPs,
    primaryNodeIP,
    serviceCIDRs: ofFamily(family, 'service CIDR', o.serviceCIDRs ?? [], true),
  };
}
