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
  /** container → key → owning port(s) (two services may claim one key). */
  readonly owners = new Map<string, Map<string, Owners>>();
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

/** Shared by the records of ports without chains or sets of their own (most ClusterIP ports). */
const NO_ENTRIES: ReadonlyMap<string, string> = new Map();

export function toRecord(f: ServiceFragment): FragmentRecord {
  return {
    serviceKey: f.serviceKey,
    table: f.table,
    chains: f.chains.length === 0 ? NO_ENTRIES : new Map(f.chains.map((c) => [objId(c.table, c.name), chainHash(c)])),
    sets: f.sets.length === 0 ? NO_ENTRIES : new Map(f.sets.map((s) => [objId(s.table, s.name), setSignature(s)])),
    elements: f.elements.flatMap((e) => [containerId(e.table, e.set), elementKeyText(e), elementPayloadText(e)]),
    hairpin: f.hairpin,
    noLocalInternal: f.noLocalInternal,
    noLocalExternal: f.noLocalExternal,
  };
}

/**
 * Who wants an element: the port key of its one owner (almost always), or the sorted port keys
 * of several. The payload each owner wants is in that owner's record (payloadIn); the one in
 * force is the winner's (the lexically smallest owner). A pair or a Map per key cost 90–200
 * bytes × every element (11–25 MiB at 10k services × 10 endpoints); a port key is shared.
 */
export type Owners = string | readonly string[];

/** The owners, as a list. */
export function ownerList(o: Owners | undefined): readonly string[] {
  if (o === undefined) return [];
  return typeof o === 'string' ? [o] : o;
}

/** The owner whose payload is in force. */
export function winner(o: Owners): string {
  return typeof o === 'string' ? o : (o[0] ?? '');
}

/** `o` with `owner` added (no change when it is one already). */
export function addOwner(o: Owners | undefined, owner: string): Owners {
  if (o === undefined || o === owner) return owner;
  const list = ownerList(o);
  if (list.includes(owner)) return o;
  return [...list, owner].sort();
}

/** `o` without `owner`; undefined when nobody is left. */
export function removeOwner(o: Owners | undefined, owner: string): Owners | undefined {
  if (o === undefined || o === owner) return undefined;
  if (typeof o === 'string') return o;
  const rest = o.filter((x) => x !== owner);
  if (rest.length === o.length) return o;
  return rest.length === 1 ? (rest[0] ?? undefined) : rest;
}

/** The payload `rec` wants for key in container (the last listing wins, as it did when written). */
export function payloadIn(rec: FragmentRecord | undefined, container: string, key: string): string | undefined {
  let found: string | undefined;
  for (const [c, k, payload] of recordElements(rec)) if (c === container && k === key) found = payload;
  return found;
}

/** The [container, key, payload] triples of a record. */
export function* recordElements(rec: FragmentRecord | undefined): Generator<readonly [string, string, string]> {
  if (rec === undefined) return;
  const e = rec.elements;
  for (let i = 0; i + 2 < e.length; i += 3) yield [e[i] ?? '', e[i + 1] ?? '', e[i + 2] ?? ''];
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

/** Record whether `owner` wants an element (its payload is in its record). */
export function setOwner(state: FamilyState, container: string, key: string, owner: string, wants: boolean): void {
  const byKey = child(state.owners, container);
  const next = wants ? addOwner(byKey.get(key), owner) : removeOwner(byKey.get(key), owner);
  if (next === undefined) byKey.delete(key);
  else byKey.set(key, next);
}
