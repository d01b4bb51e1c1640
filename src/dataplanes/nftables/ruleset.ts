// The structured form of what we program: chains with their rules, sets/maps, and elements.
// The renderer produces it; the planner turns it into an nft transaction; the test tracer
// walks packets through it.

import type { IPFamily, ServiceKey } from '../../model/types.ts';
import { TABLE } from './names.ts';

export type NftFamily = 'ip' | 'ip6';

export interface BaseChainSpec {
  readonly type: 'filter' | 'nat';
  readonly hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  readonly priority: number;
}

export interface NftChain {
  readonly name: string;
  readonly base?: BaseChainSpec;
  readonly comment?: string;
  /** Rule bodies in order, e.g. "ip saddr 10.180.0.1 jump mark-for-masquerade". */
  readonly rules: readonly string[];
}

export interface NftSetDecl {
  readonly kind: 'set' | 'map';
  readonly name: string;
  /** e.g. "ipv4_addr . inet_proto . inet_service : verdict" for a verdict map. */
  readonly type: string;
  readonly flags?: readonly string[];
  readonly timeoutSeconds?: number;
  readonly comment?: string;
}

export interface NftElement {
  readonly set: string;
  readonly key: readonly string[];
  /** Verdict for maps ("goto service-…", "drop"); absent for sets. */
  readonly value?: string;
  readonly comment?: string;
}

/** Everything rendered for one service port of one family. */
export interface ServiceFragment {
  /** ServicePortName.key */
  readonly portKey: string;
  readonly serviceKey: ServiceKey;
  readonly chains: readonly NftChain[];
  /** Per-endpoint session affinity sets. */
  readonly sets: readonly NftSetDecl[];
  readonly elements: readonly NftElement[];
  /** Internal traffic policy Local with no local endpoints (traffic dropped). */
  readonly noLocalInternal: boolean;
  /** External traffic policy Local with no local endpoints (external traffic dropped). */
  readonly noLocalExternal: boolean;
}

/** The fixed part of the table: base chains, helper chains, maps, nodeport-ips. */
export interface BaseRuleset {
  readonly chains: readonly NftChain[];
  readonly sets: readonly NftSetDecl[];
  readonly elements: readonly NftElement[];
  /** Sets that must not exist (nodeport-ips when NodePorts listen on every address). */
  readonly absentSets: readonly string[];
}

export interface SkippedService {
  readonly portKey: string;
  readonly serviceKey: ServiceKey;
  readonly error: Error;
}

export interface FamilyRuleset {
  readonly family: IPFamily;
  readonly nftFamily: NftFamily;
  readonly base: BaseRuleset;
  /** Keyed by ServicePortName.key. */
  readonly services: ReadonlyMap<string, ServiceFragment>;
  readonly skipped: readonly SkippedService[];
}

export function nftFamilyOf(family: IPFamily): NftFamily {
  return family === 'IPv4' ? 'ip' : 'ip6';
}

// --- text forms (the syntax `nft -f` reads) ---

export function tableRef(f: NftFamily): string {
  return `${f} ${TABLE}`;
}

export function chainDeclText(f: NftFamily, c: NftChain): string {
  const parts: string[] = [];
  if (c.base) parts.push(`type ${c.base.type} hook ${c.base.hook} priority ${c.base.priority} ;`);
  if (c.comment !== undefined) parts.push(`comment "${c.comment}" ;`);
  const body = parts.length > 0 ? ` { ${parts.join(' ')} }` : '';
  return `add chain ${tableRef(f)} ${c.name}${body}`;
}

export function setDeclText(f: NftFamily, s: NftSetDecl): string {
  const parts = [`type ${s.type} ;`];
  if (s.flags && s.flags.length > 0) parts.push(`flags ${s.flags.join(',')} ;`);
  if (s.timeoutSeconds !== undefined) parts.push(`timeout ${s.timeoutSeconds}s ;`);
  if (s.comment !== undefined) parts.push(`comment "${s.comment}" ;`);
  return `add ${s.kind} ${tableRef(f)} ${s.name} { ${parts.join(' ')} }`;
}

export function ruleText(f: NftFamily, chain: string, rule: string): string {
  return `add rule ${tableRef(f)} ${chain} ${rule}`;
}

/** "172.30.0.41 . tcp . 80" */
export function elementKeyText(e: Pick<NftElement, 'key'>): string {
  return e.key.join(' . ');
}

/** What follows the key inside braces: ` comment "…" : goto …` (empty for plain sets). */
export function elementPayloadText(e: Pick<NftElement, 'value' | 'comment'>): string {
  const comment = e.comment !== undefined ? ` comment "${e.comment}"` : '';
  const value = e.value !== undefined ? ` : ${e.value}` : '';
  return `${comment}${value}`;
}

export function elementAddText(f: NftFamily, set: string, key: string, payload: string): string {
  return `add element ${tableRef(f)} ${set} { ${key}${payload} }`;
}

export function elementDeleteText(f: NftFamily, set: string, key: string): string {
  return `delete element ${tableRef(f)} ${set} { ${key} }`;
}

/**
 * The whole ruleset as `add` lines, in the format of upstream's knftables Fake.Dump(): what
 * golden tests compare (after sorting) and what a fresh table would be built from.
 */
export function dumpRuleset(rs: FamilyRuleset): string {
  const f = rs.nftFamily;
  const out: string[] = [`add table ${tableRef(f)} { comment "rules for kube-proxy" ; }`];
  const emitChain = (c: NftChain): void => {
    out.push(chainDeclText(f, c));
    for (const r of c.rules) out.push(ruleText(f, c.name, r));
  };
  const emitElement = (e: NftElement): void => {
    out.push(elementAddText(f, e.set, elementKeyText(e), elementPayloadText(e)));
  };
  for (const s of rs.base.sets) out.push(setDeclText(f, s));
  for (const c of rs.base.chains) emitChain(c);
  for (const e of rs.base.elements) emitElement(e);
  for (const frag of rs.services.values()) {
    for (const s of frag.sets) out.push(setDeclText(f, s));
    for (const c of frag.chains) emitChain(c);
    for (const e of frag.elements) emitElement(e);
  }
  return out.join('\n') + '\n';
}
