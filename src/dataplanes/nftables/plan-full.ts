// Full syncs, two kinds:
//
// - rewrite (first sync of a process, after a failure, hourly, or to re-spread services over
//   tables): every chain is flushed and written again, base chains are re-created on the first
//   one (fixes changed priorities), the hairpin set is rebuilt, tables no longer used go;
// - resync (every syncPeriod otherwise): service chains are written only when the kernel lacks
//   them or their rules' hash differs from our record, so a resync of an unchanged ruleset
//   writes only the few fixed chains; drift inside a service chain's rules waits for the next
//   rewrite.
//
// Both reconcile elements, chain names and affinity sets by diff against a fresh read of the
// kernel (names and elements, never rules: kernel-read.ts), never flush the table, and delete
// what is no longer wanted in the same transaction (a full sync fills nft's cache anyway).
// Containers the read did not list the elements of (large rulesets) are flushed and written
// whole, in the same transaction: atomic, so no packet sees them empty.

import * as N from './names.ts';
import type { FamilyContext } from './options.ts';
import { deleteElement, ElementAdds, newStats, Sections, verdictFree, writeServiceChain, type FamilyPlan } from './plan-common.ts';
import { containerDecl, withLbChains } from './render-base.ts';
import { chainDeclText, elementDeleteText, elementKeyText, elementPayloadText, hairpinKey, nameOfId, objId, ruleText, setDeclText, setElementsText, tableOfId, type NftFamily, type ServiceFragment, type TableRuleset } from './ruleset.ts';
import { addOwner, chainHash, child, replaceFragment, setSignature, recordElements, toRecord, winner, type FamilyState, type FragmentRecord, type Owners } from './state.ts';

/** What the kernel holds according to a fresh read (names and elements). */
export interface KernelView {
  /** Our tables. */
  readonly tables: ReadonlySet<string>;
  /** Every chain of our tables, as ids. */
  readonly chains: ReadonlySet<string>;
  readonly affinitySets: ReadonlyMap<string, string>;
  /** container id → key → payload, for the reconciled containers present and read. */
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Reconciled containers present but not read (large rulesets): flushed and written whole. */
  readonly unread: ReadonlyMap<string, 'set' | 'map'>;
}

export interface FullPlanInput {
  readonly ctx: FamilyContext;
  /** Fixed parts of every table to have, TABLE first (the lb chains the fragments use are added here). */
  readonly tables: readonly TableRuleset[];
  /**
   * Every service port's fragment, once. May be rendered lazily: each is turned into its record
   * as it comes, so the whole rendered ruleset never exists at once.
   */
  readonly fragments: Iterable<ServiceFragment>;
  /** Fresh read of the kernel; without it our record stands in for the kernel. */
  readonly kernel: KernelView | undefined;
  /** Write every chain (rewrite) rather than only missing or changed ones (resync). */
  readonly rewrite: boolean;
  /** Delete and re-create base chains (first rewrite of this process: fixes changed priorities). */
  readonly recreateBaseChains: boolean;
  readonly shards: number;
  readonly now: number;
  /**
   * Cold start only (the kernel read found none of our tables): the additions of verdict-free
   * elements are handed out here in chunks while the fragments are still being planned, each a
   * transaction of its own that the caller starts at once (nft parses them on another CPU
   * meanwhile). The tables and containers must exist already: coldPrelude(). Keys that two
   * ports claim go out with the first claim and are corrected by the plan's `after`.
   */
  readonly stream?: ((statements: readonly string[]) => void) | undefined;
}

/** Below this many element additions a cold start stays one transaction. */
export const BULK_MIN_ELEMENTS = 20_000;

/** Elements per streamed transaction (an nft process each: ≈ 0.15 s of its CPU). */
export const STREAM_CHUNK_ELEMENTS = 16_384;

/** The tables and the verdict-free containers of a cold start: what streamed elements need. */
export function coldPrelude(f: NftFamily, tables: readonly TableRuleset[]): string[] {
  const out: string[] = [];
  for (const t of tables) {
    out.push(tableDeclText(f, t.name));
    for (const set of t.sets) if (verdictFree(objId(t.name, set.name))) out.push(setDeclText(f, set));
  }
  return out;
}

function tableDeclText(f: NftFamily, table: string): string {
  return table === N.TABLE ? `add table ${f} ${table} { comment "rules for kube-proxy" ; }` : `add table ${f} ${table}`;
}

/** Streams element additions in chunks of STREAM_CHUNK_ELEMENTS (FullPlanInput.stream). */
class ElementStream {
  readonly #f: NftFamily;
  readonly #ctx: FullPlanInput['ctx'];
  readonly #sink: (statements: readonly string[]) => void;
  /** Additions not handed out yet. */
  #pending = new ElementAdds();
  readonly #verdictFree = new Map<string, boolean>();
  /** Containers some of whose elements went out. */
  readonly containers = new Set<string>();
  #count = 0;

  constructor(f: NftFamily, ctx: FullPlanInput['ctx'], sink: (statements: readonly string[]) => void) {
    this.#f = f;
    this.#ctx = ctx;
    this.#sink = sink;
  }

  /** Whether this container's elements are streamed. */
  accepts(container: string): boolean {
    let v = this.#verdictFree.get(container);
    if (v === undefined) this.#verdictFree.set(container, (v = verdictFree(container)));
    return v;
  }

  add(container: string, key: string, payload: string): void {
    this.#pending.add(container, key, payload);
    this.containers.add(container);
    if (++this.#count >= STREAM_CHUNK_ELEMENTS) this.flush();
  }

  flush(): void {
    if (this.#count === 0) return;
    const statements: string[] = [];
    this.#pending.emit(statements, this.#f, this.#ctx);
    this.#pending = new ElementAdds();
    this.#count = 0;
    this.#sink(statements);
  }
}

/** Containers reconciled by diff in a table. */
function containersOf(table: string): string[] {
  const names: readonly string[] = table === N.TABLE ? N.ELEMENT_CONTAINERS : N.SHARD_ELEMENT_CONTAINERS;
  return names.map((n) => objId(table, n));
}

function recordView(state: FamilyState): KernelView {
  const chains = new Set<string>([...state.fixedChains.keys(), ...state.chains.keys()]);
  return { tables: state.tables, chains, affinitySets: state.affinitySets, elements: state.elements, unread: new Map() };
}

export function planFull(state: FamilyState, input: FullPlanInput): FamilyPlan {
  const f = state.nft;
  const s = new Sections();
  const stats = newStats();
  const adds = new ElementAdds();
  const kernel = input.kernel ?? recordView(state);
  /** A fresh read found none of our tables: a cold start. */
  const emptyKernel = input.kernel !== undefined && input.kernel.tables.size === 0;
  const wantTables = new Set(input.tables.map((t) => t.name));

  const records = new Map<string, FragmentRecord>();
  const wantChains = new Map<string, string>();
  const wantSets = new Map<string, string>();
  const wantOwners = new Map<string, Map<string, Owners>>();
  /** container → key → the winning owner's payload */
  const wantPayloads = new Map<string, Map<string, string>>();
  const hairpin = new Set<string>();
  const lbUse = new Map<string, Pick<ServiceFragment, 'table' | 'lb'>>();
  const stream = input.stream !== undefined && emptyKernel ? new ElementStream(f, input.ctx, input.stream) : undefined;
  /** Streamed keys a later port claimed too: container, key, the payload streamed. */
  const contested: [string, string, string][] = [];
  for (const frag of input.fragments) {
    const portKey = frag.portKey;
    const rec = toRecord(frag);
    if (frag.lb !== undefined) lbUse.set(`${frag.table} ${String(frag.lb)}`, { table: frag.table, lb: frag.lb });
    records.set(portKey, rec);
    let recreate = false;
    for (const set of frag.sets) {
      const id = objId(set.table, set.name);
      const sig = setSignature(set);
      wantSets.set(id, sig);
      const have = kernel.affinitySets.get(id);
      if (have === sig) { s.declare.push(setDeclText(f, set)); continue; }
      if (have !== undefined) { s.deleteSets.push(`delete set ${f} ${id}`, setDeclText(f, set)); stats.setsDeleted++; recreate = true; } else s.declare.push(setDeclText(f, set));
      stats.setsAdded++;
    }
    for (const c of frag.chains) {
      const id = objId(c.table, c.name);
      const hash = rec.chains.get(id) ?? '';
      wantChains.set(id, hash);
      const present = kernel.chains.has(id);
      if (!input.rewrite && !recreate && present && state.chains.get(id) === hash) continue;
      writeServiceChain(s, f, id, c.rules, present, stats);
    }
    for (const [container, key, payload] of recordElements(rec)) {
      const byKey = child(wantOwners, container);
      const before = byKey.get(key);
      const owners = addOwner(before, portKey);
      byKey.set(key, owners);
      if (stream?.accepts(container) === true) {
        if (before === undefined) stream.add(container, key, payload);
        else if (before !== owners) contested.push([container, key, wantPayloads.get(container)?.get(key) ?? '']);
      }
      if (winner(owners) === portKey) child(wantPayloads, container).set(key, payload);
    }
    for (const ip of frag.hairpin) hairpin.add(ip);
  }
  stream?.flush();

  // The tables' fixed parts go first in every section (tables before what they hold).
  const ts = new Sections();
  const fixed = new Map<string, string>();
  for (const t of withLbChains(input.ctx, input.tables, lbUse.values())) {
    const ref = `${f} ${t.name}`;
    ts.declare.push(tableDeclText(f, t.name));
    for (const c of t.chains) {
      const id = objId(t.name, c.name);
      const hash = chainHash(c);
      fixed.set(id, hash);
      if (c.base && input.recreateBaseChains) ts.declare.push(`add chain ${ref} ${c.name}`, `delete chain ${ref} ${c.name}`);
      ts.declare.push(chainDeclText(f, c));
      // Fixed chains are few and short: always written, so drift in them never outlives a full sync.
      if (kernel.chains.has(id) && !(c.base && input.recreateBaseChains)) ts.flush.push(`flush chain ${ref} ${c.name}`);
      for (const r of c.rules) ts.rules.push(ruleText(f, c.name, r, t.name));
    }
    for (const set of t.sets) {
      ts.declare.push(setDeclText(f, set));
      if (set.name === N.NODEPORT_IPS_SET) ts.flush.push(`flush set ${ref} ${set.name}`);
    }
    for (const name of t.absentSets) {
      ts.declare.push(`add set ${ref} ${name} { type ${input.ctx.addrType} ; }`);
      ts.deleteSets.push(`delete set ${ref} ${name}`);
    }
    for (const e of t.elements) ts.addElements.push(`add element ${f} ${objId(t.name, e.set)} { ${elementKeyText(e)}${elementPayloadText(e)} }`);
  }
  // Tables of a previous, larger spread (their services are written elsewhere below).
  const dropTables = [...kernel.tables].filter((t) => !wantTables.has(t) && N.shardIndexOf(t) !== undefined);
  for (const t of dropTables) ts.deleteChains.push(`delete table ${f} ${t}`);

  s.prepend(ts);

  const staleNow: string[] = [];
  for (const id of kernel.chains) {
    if (fixed.has(id) || wantChains.has(id) || !wantTables.has(tableOfId(id))) continue;
    const name = nameOfId(id);
    if (!N.isServiceChainName(name) && !N.isLbChainName(name)) continue;
    if (input.kernel !== undefined || state.chains.get(id) !== '') { s.flush.push(`flush chain ${f} ${id}`); stats.chainsFlushed++; }
    staleNow.push(id);
  }
  for (const id of kernel.affinitySets.keys()) {
    if (wantSets.has(id) || !wantTables.has(tableOfId(id))) continue;
    s.deleteSets.push(`delete set ${f} ${id}`);
    stats.setsDeleted++;
  }

  const wantElements = new Map<string, Map<string, string>>();
  for (const table of wantTables) {
    for (const container of containersOf(table)) {
      const unread = kernel.unread.get(container);
      if (unread !== undefined) s.flush.push(`flush ${unread} ${f} ${container}`);
      const have = (unread === undefined ? kernel.elements.get(container) : undefined) ?? new Map<string, string>();
      const want = wantPayloads.get(container) ?? new Map<string, string>();
      if (stream?.containers.has(container) === true) {
        // Every wanted key went out with the stream (contested ones are corrected after).
        stats.elementsAdded += want.size;
        wantElements.set(container, want);
        continue;
      }
      for (const [key, payload] of have) {
        if (want.get(key) !== payload) deleteElement(s, f, container, key, stats);
      }
      for (const [key, payload] of want) {
        if (have.get(key) === payload) continue;
        adds.add(container, key, payload);
        stats.elementsAdded++;
      }
      wantElements.set(container, want);
    }
  }
  const hairpinId = objId(N.TABLE, N.HAIRPIN_SET);
  // (Not on a cold start: the set is new, and its elements may be added by a parallel transaction.)
  if (input.rewrite && !emptyKernel) s.flush.push(`flush set ${f} ${hairpinId}`);
  for (const ip of hairpin) {
    if (!input.rewrite && state.hairpin.has(ip)) continue;
    adds.add(hairpinId, hairpinKey(ip), '');
  }
  // Cold start with many elements: the verdict-free ones may be added by parallel transactions.
  const cold = emptyKernel && adds.size >= BULK_MIN_ELEMENTS;
  const bulkStatements: string[] = [];
  adds.emit(s.addElements, f, input.ctx, undefined, cold ? { accepts: verdictFree, to: bulkStatements } : undefined);
  const bulk = bulkStatements.length > 0
    ? {
      prelude: s.declare.filter((l) => {
        const w = l.split(' ', 5);
        return w[1] === 'table' || ((w[1] === 'set' || w[1] === 'map') && verdictFree(`${w[3] ?? ''} ${w[4] ?? ''}`));
      }),
      statements: bulkStatements,
    }
    : undefined;

  // A contested key went out with its first claimant's payload; where another port won it, the
  // element is replaced once every transaction of this sync is in.
  const after: string[] = [];
  const seen = new Set<string>();
  for (const [container, key, streamed] of contested) {
    const id = `${container} ${key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const final = wantPayloads.get(container)?.get(key);
    if (final === streamed) continue;
    const decl = containerDecl(input.ctx, nameOfId(container));
    after.push(elementDeleteText(f, container, key));
    if (final !== undefined) after.push(setElementsText(f, container, decl.kind, decl.spec, [`${key}${final}`]));
  }

  // commit() must not keep `input` (the rendered fragments) alive until the next sync.
  const { now, rewrite, shards } = input;
  return {
    sections: s,
    stats,
    ...(bulk === undefined ? {} : { bulk }),
    ...(after.length === 0 ? {} : { after }),
    commit(): void {
      state.fragments.clear();
      state.portsByService.clear();
      state.noLocalInternal = 0;
      state.noLocalExternal = 0;
      for (const [portKey, rec] of records) replaceFragment(state, portKey, rec);
      state.owners.clear();
      for (const [container, byKey] of wantOwners) state.owners.set(container, byKey);
      state.tables.clear();
      for (const t of wantTables) state.tables.add(t);
      state.fixedChains.clear();
      for (const [id, hash] of fixed) state.fixedChains.set(id, hash);
      state.chains.clear();
      for (const [id, hash] of wantChains) state.chains.set(id, hash);
      const keepStale = new Map(state.staleChains);
      state.staleChains.clear();
      for (const id of staleNow) {
        state.chains.set(id, '');
        state.staleChains.set(id, keepStale.get(id) ?? now);
      }
      state.affinitySets.clear();
      for (const [id, sig] of wantSets) state.affinitySets.set(id, sig);
      state.staleSets.clear();
      state.elements.clear();
      for (const [container, m] of wantElements) state.elements.set(container, m);
      state.staleElements.clear();
      if (rewrite) state.hairpin.clear();
      for (const ip of hairpin) state.hairpin.add(ip);
      state.shards = shards;
      state.fullySynced = true;
      if (rewrite) state.lastRewriteAt = now;
    },
  };
}
