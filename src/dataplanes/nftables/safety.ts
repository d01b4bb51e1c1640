// Defence in depth: every name and value the renderer writes into an nft script passes one of
// these checks, whatever the model already validated. A value outside the safe charset throws
// NftUnsafeValueError; the renderer catches it per service and skips that service only.

import ipaddr from 'ipaddr.js';
import type { IPFamily, Protocol } from '../../model/types.ts';
import { NftUnsafeValueError } from './errors.ts';

// DNS-1123 label / subdomain characters. Kubernetes names never contain anything else, and
// none of these characters means anything special to nft inside an identifier or a string.
const NAME_RE = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_RE = /^[0-9a-f:.]{2,45}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** namespace, service name: DNS label/subdomain charset. */
export function safeName(field: string, value: string): string {
  if (!NAME_RE.test(value)) throw new NftUnsafeValueError(field, value);
  return value;
}

/** A port name may be empty (single unnamed port). */
export function safePortName(field: string, value: string): string {
  if (value === '') return value;
  return safeName(field, value);
}

export function safeIP(field: string, family: IPFamily, value: string): string {
  if (family === 'IPv4') {
    if (!IPV4_RE.test(value)) throw new NftUnsafeValueError(field, value);
    return value;
  }
  if (!IPV6_RE.test(value) || !ipaddr.IPv6.isValid(value)) throw new NftUnsafeValueError(field, value);
  return value;
}

export function safeCIDR(field: string, family: IPFamily, value: string): string {
  const slash = value.indexOf('/');
  if (slash < 0) throw new NftUnsafeValueError(field, value);
  safeIP(field, family, value.slice(0, slash));
  const bits = value.slice(slash + 1);
  const max = family === 'IPv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new NftUnsafeValueError(field, value);
  return value;
}

export function safePort(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new NftUnsafeValueError(field, value);
  return value;
}

export function safeTimeout(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 86400 * 365) throw new NftUnsafeValueError(field, value);
  return value;
}

export function nftProtocol(value: Protocol): 'tcp' | 'udp' | 'sctp' {
  switch (value) {
    case 'TCP': return 'tcp';
    case 'UDP': return 'udp';
    case 'SCTP': return 'sctp';
    default: throw new NftUnsafeValueError('protocol', value);
  }
}

export function safeInterfaceName(field: string, value: string): string {
  if (!IFNAME_RE.test(value)) throw new NftUnsafeValueError(field, value);
  return value;
}

/** A quoted nft string (comments, interface names). Only a conservative charset passes. */
export function quoted(field: string, value: string): string {
  if (!/^[A-Za-z0-9 _.,:/*@-]{0,128}$/.test(value)) throw new NftUnsafeValueError(field, value);
  return `"${value}"`;
}

export function familyOf(ip: string): IPFamily | undefined {
  if (IPV4_RE.test(ip)) return 'IPv4';
  if (IPV6_RE.test(ip) && ipaddr.IPv6.isValid(ip)) return 'IPv6';
  return undefined;
}

export function cidrFamily(cidr: string): IPFamily | undefined {
  const slash = cidr.indexOf('/');
  return slash < 0 ? undefined : familyOf(cidr.slice(0, slash));
}

/** Whether `ip` lies in `cidr` (both already validated, same family). */
export function cidrContains(cidr: string, ip: string): boolean {
  try {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    const addr = ipaddr.parse(ip);
    return addr.kind() === range.kind() && addr.match(range, bits);
  } catch {
    return false;
  }
}

export function isLoopback(ip: string): boolean {
  try {
    return ipaddr.parse(ip).range() === 'loopback';
  } catch {
    return false;
  }
}
