// What the dataplane believes is in the kernel for one family, and what it last asked for.
// Updated only after a transaction succeeded, so it never runs ahead of the kernel.

import type { IPFamily, ServiceKey } from '../../model/types.ts';
import type { NftFamily, NftChain, NftSetDecl, ServiceFragment } from './ruleset.ts';
import { elementKeyText, elementPayloadText } from './ruleset.ts';

/** A compact record of one rendered service port (rules are kept only as hashes). */
export interface FragmentRecord {
  readonly serviceKey: ServiceKey;
  /** chain name → hash of its rules */
  readonly chains: ReadonlyMap<string, string>;
  /** affinity set name → signature ("type/timeout") */
  readonly sets: ReadonlyMap<string, string>;
  /** [container, key text, payload text] */
  readonly elements: readonly (readonly [string, string, string])[];
  readonly noLocalInternal: boolean;
  readonly noLocalExternal: boolean;
}

export class FamilyState {
  readonly family: IPFamily;
  readonly nft: NftFamily;
  /** Set after the first successful full sync of this process. */
  fullySynced = false;
  // --- the kernel, as far as we know ---
  /** Service-specific chains: name → hash of rules ("" when flushed). */
  readonly chains = new Map<string, string>();
  /** Affinity sets: name → signature. */
  readonly affinitySets = new Map<string, string>();
  /** Elements of the reconciled sets/maps: container → key text → payload text. */
  readonly elements = new Map<string, Map<string, string>>();
  /** Flushed chains waiting to be deleted: name → monotonic ms when flushed. */
  readonly staleChains = new Map<string, number>();
  // --- what we asked for ---
  readonly fragments = new Map<string, FragmentRecord>();
  readonly portsByService = new Map<ServiceKey, Set<string>>();
  /** container → key → owning port key → payload (two services may claim one key). */
  readonly owners = new Map<string, Map<string, Map<string, string>>>();
  noLocalInternal = 0;
  noLocalExternal = 0;

  constructor(family: IPFamily, nft: NftFamily) {
    this.family = family;
    this.nft = nft;
  }

  elementCount(): number {
    let n = 0;
    for (const m of this.elements.values()) n += m.size;
    return n;
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

export function chainHash(c: NftChain): string {
  return hashText(c.rules.join('\n'));
}

export function setSignature(s: Pick<NftSetDecl, 'type' | 'timeoutSeconds'>): string {
  return `${s.type}/${String(s.timeoutSeconds ?? 0)}`;
}

export function toRecord(f: ServiceFragment): FragmentRecord {
  return {
    serviceKey: f.serviceKey,
    chains: new Map(f.chains.map((c) => [c.name, chainHash(c)])),
    sets: new Map(f.sets.map((s) => [s.name, setSignature(s)])),
    elements: f.elements.map((e) => [e.set, elementKeyText(e), elementPayloadText(e)] as const),
    noLocalInternal: f.noLocalInternal,
    noLocalExternal: f.noLocalExternal,
  };
}

/** The payload a key resolves to given its owners: the lexically smallest owner wins. */
export function effectivePayload(owners: ReadonlyMap<string, string> | undefined): string | undefined {
  if (!owners || owners.size === 0) return undefined;
  let bestKey: string | undefined;
  let best: string | undefined;
  for (const [k, v] of owners) {
    if (bestKey === undefined || k < bestKey) { bestKey = k; best = v; }
  }
  return best;
}
