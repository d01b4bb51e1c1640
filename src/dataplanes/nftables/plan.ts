// Turns desired fragments + our record of the kernel into one nft transaction (text) and a
// commit step that updates the record once the kernel accepted it. Pure apart from the
// `commit` closure mutating the FamilyState it was planned against.
//
// Statement order inside a family's part of the transaction:
//   1 declare  add table / chains / sets / maps (idempotent)
//   2 flush    chains being rewritten, chains going stale
//   3 delete   elements no longer wanted (or whose verdict changes)
//   4 delete   sets no longer wanted (their referencing rules were flushed in 2)
//   5 rules    add rule …
//   6 add      elements (their target chains exist since 1)

import * as N from './names.ts';
import type { BaseRuleset, NftFamily, ServiceFragment } from './ruleset.ts';
import { chainDeclText, elementAddText, elementDeleteText, elementKeyText, elementPayloadText, ruleText, setDeclText, tableRef } from './ruleset.ts';
import { effectivePayload, setSignature, toRecord, type FamilyState, type FragmentRecord } from './state.ts';

export class Sections {
  readonly declare: string[] = [];
  readonly flush: string[] = [];
  readonly deleteElements: string[] = [];
  readonly deleteSets: string[] = [];
  readonly rules: string[] = [];
  readonly addElements: string[] = [];

  lines(): string[] {
    return [...this.declare, ...this.flush, ...this.deleteElements, ...this.deleteSets, ...this.rules, ...this.addElements];
  }
  get operations(): number {
    return this.declare.length + this.flush.length + this.deleteElements.length + this.deleteSets.length + this.rules.length + this.addElements.length;
  }
}

export interface PlanStats {
  chainsWritten: number;
  chainsFlushed: number;
  elementsAdded: number;
  elementsDeleted: number;
  setsAdded: number;
  setsDeleted: number;
}

export interface FamilyPlan {
  readonly sections: Sections;
  readonly stats: PlanStats;
  commit(): void;
}

/** What the kernel holds according to a fresh read (full syncs only). */
export interface KernelView {
  readonly chains: ReadonlySet<string>;
  readonly affinitySets: ReadonlyMap<string, string>;
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

type Fragments = ReadonlyMap<string, ServiceFragment | undefined>;

/** m.get(k), creating an empty Map there first if needed. */
function child<K, K2, V2>(m: Map<K, Map<K2, V2>>, k: K): Map<K2, V2> {
  let v = m.get(k);
  if (!v) m.set(k, (v = new Map<K2, V2>()));
  return v;
}

const newStats = (): PlanStats => ({ chainsWritten: 0, chainsFlushed: 0, elementsAdded: 0, elementsDeleted: 0, setsAdded: 0, setsDeleted: 0 });

function writeChain(s: Sections, f: NftFamily, name: string, rules: readonly string[], stats: PlanStats): void {
  s.declare.push(`add chain ${tableRef(f)} ${name}`);
  s.flush.push(`flush chain ${tableRef(f)} ${name}`);
  for (const r of rules) s.rules.push(ruleText(f, name, r));
  stats.chainsWritten++;
}

function diffElement(s: Sections, f: NftFamily, container: string, key: string, have: string | undefined, want: string | undefined, stats: PlanStats): void {
  if (have === want) return;
  if (have !== undefined) { s.deleteElements.push(elementDeleteText(f, container, key)); stats.elementsDeleted++; }
  if (want !== undefined) { s.addElements.push(elementAddText(f, container, key, want)); stats.elementsAdded++; }
}

function setElement(state: FamilyState, container: string, key: string, payload: string | undefined): void {
  const m = child(state.elements, container);
  if (payload === undefined) m.delete(key);
  else m.set(key, payload);
}

function setOwner(state: FamilyState, container: string, key: string, owner: string, payload: string | undefined): void {
  const byKey = child(state.owners, container);
  let owners = byKey.get(key);
  if (payload === undefined) {
    if (!owners) return;
    owners.delete(owner);
    if (owners.size === 0) byKey.delete(key);
    return;
  }
  if (!owners) byKey.set(key, (owners = new Map<string, string>()));
  owners.set(owner, payload);
}

function replaceFragment(state: FamilyState, portKey: string, rec: FragmentRecord | undefined): void {
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

/**
 * A partial sync: only the given port keys changed (value undefined = port gone or skipped).
 * Cost is proportional to the size of those fragments, not to the number of services.
 */
export function planPartial(state: FamilyState, updates: Fragments, now: number): FamilyPlan {
  const f = state.nft;
  const s = new Sections();
  const stats = newStats();
  const newRecords = new Map<string, FragmentRecord | undefined>();
  const chainUpdates = new Map<string, string>(); // name → hash ("" = flushed)
  const staleNow: string[] = [];
  const setUpdates = new Map<string, string | undefined>();
  const elementOwners = new Map<string, Map<string, Map<string, string | undefined>>>(); // container → key → owner → payload

  const oldChains = new Set<string>();
  const oldSets = new Set<string>();
  const newChains = new Set<string>();
  const newSets = new Set<string>();
  for (const [portKey, frag] of updates) {
    const old = state.fragments.get(portKey);
    const rec = frag ? toRecord(frag) : undefined;
    newRecords.set(portKey, rec);
    for (const [container, key] of old?.elements ?? []) {
      const byKey = child(elementOwners, container);
      const owners = child(byKey, key);
      owners.set(portKey, undefined);
    }
    for (const [container, key, payload] of rec?.elements ?? []) {
      const byKey = child(elementOwners, container);
      const owners = child(byKey, key);
      owners.set(portKey, payload);
    }
    for (const name of old?.chains.keys() ?? []) oldChains.add(name);
    for (const name of old?.sets.keys() ?? []) oldSets.add(name);
    if (!frag || !rec) continue;

    // A set whose definition changes is deleted and re-created: rewrite every chain of the
    // fragment so no rule still references the old set when it goes.
    let recreate = false;
    for (const set of frag.sets) {
      newSets.add(set.name);
      const have = state.affinitySets.get(set.name);
      const want = setSignature(set);
      if (have === want) continue;
      if (have !== undefined) { s.deleteSets.push(`delete set ${tableRef(f)} ${set.name}`); stats.setsDeleted++; recreate = true; }
      (have === undefined ? s.declare : s.deleteSets).push(setDeclText(f, set));
      stats.setsAdded++;
      setUpdates.set(set.name, want);
    }
    for (const chain of frag.chains) {
      newChains.add(chain.name);
      const hash = rec.chains.get(chain.name) ?? '';
      if (!recreate && state.chains.get(chain.name) === hash && !state.staleChains.has(chain.name)) continue;
      writeChain(s, f, chain.name, chain.rules, stats);
      chainUpdates.set(chain.name, hash);
    }
  }
  for (const name of oldChains) {
    if (newChains.has(name) || !state.chains.has(name)) continue;
    if (state.chains.get(name) !== '') { s.flush.push(`flush chain ${tableRef(f)} ${name}`); stats.chainsFlushed++; }
    chainUpdates.set(name, '');
    staleNow.push(name);
  }
  for (const name of oldSets) {
    if (newSets.has(name) || !state.affinitySets.has(name)) continue;
    s.deleteSets.push(`delete set ${tableRef(f)} ${name}`);
    stats.setsDeleted++;
    setUpdates.set(name, undefined);
  }
  const elementUpdates: [string, string, string | undefined][] = [];
  for (const [container, byKey] of elementOwners) {
    for (const [key, changes] of byKey) {
      const merged = new Map(state.owners.get(container)?.get(key) ?? []);
      for (const [owner, payload] of changes) {
        if (payload === undefined) merged.delete(owner);
        else merged.set(owner, payload);
      }
      const want = effectivePayload(merged);
      diffElement(s, f, container, key, state.elements.get(container)?.get(key), want, stats);
      elementUpdates.push([container, key, want]);
    }
  }

  return {
    sections: s,
    stats,
    commit(): void {
      for (const [portKey, rec] of newRecords) {
        const old = state.fragments.get(portKey);
        for (const [container, key] of old?.elements ?? []) setOwner(state, container, key, portKey, undefined);
        replaceFragment(state, portKey, rec);
        for (const [container, key, payload] of rec?.elements ?? []) setOwner(state, container, key, portKey, payload);
      }
      for (const [name, hash] of chainUpdates) {
        state.chains.set(name, hash);
        if (hash !== '') state.staleChains.delete(name);
      }
      for (const name of staleNow) if (!state.staleChains.has(name)) state.staleChains.set(name, now);
      for (const [name, sig] of setUpdates) {
        if (sig === undefined) state.affinitySets.delete(name);
        else state.affinitySets.set(name, sig);
      }
      for (const [container, key, payload] of elementUpdates) setElement(state, container, key, payload);
    },
  };
}

export interface FullPlanInput {
  readonly base: BaseRuleset;
  readonly fragments: ReadonlyMap<string, ServiceFragment>;
  /** Fresh read of the kernel; without it our record stands in for the kernel. */
  readonly kernel: KernelView | undefined;
  /** Delete and re-create base chains (first full sync of this process: fixes changed priorities). */
  readonly recreateBaseChains: boolean;
  readonly now: number;
}

/** A full sync: every chain redefined, every set/map reconciled by diff; no table flush. */
export function planFull(state: FamilyState, input: FullPlanInput): FamilyPlan {
  const f = state.nft;
  const s = new Sections();
  const stats = newStats();
  const t = tableRef(f);
  s.declare.push(`add table ${t} { comment "rules for kube-proxy" ; }`);
  for (const c of input.base.chains) {
    if (c.base && input.recreateBaseChains) s.declare.push(`add chain ${t} ${c.name}`, `delete chain ${t} ${c.name}`);
    s.declare.push(chainDeclText(f, c));
    s.flush.push(`flush chain ${t} ${c.name}`);
    for (const r of c.rules) s.rules.push(ruleText(f, c.name, r));
  }
  for (const set of input.base.sets) {
    s.declare.push(setDeclText(f, set));
    if (set.name === N.NODEPORT_IPS_SET) s.flush.push(`flush set ${t} ${set.name}`);
  }
  for (const name of input.base.absentSets) {
    s.declare.push(`add set ${t} ${name} { type ${f === 'ip' ? 'ipv4_addr' : 'ipv6_addr'} ; }`);
    s.deleteSets.push(`delete set ${t} ${name}`);
  }
  for (const e of input.base.elements) s.addElements.push(elementAddText(f, e.set, elementKeyText(e), elementPayloadText(e)));

  const kernelChains: ReadonlySet<string> | ReadonlyMap<string, string> = input.kernel?.chains ?? state.chains;
  const kernelSets = input.kernel?.affinitySets ?? state.affinitySets;
  const kernelElements = input.kernel?.elements ?? state.elements;

  const records = new Map<string, FragmentRecord>();
  const wantChains = new Map<string, string>();
  const wantSets = new Map<string, string>();
  const wantOwners = new Map<string, Map<string, Map<string, string>>>();
  for (const [portKey, frag] of input.fragments) {
    const rec = toRecord(frag);
    records.set(portKey, rec);
    for (const set of frag.sets) {
      const sig = setSignature(set);
      wantSets.set(set.name, sig);
      const have = kernelSets.get(set.name);
      if (have === sig) continue;
      if (have !== undefined) { s.deleteSets.push(`delete set ${t} ${set.name}`); stats.setsDeleted++; s.deleteSets.push(setDeclText(f, set)); } else s.declare.push(setDeclText(f, set));
      stats.setsAdded++;
    }
    for (const c of frag.chains) {
      wantChains.set(c.name, rec.chains.get(c.name) ?? '');
      writeChain(s, f, c.name, c.rules, stats);
    }
    for (const [container, key, payload] of rec.elements) {
      const byKey = child(wantOwners, container);
      const owners = child(byKey, key);
      owners.set(portKey, payload);
    }
  }
  const staleNow: string[] = [];
  for (const name of kernelChains.keys()) {
    if (!N.isServiceChainName(name) || wantChains.has(name)) continue;
    if (!state.staleChains.has(name) || input.kernel !== undefined) { s.flush.push(`flush chain ${t} ${name}`); stats.chainsFlushed++; }
    staleNow.push(name);
  }
  for (const name of kernelSets.keys()) {
    if (!N.isAffinitySetName(name) || wantSets.has(name)) continue;
    s.deleteSets.push(`delete set ${t} ${name}`);
    stats.setsDeleted++;
  }
  const wantElements = new Map<string, Map<string, string>>();
  for (const container of N.ELEMENT_CONTAINERS) {
    const have = kernelElements.get(container) ?? new Map<string, string>();
    const byKey = wantOwners.get(container) ?? new Map<string, Map<string, string>>();
    const want = new Map<string, string>();
    for (const [key, owners] of byKey) {
      const payload = effectivePayload(owners);
      if (payload !== undefined) want.set(key, payload);
    }
    for (const [key, payload] of have) if (!want.has(key)) diffElement(s, f, container, key, payload, undefined, stats);
    for (const [key, payload] of want) diffElement(s, f, container, key, have.get(key), payload, stats);
    wantElements.set(container, want);
  }

  return {
    sections: s,
    stats,
    commit(): void {
      state.fragments.clear();
      state.portsByService.clear();
      state.noLocalInternal = 0;
      state.noLocalExternal = 0;
      for (const [portKey, rec] of records) replaceFragment(state, portKey, rec);
      state.owners.clear();
      for (const [container, byKey] of wantOwners) state.owners.set(container, byKey);
      state.chains.clear();
      for (const [name, hash] of wantChains) state.chains.set(name, hash);
      const keepStale = new Map(state.staleChains);
      state.staleChains.clear();
      for (const name of staleNow) {
        state.chains.set(name, '');
        state.staleChains.set(name, keepStale.get(name) ?? input.now);
      }
      state.affinitySets.clear();
      for (const [name, sig] of wantSets) state.affinitySets.set(name, sig);
      state.elements.clear();
      for (const [container, m] of wantElements) state.elements.set(container, m);
      state.fullySynced = true;
    },
  };
}
