// The cleanup transaction: deletes what partial syncs left in place (flushed chains, affinity
// sets no rule uses, harmless stale elements). It runs after a sync once the oldest of them is
// `delay` old, in its own transaction, so a sync never waits for it and a chain is never
// deleted in the transaction that removed the last element pointing at it (as upstream). Any
// `delete` makes nft fill its cache with every chain, so batching them here keeps that cost
// out of the transactions that carry changes.

import { newStats, Sections, type FamilyPlan } from './plan-common.ts';
import { elementDeleteText } from './ruleset.ts';
import type { FamilyState } from './state.ts';

export function planCleanup(state: FamilyState): FamilyPlan {
  const f = state.nft;
  const s = new Sections();
  const stats = newStats();
  const elements: [string, string][] = [];
  for (const [container, keys] of state.staleElements) {
    for (const key of keys.keys()) {
      if (state.elements.get(container)?.has(key) !== true) continue;
      s.deleteElements.push(elementDeleteText(f, container, key));
      elements.push([container, key]);
      stats.elementsDeleted++;
    }
  }
  const sets = [...state.staleSets.keys()].filter((id) => state.affinitySets.has(id));
  for (const id of sets) s.deleteSets.push(`delete set ${f} ${id}`);
  stats.setsDeleted = sets.length;
  const chains = [...state.staleChains.keys()];
  for (const id of chains) s.deleteChains.push(`delete chain ${f} ${id}`);
  return {
    sections: s,
    stats,
    commit(): void {
      for (const [container, key] of elements) state.elements.get(container)?.delete(key);
      state.staleElements.clear();
      for (const id of sets) state.affinitySets.delete(id);
      state.staleSets.clear();
      for (const id of chains) {
        state.chains.delete(id);
        state.staleChains.delete(id);
      }
    },
  };
}
