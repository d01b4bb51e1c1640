// The structured form of what we program: tables with their fixed chains and sets, and per
// service port the chains, affinity sets and map/set elements it needs. The renderer produces
// it; the planner turns it into an nft transaction; the test tracer walks packets through it.

import type { IPFamily, ServiceKey } from '../../model/types.ts';
import { HAIRPIN_SET, TABLE } from './names.ts';

export type NftFamily = 'ip' | 'ip6';

export interface BaseChainSpec {
  readonly type: 'filter' | 'nat';
  readonly hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  readonly priority: number;
}

export interface NftChain {
  /** Table holding the chain (default TABLE). */
  readonly table?: string;
  readonly name: string;
  readonly base?: BaseChainSpec;
  readonly comment?: string;
  /** Rule bodies in order, e.g. "numgen random mod 2 0 meta l4proto tcp dnat to 10.0.0.1:80". */
  readonly rules: readonly string[];
}

export interface NftSetDecl {
  readonly table?: string;
  readonly kind: 'set' | 'map';
  readonly name: string;
  /** e.g. "ipv4_addr . inet_proto . inet_service : verdict" for a verdict map. */
  readonly type: string;
  /** When set, declared by expression instead (`typeof ip daddr . th dport`); `type` is then informative. */
  readonly typeof?: string;
  readonly flags?: readonly string[];
  readonly timeoutSeconds?: number;
  readonly comment?: string;
}

export interface NftElement {
  readonly table?: string;
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
  /** The table holding this port's service, local and external chains and affinity sets. */
  readonly table: string;
  readonly chains: readonly NftChain[];
  /** Per-endpoint session affinity sets. */
  readonly sets: readonly NftSetDecl[];
  readonly elements: readonly NftElement[];
  /** Addresses of the endpoints its chains DNAT to (elements "ip . ip" of the hairpin set). */
  readonly hairpin: readonly string[];
  /** Endpoint count of the shared lb chain (in `table`) this port dispatches to, if it does. */
  readonly lb: number | undefined;
  /** Internal traffic policy Local with no local endpoints (traffic dropped). */
  readonly noLocalInternal: boolean;
  /** External traffic policy Local with no local endpoints (external traffic dropped). */
  readonly noLocalExternal: boolean;
}

/** The fixed part of one table: base chains, helper chains, maps, sets and their fixed elements. */
export interface TableRuleset {
  readonly name: string;
  readonly chains: readonly NftChain[];
  readonly sets: readonly NftSetDecl[];
  readonly elements: readonly NftElement[];
  /** Sets that must not exist (nodeport-ips when NodePorts listen on every address). */
  readonly absentSets: readonly string[];
}

export type BaseRuleset = TableRuleset;

export interface SkippedService {
  readonly portKey: string;
  readonly serviceKey: ServiceKey;
  readonly error: Error;
}

export interface FamilyRuleset {
  readonly family: IPFamily;
  readonly nftFamily: NftFamily;
  /** TABLE first, then the extra service tables in order. */
  readonly tables: readonly TableRuleset[];
  /** Keyed by ServicePortName.key. */
  readonly services: ReadonlyMap<string, ServiceFragment>;
  readonly skipped: readonly SkippedService[];
}

export function nftFamilyOf(family: IPFamily): NftFamily {
  return family === 'IPv4' ? 'ip' : 'ip6';
}

// --- identities: "TABLE NAME", which is also how nft commands name an object ---

export function objId(table: string | undefined, name: string): string {
  return `${table ?? TABLE} ${name}`;
}

const containerIds = new Map<string, string>();

/**
 * objId of an element container, one shared string per container: every element record names
 * its container, and 100k copies of "kube-proxy lb-backends-tcp" are megabytes. Bounded: tables
 * × the fixed container names.
 */
export function containerId(table: string | undefined, name: string): string {
  const id = objId(table, name);
  const have = containerIds.get(id);
  if (have !== undefined) return have;
  containerIds.set(id, id);
  return id;
}

export function tableOfId(id: string): string {
  return id.slice(0, id.indexOf(' '));
}

export function nameOfId(id: string): string {
  return id.slice(id.indexOf(' ') + 1);
}

// --- text forms (the syntax `nft -f` reads) ---

export function tableRef(f: NftFamily, table: string = TABLE): string {
  return `${f} ${table}`;
}

export function chainDeclText(f: NftFamily, c: NftChain): string {
  const parts: string[] = [];
  if (c.base) parts.push(`type ${c.base.type} hook ${c.base.hook} priority ${String(c.base.priority)} ;`);
  if (c.comment !== undefined) parts.push(`comment "${c.comment}" ;`);
  const body = parts.length > 0 ? ` { ${parts.join(' ')} }` : '';
  return `add chain ${tableRef(f, c.table)} ${c.name}${body}`;
}

/**
 * A regular chain's rules as one statement: `add chain ip T X { r1 ; r2 ; }`. Unlike
 * `add rule`, nft 1.0.x runs this without listing every chain of the ruleset into its cache,
 * which at tens of thousands of chains costs more than the change itself. Sets the rules refer
 * to must be declared earlier in the same transaction (nft then knows them).
 */
export function chainBlockText(f: NftFamily, id: string, rules: readonly string[]): string {
  return `add chain ${f} ${id} { ${rules.join(' ; ')} ; }`;
}

export function setDeclText(f: NftFamily, s: NftSetDecl): string {
  const parts = [s.typeof !== undefined ? `typeof ${s.typeof} ;` : `type ${s.type} ;`];
  if (s.flags && s.flags.length > 0) parts.push(`flags ${s.flags.join(',')} ;`);
  if (s.timeoutSeconds !== undefined) parts.push(`timeout ${String(s.timeoutSeconds)}s ;`);
  if (s.comment !== undefined) parts.push(`comment "${s.comment}" ;`);
  return `add ${s.kind} ${tableRef(f, s.table)} ${s.name} { ${parts.join(' ')} }`;
}

/**
 * Elements added through a set declaration: `add map ip T M { type … ; elements = { … } }`.
 * Same effect as `add element`, but nft 1.0.x does not fill its chain cache for it (see
 * chainBlockText). `spec` is "type …" or "typeof …"; `entries` are "key payload" texts.
 */
export function setElementsText(f: NftFamily, id: string, kind: 'set' | 'map', spec: string, entries: readonly string[]): string {
  return `add ${kind} ${f} ${id} { ${spec} ; elements = { ${entries.join(' , ')} } }`;
}

export function ruleText(f: NftFamily, chain: string, rule: string, table: string = TABLE): string {
  return `add rule ${tableRef(f, table)} ${chain} ${rule}`;
}

/** "172.30.0.41 . tcp . 80" */
export function elementKeyText(e: Pick<NftElement, 'key'>): string {
  return e.key.join(' . ');
}

/**
 * What follows the key inside braces: ` comment "…" : goto …` (empty for plain sets). Built
 * with join, which makes one flat string: a template literal makes a tree of cons strings
 * (32 bytes per node), and records keep one payload per element.
 */
export function elementPayloadText(e: Pick<NftElement, 'value' | 'comment'>): string {
  const parts: string[] = [];
  if (e.comment !== undefined) parts.push(' comment "', e.comment, '"');
  if (e.value !== undefined) parts.push(' : ', e.value);
  return parts.join('');
}

export function elementAddText(f: NftFamily, id: string, key: string, payload: string): string {
  return `add element ${f} ${id} { ${key}${payload} }`;
}

export function elementDeleteText(f: NftFamily, id: string, key: string): string {
  return `delete element ${f} ${id} { ${key} }`;
}

/** The hairpin set's key for an endpoint address. */
export function hairpinKey(ip: string): string {
  return `${ip} . ${ip}`;
}

/**
 * The whole ruleset as `add` lines, in the format of upstream's knftables Fake.Dump(): what
 * golden tests compare (after sorting) and what a fresh table would be built from.
 */
export function dumpRuleset(rs: FamilyRuleset): string {
  const f = rs.nftFamily;
  const out: string[] = [];
  const emitChain = (c: NftChain): void => {
    out.push(chainDeclText(f, c));
    for (const r of c.rules) out.push(ruleText(f, c.name, r, c.table));
  };
  const emitElement = (e: NftElement): void => {
    out.push(elementAddText(f, objId(e.table, e.set), elementKeyText(e), elementPayloadText(e)));
  };
  for (const t of rs.tables) {
    out.push(t.name === TABLE ? `add table ${tableRef(f)} { comment "rules for kube-proxy" ; }` : `add table ${tableRef(f, t.name)}`);
    for (const s of t.sets) out.push(setDeclText(f, s));
    for (const c of t.chains) emitChain(c);
    for (const e of t.elements) emitElement(e);
  }
  const hairpin = new Set<string>();
  for (const frag of rs.services.values()) {
    for (const s of frag.sets) out.push(setDeclText(f, s));
    for (const c of frag.chains) emitChain(c);
    for (const e of frag.elements) emitElement(e);
    for (const ip of frag.hairpin) hairpin.add(ip);
  }
  for (const ip of hairpin) out.push(elementAddText(f, objId(TABLE, HAIRPIN_SET), hairpinKey(ip), ''));
  return out.join('\n') + '\n';
}
