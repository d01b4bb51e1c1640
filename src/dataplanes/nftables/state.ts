// What the dataplane believes is in the kernel for one family, and what it last asked for.
// Updated only after a transaction succeeded, so it never runs ahead of the kernel.
//
// Identities are "TABLE NAME" strings (objId in ruleset.ts): chains, affinity sets and element
// containers live in TABLE or in an extra service table (placement.ts).

import type { IPFamily, ServiceKey } from '../../model/types.ts';
import type { NftFamily, NftChain, NftSetDecl, ServiceFragment } from './ruleset.ts';
import { containerId, elementKeyText, elementPayloadText, objId } from './ruleset.ts';

/** A compact record of one rendered service port (rules are kept only as hashes). */
export interface FragmentRecord {
  readonly serviceKey: ServiceKey;
  readonly table: string;
  /** chain id → hash of its rules */
  readonly chains: ReadonlyMap<string, string>;
  /** affinity set id → signature ("type/timeout") */
  readonly sets: ReadonlyMap<string, string>;
  /**
   * Its elements, flat: container id, key text, payload text, container id, … (one array per
   * port rather than one per element: ~8 MiB less at 10k services × 10 endpoints).
   * Read with recordElements().
   */
  readonly elements: readonly string[];
  /** Endpoint addresses in the hairpin set on its behalf. */
  readonly hairpin: readonly string[];
  readonly noLocalInternal: boolean;
  readonly noLocalExternal: boolean;
}

export class FamilyState {
  readonly family: IPFamily;
  readonly nft: NftFamily;
  /** Set after the first successful full rewrite of this process. */
  fullySynced = false;
  /** Service tables in use (1 = TABLE only); 0 before the first full rewrite. */
  shards = 0;
  /** Monotonic ms of the last full rewrite. */
  lastRewriteAt: number | undefined;
  /** Monotonic ms of the last full read of the kernel (names and elements). */
  lastKernelReadAt: number | undefined;
  // --- the kernel, as far as we know ---
  /** Our tables. */
  readonly tables = new Set<string>();
  /** Fixed chains of our tables: id → hash of rules. */
  readonly fixedChains = new Map<string, string>();
  /** Service-specific chains: id → hash of rules ("" when flushed). */
  readonly chains = new Map<string, string>();
  /** Affinity sets: id → signature. */
  readonly affinitySets = new Map<string, string>();
  /** Elements of the reconciled sets/maps: container id → key text → payload text. */
  readonly elements = new Map<string, Map<string, string>>();
  /** Addresses whose "ip . ip" element is in the hairpin set. */
  readonly hairpin = new Set<string>();
  // --- in the kernel but no longer wanted: deleted by a later cleanup transaction ---
  /** Flushed chains: id → monotonic ms when flushed. */
  readonly staleChains = new Map<string, number>();
  /** Affinity sets no rule refers to any more: id → since. */
  readonly staleSets = new Map<string, number>();
  /** Elements left in place because they are harmless until deleted: container → key → since. */
  readonly staleElements = new Map<string, Map<string, number>>();
  // --- what we asked for ---
  readonly fragments = new Map<string, FragmentRecord>();
  readonly portsByService = new Map<ServiceKey, Set<string>>();
  /** container → key → owning port(s) and payload (two services may claim one key). */
  readonly owners = new Map<string, Map<string, OwnerEntry>>();
  noLocalInternal = 0;
  noLocalExternal = 0;

  constructor(family: IPFamily, nft: NftFamily) {
    this.family = family;
    this.nft = nft;
  }

  elementCount(): number {
    let n = this.hairpin.size;
    for (const m of this.elements.values()) n += m.size;
    return n;
  }

  staleCount(): number {
    let n = this.staleChains.size + this.staleSets.size;
    for (const m of this.staleElements.values()) n += m.size;
    return n;
  }

  /** Monotonic ms of the oldest deferred deletion, undefined when there is none. */
  oldestStale(): number | undefined {
    let oldest: number | undefined;
    const see = (t: number): void => { if (oldest === undefined || t < oldest) oldest = t; };
    for (const t of this.staleChains.values()) see(t);
    for (const t of this.staleSets.values()) see(t);
    for (const m of this.staleElements.values()) for (const t of m.values()) see(t);
    return oldest;
  }
}

/** cyrb53: a fast 53-bit string hash; collisions are irrelevant at our scale. */
export function hashText(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

export function chainHash(c: Pick<NftChain, 'rules'>): string {
  return hashText(c.rules.join('\n'));
}

export function setSignature(s: Pick<NftSetDecl, 'type' | 'timeoutSeconds'>): string {
  return `${s.type}/${String(s.timeoutSeconds ?? 0)}`;
}

export function toRecord(f: ServiceFragment): FragmentRecord {
  return {
    serviceKey: f.serviceKey,
    table: f.table,
    chains: new Map(f.chains.map((c) => [objId(c.table, c.name), chainHash(c)])),
    sets: new Map(f.sets.map((s) => [objId(s.table, s.name), setSignature(s)])),
    elements: f.elements.flatMap((e) => [containerId(e.table, e.set), elementKeyText(e), elementPayloadText(e)]),
    hairpin: f.hairpin,
    noLocalInternal: f.noLocalInternal,
    noLocalExternal: f.noLocalExternal,
  };
}

/**
 * Who wants an element and with which payload. Almost every key has one owner, kept as a pair:
 * a Map per key cost ~200 bytes × every element (25 MiB at 10k services × 10 endpoints).
 */
export type OwnerEntry = readonly [owner: string, payload: string] | ReadonlyMap<string, string>;

/** The (owner, payload) pairs of an entry. */
export function ownerPairs(e: OwnerEntry | undefined): Iterable<readonly [string, string]> {
  if (e === undefined) return [];
  return isPair(e) ? [e] : e;
}

function isPair(e: OwnerEntry): e is readonly [string, string] {
  return Array.isArray(e);
}

/** `e` with `owner` wanting `payload` (undefined: no longer wanting); undefined when nobody is left. */
export function withOwner(e: OwnerEntry | undefined, owner: string, payload: string | undefined): OwnerEntry | undefined {
  if (e === undefined) return payload === undefined ? undefined : [owner, payload];
  if (isPair(e)) {
    if (e[0] === owner) return payload === undefined ? undefined : [owner, payload];
    if (payload === undefined) return e;
    return new Map([e, [owner, payload]]);
  }
  if (payload === undefined && !e.has(owner)) return e;
  const m = new Map(e);
  if (payload === undefined) m.delete(owner);
  else m.set(owner, payload);
  if (m.size === 0) return undefined;
  if (m.size === 1) {
    const [only] = m;
    return only;
  }
  return m;
}

/** The [container, key, payload] triples of a record. */
export function* recordElements(rec: FragmentRecord | undefined): Generator<readonly [string, string, string]> {
  if (rec === undefined) return;
  const e = rec.elements;
  for (let i = 0; i + 2 < e.length; i += 3) yield [e[i] ?? '', e[i + 1] ?? '', e[i + 2] ?? ''];
}

/** The payload a key resolves to given its owners: the lexically smallest owner wins. */
export function effectivePayload(owners: OwnerEntry | ReadonlyMap<string, string> | undefined): string | undefined {
  if (owners === undefined) return undefined;
  let bestKey: string | undefined;
  let best: string | undefined;
  for (const [k, v] of ownerPairs(owners)) {
    if (bestKey === undefined || k < bestKey) { bestKey = k; best = v; }
  }
  return best;
}

/** m.get(k), creating an empty Map there first if needed. */
export function child<K, K2, V2>(m: Map<K, Map<K2, V2>>, k: K): Map<K2, V2> {
  let v = m.get(k);
  if (!v) m.set(k, (v = new Map<K2, V2>()));
  return v;
}

/** Replace the record of one port (undefined: gone), keeping the per-service index and counters. */
export function replaceFragment(state: FamilyState, portKey: string, rec: FragmentRecord | undefined): void {
  const old = state.fragments.get(portKey);
  if (old) {
    if (old.noLocalInternal) state.noLocalInternal--;
    if (old.noLocalExternal) state.noLocalExternal--;
    const ports = state.portsByService.get(old.serviceKey);
    ports?.delete(portKey);
    if (ports?.size === 0) state.portsByService.delete(old.serviceKey);
    state.fragments.delete(portKey);
  }
  if (!rec) return;
  state.fragments.set(portKey, rec);
  if (rec.noLocalInternal) state.noLocalInternal++;
  if (rec.noLocalExternal) state.noLocalExternal++;
  let ports = state.portsByService.get(rec.serviceKey);
  if (!ports) state.portsByService.set(rec.serviceKey, (ports = new Set()));
  ports.add(portKey);
}

/** Record `owner` as wanting payload (undefined: no longer wanting) for one element. */
export function setOwner(state: FamilyState, container: string, key: string, owner: string, payload: string | undefined): void {
  const byKey = child(state.owners, container);
  const next = withOwner(byKey.get(key), owner, payload);
  if (next === undefined) byKey.delete(key);
  else byKey.set(key, next);
}
