// IP and CIDR parsing as the API server validates them: plain addresses without zones or
// leading zeros, CIDRs as network/prefix. Addresses are handled as bigints for allocation.

import { isIPv4, isIPv6 } from 'node:net';

export type Family = 'IPv4' | 'IPv6';

export interface ParsedIP {
  readonly family: Family;
  readonly value: bigint;
}

export interface ParsedCIDR {
  readonly family: Family;
  /** Network address (host bits zero). */
  readonly base: bigint;
  readonly prefix: number;
  /** Number of addresses in the range. */
  readonly size: bigint;
  /** The text as given. */
  readonly text: string;
}

function v4ToBig(s: string): bigint {
  let v = 0n;
  for (const part of s.split('.')) v = (v << 8n) | BigInt(Number(part));
  return v;
}

function v6ToBig(s: string): bigint {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // Embedded IPv4 (::ffff:1.2.3.4): rewrite as two hex groups.
    const v4 = v4ToBig(last);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const parseGroups = (g: string): bigint[] => (g === '' ? [] : g.split(':').map((x) => BigInt(parseInt(x, 16))));
  const [head = '', rest] = text.split('::');
  const h = parseGroups(head);
  const r = rest === undefined ? [] : parseGroups(rest);
  const groups = rest === undefined ? h : [...h, ...new Array<bigint>(8 - h.length - r.length).fill(0n), ...r];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | g;
  return v;
}

/** Parses an IP address; undefined when invalid (zones are rejected like Go's net.ParseIP). */
export function parseIP(s: string): ParsedIP | undefined {
  if (isIPv4(s)) return { family: 'IPv4', value: v4ToBig(s) };
  if (isIPv6(s) && !s.includes('%')) return { family: 'IPv6', value: v6ToBig(s) };
  return undefined;
}

export function formatIP(family: Family, v: bigint): string {
  if (family === 'IPv4') {
    return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an IP, or the input when it does not parse. */
export function canonicalIP(s: string): string {
  const p = parseIP(s);
  return p ? formatIP(p.family, p.value) : s;
}

export function parseCIDR(s: string): ParsedCIDR | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = ip.family === 'IPv4' ? 32 : 128;
  if (prefix > bits) return undefined;
  const hostBits = BigInt(bits - prefix);
  const base = (ip.value >> hostBits) << hostBits;
  return { family: ip.family, base, prefix, size: 1n << hostBits, text: s };
}

export function cidrContains(c: ParsedCIDR, ip: ParsedIP): boolean {
  return c.family === ip.family && ip.value >= c.base && ip.value < c.base + c.size;
}
