// Bitmap allocators for ClusterIPs and NodePorts, with kube-apiserver's split of the range
// (KEP-3070/3668): dynamic allocation prefers the upper band, leaving the lower band to
// explicitly requested values; it falls back to the lower band when the upper one is full.

import { randomInt } from 'node:crypto';
import { cidrContains, formatIP, parseCIDR, parseIP, type Family, type ParsedCIDR } from './ip.ts';

/** Offsets [0, size); some offsets may be excluded entirely or from dynamic allocation only. */
export class RangeAllocator {
  readonly size: number;
  private readonly used: Uint8Array;
  private readonly staticBand: number;
  private readonly excluded: ReadonlySet<number>;
  private readonly noDynamic: ReadonlySet<number>;
  private count = 0;

  constructor(size: number, staticBand: number, excluded: ReadonlySet<number> = new Set(), noDynamic: ReadonlySet<number> = new Set()) {
    this.size = size;
    this.used = new Uint8Array(size);
    this.staticBand = Math.min(staticBand, size);
    this.excluded = excluded;
    this.noDynamic = noDynamic;
  }

  inRange(offset: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset < this.size && !this.excluded.has(offset);
  }

  has(offset: number): boolean {
    return this.inRange(offset) && this.used[offset] === 1;
  }

  /** Marks a specific offset; false when already taken or not allocatable. */
  allocate(offset: number): boolean {
    if (!this.inRange(offset) || this.used[offset] === 1) return false;
    this.used[offset] = 1;
    this.count++;
    return true;
  }

  /** Picks a free offset (upper band first, random start); undefined when full. */
  allocateNext(): number | undefined {
    const pick = (lo: number, hi: number): number | undefined => {
      if (hi <= lo) return undefined;
      const start = lo + randomInt(hi - lo);
      for (let i = 0; i < hi - lo; i++) {
        const o = lo + ((start - lo + i) % (hi - lo));
        if (this.used[o] === 0 && !this.excluded.has(o) && !this.noDynamic.has(o)) {
          this.used[o] = 1;
          this.count++;
          return o;
        }
      }
      return undefined;
    };
    return pick(this.staticBand, this.size) ?? pick(0, this.staticBand);
  }

  release(offset: number): void {
    if (offset >= 0 && offset < this.size && this.used[offset] === 1) {
      this.used[offset] = 0;
      this.count--;
    }
  }

  get allocated(): number {
    return this.count;
  }
}

export type AllocateResult = { ok: true; value: string } | { ok: false; reason: 'out-of-range' | 'allocated' | 'full' };

/** ClusterIPs of one family from one service CIDR. */
export class IPAllocator {
  readonly family: Family;
  readonly cidr: ParsedCIDR;
  private readonly bits: RangeAllocator;

  constructor(cidrText: string) {
    const cidr = parseCIDR(cidrText);
    if (!cidr) throw new Error(`invalid service CIDR ${JSON.stringify(cidrText)}`);
    const maxPrefixLen = cidr.family === 'IPv4' ? 12 : 108;
    if (cidr.prefix < maxPrefixLen) throw new Error(`service CIDR ${cidrText} is too large; the mask must be >= ${String(maxPrefixLen)}`);
    if (cidr.size < 4n) throw new Error(`service CIDR ${cidrText} is too small`);
    this.family = cidr.family;
    this.cidr = cidr;
    const size = Number(cidr.size);
    // Network address (and the IPv4 broadcast) are never handed out; the first usable address
    // is kept for the `kubernetes` Service: it can be requested but is never picked dynamically.
    const excluded = new Set<number>([0]);
    if (cidr.family === 'IPv4') excluded.add(size - 1);
    this.bits = new RangeAllocator(size, Math.min(Math.max(16, Math.floor(size / 16)), 256), excluded, new Set([1]));
  }

  private offsetOf(ip: string): number | undefined {
    const p = parseIP(ip);
    if (!p || !cidrContains(this.cidr, p)) return undefined;
    const off = Number(p.value - this.cidr.base);
    return this.bits.inRange(off) ? off : undefined;
  }

  contains(ip: string): boolean {
    return this.offsetOf(ip) !== undefined;
  }

  allocate(ip: string): AllocateResult {
    const off = this.offsetOf(ip);
    if (off === undefined) return { ok: false, reason: 'out-of-range' };
    if (!this.bits.allocate(off)) return { ok: false, reason: 'allocated' };
    return { ok: true, value: ip };
  }

  allocateNext(): AllocateResult {
    const off = this.bits.allocateNext();
    if (off === undefined) return { ok: false, reason: 'full' };
    return { ok: true, value: formatIP(this.family, this.cidr.base + BigInt(off)) };
  }

  release(ip: string): void {
    const off = this.offsetOf(ip);
    if (off !== undefined) this.bits.release(off);
  }

  isAllocated(ip: string): boolean {
    const off = this.offsetOf(ip);
    return off !== undefined && this.bits.has(off);
  }

  get allocated(): number {
    return this.bits.allocated;
  }
}

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

export function parsePortRange(text: string): PortRange {
  const m = /^(\d+)(?:-(\d+)|\+(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`invalid port range ${JSON.stringify(text)}`);
  const min = Number(m[1]);
  const max = m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? min + Number(m[3]) : min;
  if (min < 1 || max > 65535 || max < min) throw new Error(`invalid port range ${JSON.stringify(text)}`);
  return { min, max };
}

export class PortAllocator {
  readonly range: PortRange;
  private readonly bits: RangeAllocator;

  constructor(range: PortRange) {
    this.range = range;
    const size = range.max - range.min + 1;
    this.bits = new RangeAllocator(size, Math.min(Math.max(16, Math.floor(size / 32)), 128));
  }

  inRange(port: number): boolean {
    return port >= this.range.min && port <= this.range.max;
  }

  allocate(port: number): 'ok' | 'out-of-range' | 'allocated' {
    if (!this.inRange(port)) return 'out-of-range';
    return this.bits.allocate(port - this.range.min) ? 'ok' : 'allocated';
  }

  allocateNext(): number | undefined {
    const off = this.bits.allocateNext();
    return off === undefined ? undefined : off + this.range.min;
  }

  release(port: number): void {
    if (this.inRange(port)) this.bits.release(port - this.range.min);
  }

  isAllocated(port: number): boolean {
    return this.inRange(port) && this.bits.has(port - this.range.min);
  }

  get allocated(): number {
    return this.bits.allocated;
  }

  describe(): string {
    return `${String(this.range.min)}-${String(this.range.max)}`;
  }
}
