// Pieces shared by the planners (plan-partial.ts, plan-full.ts, plan-cleanup.ts): the sections
// of a transaction, in the order nft must see them, and the statement builders.
//
// Statement order inside a family's part of a transaction:
//   1 declare        add table / chains / sets / maps (idempotent)
//   2 flush          chains being rewritten, chains going stale, sets rebuilt wholesale
//   3 deleteElements elements no longer wanted now (or whose verdict changes)
//   4 deleteSets     sets whose definition changes (their rules were flushed in 2), re-added
//   5 rules          `add rule` for fixed chains, `add chain X { … }` for service chains
//   6 addElements    elements (their target chains exist since 1)
//   7 deleteChains   chains and tables being removed
//
// Partial syncs avoid the statements that make nft 1.0.x list every chain of the ruleset into
// its cache before doing anything (`add rule`, `add element`, and any `delete`): service chains
// are written as one `add chain X { rules }` and elements through a set declaration. Deletions
// that can wait are left to a cleanup transaction (plan-cleanup.ts).

import * as N from './names.ts';
import type { FamilyContext } from './options.ts';
import { containerDecl } from './render-base.ts';
import { chainBlockText, elementDeleteText, nameOfId, setElementsText, type NftFamily } from './ruleset.ts';

export class Sections {
  readonly declare: string[] = [];
  readonly flush: string[] = [];
  readonly deleteElements: string[] = [];
  readonly deleteSets: string[] = [];
  readonly rules: string[] = [];
  readonly addElements: string[] = [];
  readonly deleteChains: string[] = [];

  *lines(): Generator<string> {
    yield* this.declare;
    yield* this.flush;
    yield* this.deleteElements;
    yield* this.deleteSets;
    yield* this.rules;
    yield* this.addElements;
    yield* this.deleteChains;
  }

  /** Puts `before`'s statements ahead of this one's, section by section. */
  prepend(before: Sections): void {
    const put = (to: string[], from: readonly string[]): void => {
      if (from.length === 0) return;
      const mine = to.splice(0, to.length);
      for (const l of from) to.push(l);
      for (const l of mine) to.push(l);
    };
    put(this.declare, before.declare);
    put(this.flush, before.flush);
    put(this.deleteElements, before.deleteElements);
    put(this.deleteSets, before.deleteSets);
    put(this.rules, before.rules);
    put(this.addElements, before.addElements);
    put(this.deleteChains, before.deleteChains);
  }

  get operations(): number {
    return this.declare.length + this.flush.length + this.deleteElements.length + this.deleteSets.length
      + this.rules.length + this.addElements.length + this.deleteChains.length;
  }

  /** Whether nft will have to fill its chain cache (any deletion does). */
  get needsCache(): boolean {
    return this.deleteElements.length > 0 || this.deleteSets.length > 0 || this.deleteChains.length > 0;
  }
}

export interface PlanStats {
  chainsWritten: number;
  chainsFlushed: number;
  elementsAdded: number;
  elementsDeleted: number;
  /** Elements, sets and chains left for the cleanup transaction. */
  deferred: number;
  setsAdded: number;
  setsDeleted: number;
}

export const newStats = (): PlanStats => ({ chainsWritten: 0, chainsFlushed: 0, elementsAdded: 0, elementsDeleted: 0, deferred: 0, setsAdded: 0, setsDeleted: 0 });

export interface FamilyPlan {
  readonly sections: Sections;
  readonly stats: PlanStats;
  /**
   * Cold start only (none of our tables in the kernel): element additions moved out of
   * `sections` that may go in transactions of their own, run alongside the main one (nft spends
   * ~12 µs per element parsing; a second process halves a 10k-service start on two cores).
   * `prelude` (tables and those containers) must be committed before any of them.
   */
  readonly bulk?: { readonly prelude: readonly string[]; readonly statements: readonly string[] };
  /** A transaction to run once every other one of this sync (streamed ones included) is in. */
  readonly after?: readonly string[];
  commit(): void;
}

/** Containers whose elements carry no verdict: adding them needs no chain to exist. */
export function verdictFree(container: string): boolean {
  const name = nameOfId(container);
  return name === N.CLUSTER_IPS_SET || name === N.HAIRPIN_SET || N.BACKENDS_MAP_NAMES.includes(name);
}

/** Writes a service chain: declared, flushed if it may hold rules, then its rules in one statement. */
export function writeServiceChain(s: Sections, f: NftFamily, id: string, rules: readonly string[], exists: boolean, stats: PlanStats): void {
  s.declare.push(`add chain ${f} ${id}`);
  if (exists) s.flush.push(`flush chain ${f} ${id}`);
  if (rules.length > 0) s.rules.push(chainBlockText(f, id, rules));
  stats.chainsWritten++;
}

/** Collects element additions per container and emits them as set declarations. */
export class ElementAdds {
  /** container → key, payload, key, payload, … (the strings of our records: nothing new per element) */
  readonly #byContainer = new Map<string, string[]>();

  add(container: string, key: string, payload: string): void {
    let list = this.#byContainer.get(container);
    if (!list) this.#byContainer.set(container, (list = []));
    list.push(key, payload);
  }

  get size(): number {
    let n = 0;
    for (const l of this.#byContainer.values()) n += l.length / 2;
    return n;
  }

  /**
   * Appends the statements to `out`, at most `chunk` elements each; those of containers that
   * `divert` accepts go to `diverted` instead.
   */
  emit(out: string[], f: NftFamily, ctx: Pick<FamilyContext, 'addrType' | 'ipX'>, chunk = 4096, divert?: { readonly accepts: (container: string) => boolean; readonly to: string[] }): void {
    for (const [container, list] of this.#byContainer) {
      const decl = containerDecl(ctx, nameOfId(container));
      const target = divert?.accepts(container) === true ? divert.to : out;
      for (let i = 0; i < list.length; i += 2 * chunk) {
        const entries: string[] = [];
        for (let j = i; j < Math.min(list.length, i + 2 * chunk); j += 2) entries.push(`${list[j] ?? ''}${list[j + 1] ?? ''}`);
        target.push(setElementsText(f, container, decl.kind, decl.spec, entries));
      }
    }
  }
}

export function deleteElement(s: Sections, f: NftFamily, container: string, key: string, stats: PlanStats): void {
  s.deleteElements.push(elementDeleteText(f, container, key));
  stats.elementsDeleted++;
}

/** Element containers whose stale elements are harmless until deleted, whatever they say. */
const ALWAYS_DEFERRABLE: ReadonlySet<string> = new Set([N.CLUSTER_IPS_SET, N.NO_ENDPOINT_SERVICES_MAP, N.NO_ENDPOINT_NODEPORTS_MAP, ...N.BACKENDS_MAP_NAMES]);

/**
 * Whether an element no longer wanted may stay until the cleanup transaction. Elements of
 * cluster-ips and the no-endpoint maps only act on packets that were not DNATed: a stale one
 * rejects or drops traffic to an address nothing serves any more. A stale backend is never
 * drawn: its key is reached only through the port's own dispatch element, which is gone or
 * points at an lb chain whose numgen stays below the stale index. A dispatch element
 * (service IPs, NodePorts, firewall) may stay only while the chain it jumps to is flushed: an
 * empty chain returns, exactly as if the element were gone.
 */
export function deferrable(container: string, payload: string, chainFlushed: (id: string) => boolean): boolean {
  const name = nameOfId(container);
  if (ALWAYS_DEFERRABLE.has(name)) return true;
  const m = / : goto (\S+)$/.exec(payload);
  if (m?.[1] === undefined) return false;
  return chainFlushed(`${container.slice(0, container.indexOf(' '))} ${m[1]}`);
}
