// IP, CIDR and host:port parsing with the semantics upstream's validation uses
// (k8s.io/utils/net ParseIPSloppy / ParseCIDRSloppy, Go's net.SplitHostPort).

import ipaddr from 'ipaddr.js';
import type { IPFamily } from '../../model/types.ts';

export interface ParsedIP {
  readonly family: IPFamily;
  /** Canonical text: dotted quad, or RFC 5952 for IPv6. */
  readonly address: string;
}

export interface Cidr {
  readonly family: IPFamily;
  /** Network address (host bits cleared), canonical. */
  readonly network: string;
  readonly prefixLength: number;
  /** "network/prefixLength", canonical. */
  readonly text: string;
}

export interface HostPort {
  readonly family: IPFamily;
  /** Canonical IP (may be the unspecified address 0.0.0.0 / ::). */
  readonly host: string;
  readonly port: number;
  /** "host:port" or "[host]:port", canonical. */
  readonly text: string;
}

const IPV4_SLOPPY = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;

/**
 * Go's ParseIPSloppy: IPv4 dotted decimal (leading zeros allowed, read as decimal) or IPv6.
 * As in Go, an IPv4-mapped IPv6 address ("::ffff:1.2.3.4") is an IPv4 address.
 */
export function parseIP(text: string): ParsedIP | undefined {
  const ip = parseIPKeepFamily(text);
  if (ip?.family !== 'IPv6') return ip;
  const v6 = ipaddr.IPv6.parse(ip.address);
  return v6.isIPv4MappedAddress() ? { family: 'IPv4', address: v6.toIPv4Address().toString() } : ip;
}

function parseIPKeepFamily(text: string): ParsedIP | undefined {
  if (text.includes(':')) {
    if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
    return { family: 'IPv6', address: ipaddr.IPv6.parse(text).toRFC5952String() };
  }
  const m = IPV4_SLOPPY.exec(text);
  if (m === null) return undefined;
  const octets = m.slice(1, 5).map((p) => Number.parseInt(p, 10));
  if (octets.some((o) => o > 255)) return undefined;
  return { family: 'IPv4', address: octets.join('.') };
}

function familyBits(family: IPFamily): number {
  return family === 'IPv4' ? 32 : 128;
}

/** Go's ParseCIDRSloppy: "ip/prefix"; host bits may be set (they are cleared in `network`). */
export function parseCIDR(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIPKeepFamily(text.slice(0, slash));
  const mask = text.slice(slash + 1);
  if (ip === undefined || !/^\d+$/.test(mask)) return undefined;
  const prefixLength = Number.parseInt(mask, 10);
  if (prefixLength > familyBits(ip.family)) return undefined;
  const network =
    ip.family === 'IPv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.address}/${prefixLength}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${ip.address}/${prefixLength}`).toRFC5952String();
  return { family: ip.family, network, prefixLength, text: `${network}/${prefixLength}` };
}

/** Go's net.SplitHostPort. Returns an error string (Go's wording) on failure. */
export function splitHostPort(text: string): { host: string; port: string } | { error: string } {
  const missingPort = { error: `address ${text}: missing port in address` };
  const tooMany = { error: `address ${text}: too many colons in address` };
  const i = text.lastIndexOf(':');
  if (i < 0) return missingPort;
  let host: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return { error: `address ${text}: missing ']' in address` };
    if (end + 1 === text.length) return missingPort;
    if (end + 1 !== i) {
      return text[end + 1] === ':' ? tooMany : { error: `address ${text}: missing port in address` };
    }
    host = text.slice(1, end);
    if (host.includes('[') || host.includes(']')) return { error: `address ${text}: unexpected '[' in address` };
  } else {
    host = text.slice(0, i);
    if (host.includes(':')) return tooMany;
    if (host.includes('[') || host.includes(']')) return { error: `address ${text}: unexpected '[' in address` };
  }
  if (text.slice(i + 1).includes(']')) return { error: `address ${text}: unexpected ']' in address` };
  return { host, port: text.slice(i + 1) };
}

export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parse "IP:port" as upstream's validateHostPort does: every problem is reported (one string
 * per problem, upstream's detail text with the offending part).
 */
export function parseHostPort(text: string): HostPort | { errors: { value: string; detail: string }[] } {
  const split = splitHostPort(text);
  if ('error' in split) return { errors: [{ value: text, detail: 'must be IP:port' }] };
  const errors: { value: string; detail: string }[] = [];
  const ip = parseIP(split.host);
  if (ip === undefined) errors.push({ value: split.host, detail: 'must be a valid IP' });
  const port = /^\d+$/.test(split.port) ? Number.parseInt(split.port, 10) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) errors.push({ value: split.port, detail: 'must be a valid port' });
  if (ip === undefined || errors.length > 0) return { errors };
  return { family: ip.family, host: ip.address, port, text: joinHostPort(ip.address, port) };
}

/** proxyutil.AppendPortIfNeeded: a bare IP gets ":port" ("[ip]:port" for IPv6); else unchanged. */
export function appendPortIfNeeded(addr: string, port: number): string {
  if (!('error' in splitHostPort(addr))) return addr;
  const ip = parseIP(addr);
  if (ip === undefined) return addr;
  return ip.family === 'IPv4' ? `${addr}:${port}` : `[${addr}]:${port}`;
}

export type DualStackResult = { cidrs: Cidr[] } | { errors: { field: string; value: string; detail: string }[] };

/**
 * A single CIDR or a dual-stack pair (upstream validateDualStackCIDRStrings), from a
 * comma-separated string. `field` names the field in error reports.
 */
export function parseDualStackCIDRs(text: string, field: string): DualStackResult {
  const parts = text.split(',');
  const pairDetail = 'must be a either a single CIDR or dual-stack pair of CIDRs (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)';
  if (parts.length > 2) return { errors: [{ field, value: text, detail: pairDetail }] };
  const errors: { field: string; value: string; detail: string }[] = [];
  const cidrs: Cidr[] = [];
  for (const part of parts) {
    const c = parseCIDR(part.trim());
    if (c === undefined) {
      errors.push({ field, value: part, detail: 'must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)' });
    } else {
      cidrs.push(c);
    }
  }
  if (errors.length > 0) return { errors };
  if (cidrs.length === 2 && cidrs[0]?.family === cidrs[1]?.family) {
    return { errors: [{ field, value: text, detail: pairDetail }] };
  }
  return { cidrs };
}
