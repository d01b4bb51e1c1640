// A partial sync: only the given service ports changed. Cost is proportional to the size of
// those ports, not to the number of services: nothing is read back from the kernel, unchanged
// chains (same hash) are not rewritten, elements are diffed per key against our record, and
// deletions that can wait go to the cleanup transaction (plan-common.ts `deferrable`), so the
// common transaction only adds and rewrites.

import type { FamilyContext } from './options.ts';
import { deferrable, deleteElement, ElementAdds, newStats, Sections, writeServiceChain, type FamilyPlan } from './plan-common.ts';
import { backendsMapDecls, renderLbChain } from './render-base.ts';
import { hairpinKey, objId, setDeclText, tableOfId, type ServiceFragment } from './ruleset.ts';
import { addOwner, chainHash, child, payloadIn, recordElements, removeOwner, replaceFragment, setOwner, setSignature, toRecord, winner, type FamilyState, type FragmentRecord } from './state.ts';
import { HAIRPIN_SET, lbChain, TABLE } from './names.ts';

/** Port key → its new fragment (undefined: the port is gone or skipped). */
export type Updates = ReadonlyMap<string, ServiceFragment | undefined>;

export function planPartial(state: FamilyState, ctx: FamilyContext, updates: Updates, now: number): FamilyPlan {
  const f = state.nft;
  const s = new Sections();
  const stats = newStats();
  const adds = new ElementAdds();
  const newRecords = new Map<string, FragmentRecord | undefined>();
  const chainUpdates = new Map<string, string>(); // id → hash ("" = flushed)
  const fixedUpdates = new Map<string, string>(); // shared lb chains written: id → hash
  const setUpdates = new Map<string, string>();
  const elementOwners = new Map<string, Map<string, Map<string, string | undefined>>>();
  const oldChains = new Set<string>();
  const oldSets = new Set<string>();
  const newChains = new Set<string>();
  const newSets = new Set<string>();
  const hairpinAdds = new Set<string>();
  const unstale: [string, string][] = [];
  const staleElementsNow: [string, string][] = [];
  const staleDeletedNow: [string, string][] = [];
  const staleSetsNow: string[] = [];

  const note = (container: string, key: string, owner: string, payload: string | undefined): void => {
    child(child(elementOwners, container), key).set(owner, payload);
  };

  for (const [portKey, frag] of updates) {
    const old = state.fragments.get(portKey);
    const rec = frag ? toRecord(frag) : undefined;
    newRecords.set(portKey, rec);
    for (const [container, key] of recordElements(old)) note(container, key, portKey, undefined);
    for (const [container, key, payload] of recordElements(rec)) note(container, key, portKey, payload);
    for (const id of old?.chains.keys() ?? []) oldChains.add(id);
    for (const id of old?.sets.keys() ?? []) oldSets.add(id);
    if (!frag || !rec) continue;

    // A set whose definition changes is deleted and re-created: every chain of the fragment is
    // rewritten so no rule still refers to the old one when it goes.
    let recreate = false;
    const declares: string[] = [];
    for (const set of frag.sets) {
      const id = objId(set.table, set.name);
      newSets.add(id);
      const have = state.affinitySets.get(id);
      const want = setSignature(set);
      if (have === want) { declares.push(setDeclText(f, set)); continue; }
      if (have !== undefined) { s.deleteSets.push(`delete set ${f} ${id}`, setDeclText(f, set)); stats.setsDeleted++; recreate = true; } else declares.push(setDeclText(f, set));
      stats.setsAdded++;
      setUpdates.set(id, want);
    }
    let wrote = false;
    for (const chain of frag.chains) {
      const id = objId(chain.table, chain.name);
      newChains.add(id);
      const hash = rec.chains.get(id) ?? '';
      const have = state.chains.get(id);
      if (!recreate && have === hash && !state.staleChains.has(id)) continue;
      writeServiceChain(s, f, id, chain.rules, have !== undefined, stats);
      chainUpdates.set(id, hash);
      wrote = true;
    }
    // nft must know the sets the written rules refer to: declaring them again is free.
    if (wrote) s.declare.push(...declares);
    if (frag.lb !== undefined) {
      // The shared chain for this endpoint count, written when first needed (a full sync
      // retires the ones no port uses any more).
      const id = objId(frag.table, lbChain(frag.lb));
      const lbc = renderLbChain(ctx, frag.table, frag.lb);
      const hash = chainHash(lbc);
      if (!fixedUpdates.has(id) && (state.fixedChains.get(id) !== hash || state.staleChains.has(id))) {
        // nft 1.0.x resolves the maps named in a chain block only if they are declared in the
        // same transaction (it does not load them from the kernel for `add chain … { … }`).
        for (const m of backendsMapDecls(ctx, frag.table)) s.declare.push(setDeclText(f, m));
        writeServiceChain(s, f, id, lbc.rules, state.fixedChains.has(id) || state.chains.has(id), stats);
        fixedUpdates.set(id, hash);
      }
    }
    for (const ip of frag.hairpin) if (!state.hairpin.has(ip)) hairpinAdds.add(ip);
  }

  for (const id of oldChains) {
    if (newChains.has(id) || !state.chains.has(id)) continue;
    if (state.chains.get(id) !== '') { s.flush.push(`flush chain ${f} ${id}`); stats.chainsFlushed++; }
    chainUpdates.set(id, '');
  }
  for (const id of oldSets) {
    if (newSets.has(id) || !state.affinitySets.has(id) || state.staleSets.has(id)) continue;
    staleSetsNow.push(id); // no rule refers to it any more; deleting it would fill nft's cache
    stats.deferred++;
  }
  const flushedAfter = (id: string): boolean => !fixedUpdates.has(id) && !state.fixedChains.has(id) && (chainUpdates.get(id) ?? state.chains.get(id)) === '';

  const elementUpdates: [string, string, string | undefined][] = [];
  for (const [container, byKey] of elementOwners) {
    for (const [key, changes] of byKey) {
      let owners = state.owners.get(container)?.get(key);
      for (const [owner, payload] of changes) owners = payload === undefined ? removeOwner(owners, owner) : addOwner(owners, owner);
      const win = owners === undefined ? undefined : winner(owners);
      // The winner's payload: from this sync's changes, or (another service's key) its record.
      const want = win === undefined ? undefined : changes.has(win) ? changes.get(win) : payloadIn(state.fragments.get(win), container, key);
      const have = state.elements.get(container)?.get(key);
      if (want === have) {
        if (want !== undefined && state.staleElements.get(container)?.has(key) === true) unstale.push([container, key]);
        continue;
      }
      if (have === undefined && want !== undefined) {
        adds.add(container, key, want);
        stats.elementsAdded++;
        elementUpdates.push([container, key, want]);
      } else if (want === undefined && have !== undefined) {
        if (deferrable(container, have, flushedAfter)) {
          if (state.staleElements.get(container)?.has(key) !== true) { staleElementsNow.push([container, key]); stats.deferred++; }
        } else {
          deleteElement(s, f, container, key, stats);
          elementUpdates.push([container, key, undefined]);
        }
      } else if (want !== undefined && have !== undefined) {
        deleteElement(s, f, container, key, stats);
        adds.add(container, key, want);
        stats.elementsAdded++;
        elementUpdates.push([container, key, want]);
      }
    }
  }
  // A chain coming back from stale must not be reached through leftover stale elements.
  for (const [id, hash] of chainUpdates) {
    if (hash === '' || state.chains.get(id) !== '') continue;
    const table = tableOfId(id);
    for (const [container, keys] of state.staleElements) {
      if (tableOfId(container) !== table) continue;
      for (const key of keys.keys()) {
        if (elementOwners.get(container)?.has(key) === true) continue; // decided above
        const payload = state.elements.get(container)?.get(key) ?? '';
        if (payload.endsWith(` : goto ${id.slice(table.length + 1)}`)) {
          deleteElement(s, f, container, key, stats);
          staleDeletedNow.push([container, key]);
        }
      }
    }
  }

  for (const ip of hairpinAdds) adds.add(objId(TABLE, HAIRPIN_SET), hairpinKey(ip), '');
  stats.elementsAdded += hairpinAdds.size;
  adds.emit(s.addElements, f, ctx);

  return {
    sections: s,
    stats,
    commit(): void {
      for (const [portKey, rec] of newRecords) {
        const old = state.fragments.get(portKey);
        for (const [container, key] of recordElements(old)) setOwner(state, container, key, portKey, false);
        replaceFragment(state, portKey, rec);
        for (const [container, key] of recordElements(rec)) setOwner(state, container, key, portKey, true);
      }
      for (const [id, hash] of fixedUpdates) {
        state.fixedChains.set(id, hash);
        state.chains.delete(id);
        state.staleChains.delete(id);
      }
      for (const [id, hash] of chainUpdates) {
        state.chains.set(id, hash);
        if (hash !== '') state.staleChains.delete(id);
        else if (!state.staleChains.has(id)) state.staleChains.set(id, now);
      }
      for (const [id, sig] of setUpdates) { state.affinitySets.set(id, sig); state.staleSets.delete(id); }
      for (const id of newSets) state.staleSets.delete(id);
      for (const id of staleSetsNow) state.staleSets.set(id, now);
      for (const [container, key, payload] of elementUpdates) {
        const m = child(state.elements, container);
        if (payload === undefined) m.delete(key);
        else m.set(key, payload);
        state.staleElements.get(container)?.delete(key);
      }
      for (const [container, key] of unstale) state.staleElements.get(container)?.delete(key);
      for (const [container, key] of staleElementsNow) child(state.staleElements, container).set(key, now);
      for (const [container, key] of staleDeletedNow) {
        state.elements.get(container)?.delete(key);
        state.staleElements.get(container)?.delete(key);
      }
      for (const ip of hairpinAdds) state.hairpin.add(ip);
    },
  };
}
