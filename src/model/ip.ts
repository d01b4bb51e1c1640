// IP and CIDR parsing for the model: strict enough to reject garbage, lenient where upstream's
// Go parser (k8s.io/utils/net ParseIPSloppy) is lenient, and always producing one canonical
// string per address so that keys ("ip:port") compare correctly.

import ipaddr from 'ipaddr.js';
import type { IPFamily } from './types.ts';

export interface ParsedIP {
  /** Canonical text: dotted decimal for IPv4, RFC 5952 for IPv6. */
  readonly ip: string;
  readonly family: IPFamily;
}

export interface ParsedCIDR {
  /** Canonical network ("10.0.0.0/8"): host bits cleared, like Go's net.ParseCIDR. */
  readonly cidr: string;
  readonly family: IPFamily;
}

/**
 * Four-part dotted decimal, each part 1–3 digits and ≤ 255. Leading zeros are decimal, as in
 * Go's ParseIPSloppy ("010.0.0.1" is 10.0.0.1), never octal. Returns the canonical text: the
 * input itself when it already is (no leading zeros), which is nearly always. A hand-written
 * scan: at 100k endpoints a regular expression, its match array and a joined copy per address
 * were ≈ 80 ms of an initial list.
 */
function parseIPv4(text: string): string | undefined {
  const n = text.length;
  if (n < 7 || n > 15) return undefined;
  let parts = 0;
  let value = 0;
  let digits = 0;
  let canonical = true;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || value > 255) return undefined;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 3) return undefined;
      if (digits === 1 && value === 0) canonical = false;
      value = value * 10 + (c - 0x30);
      digits++;
    } else return undefined;
  }
  if (parts !== 4) return undefined;
  return canonical ? text : text.split('.').map((p) => String(Number.parseInt(p, 10))).join('.');
}

/**
 * Parses one IP address. Only the four-part dotted decimal IPv4 form and plain IPv6 text are
 * accepted (no "1", "0x7f.1", zone ids or surrounding whitespace). IPv4-mapped IPv6
 * ("::ffff:1.2.3.4") is IPv4, as Go's net.IP treats it.
 */
export function parseIP(text: string): ParsedIP | undefined {
  if (text.includes(':')) {
    if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
    const v6 = ipaddr.IPv6.parse(text);
    if (v6.isIPv4MappedAddress()) return { ip: v6.toIPv4Address().toString(), family: 'IPv4' };
    return { ip: v6.toRFC5952String(), family: 'IPv6' };
  }
  const v4 = parseIPv4(text);
  return v4 === undefined ? undefined : { ip: v4, family: 'IPv4' };
}

/** Parses "addr/prefix" and returns the canonical network. */
export function parseCIDR(text: string): ParsedCIDR | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (addr === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number.parseInt(prefixText, 10);
  const max = addr.family === 'IPv4' ? 32 : 128;
  if (prefix > max) return undefined;
  const network = addr.family === 'IPv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.ip}/${prefix}`).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(`${addr.ip}/${prefix}`).toRFC5952String();
  return { cidr: `${network}/${prefix}`, family: addr.family };
}

/** "ip:port" for IPv4, "[ip]:port" for IPv6 (Go's net.JoinHostPort). */
export function joinHostPort(ip: string, port: number): string {
  // join makes one flat string; a template literal makes a cons string (a tree of 32-byte
  // nodes), and every endpoint keeps its key.
  return (ip.includes(':') ? ['[', ip, ']:', String(port)] : [ip, ':', String(port)]).join('');
}
