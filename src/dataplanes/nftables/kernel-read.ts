// Reads what our tables hold, for full syncs only: chain names, affinity sets and the elements
// of the reconciled sets/maps — never the rules, whose listing is what made upstream's syncs
// slow at scale, and not the hairpin set (only ever added to between rewrites, which rebuild it).
// Large rulesets are read by name only (`elements: false`): nft's JSON of 100k elements costs
// seconds and ≈ 100 MiB to parse, more than flushing those containers and writing them again in
// the same transaction (what plan-full does with `unread` containers).

import * as N from './names.ts';
import type { KernelView } from './plan-full.ts';
import { elementPayloadText, nameOfId, objId, tableOfId, type NftFamily } from './ruleset.ts';
import type { NftRunner } from './runner.ts';
import { setSignature } from './state.ts';

type Json = unknown;

function isObj(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function items(text: string): Record<string, Json>[] {
  const doc: Json = JSON.parse(text);
  if (!isObj(doc) || !Array.isArray(doc['nftables'])) throw new Error('unexpected nft JSON output');
  return (doc['nftables'] as Json[]).filter(isObj);
}

/** An object of this family in one of our tables. */
function ours(o: Json, nft: NftFamily): o is Record<string, Json> {
  return isObj(o) && o['family'] === nft && typeof o['table'] === 'string' && N.shardIndexOf(o['table']) !== undefined && typeof o['name'] === 'string';
}

function atom(v: Json): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (isObj(v) && Array.isArray(v['concat'])) return (v['concat'] as Json[]).map(atom).join(' . ');
  if (isObj(v) && isObj(v['prefix'])) return `${atom(v['prefix']['addr'])}/${atom(v['prefix']['len'])}`;
  throw new Error(`unexpected element in nft JSON: ${JSON.stringify(v)}`);
}

const VERDICTS: ReadonlySet<string> = new Set(['goto', 'jump', 'drop', 'accept', 'return', 'continue', 'queue']);

/** A map value: a verdict ("goto x", "drop") or data ("10.0.0.1 . 8080"). */
function mapValue(v: Json): string {
  if (isObj(v)) {
    const [kind] = Object.keys(v);
    if (kind !== undefined && VERDICTS.has(kind)) return verdict(v);
  }
  return atom(v);
}

function verdict(v: Json): string {
  if (!isObj(v)) throw new Error(`unexpected verdict in nft JSON: ${JSON.stringify(v)}`);
  const [kind] = Object.keys(v);
  if (kind === undefined) throw new Error('empty verdict in nft JSON');
  const arg = v[kind];
  return isObj(arg) && typeof arg['target'] === 'string' ? `${kind} ${arg['target']}` : kind;
}

/** Parse one element of a set ("elem" list entry) into [key text, comment]. */
function parseKey(e: Json): [string, string | undefined] {
  if (isObj(e) && isObj(e['elem'])) {
    const inner = e['elem'];
    return [atom(inner['val']), typeof inner['comment'] === 'string' ? inner['comment'] : undefined];
  }
  return [atom(e), undefined];
}

function parseElements(container: Record<string, Json>, isMap: boolean): Map<string, string> {
  const out = new Map<string, string>();
  const elems = container['elem'];
  if (!Array.isArray(elems)) return out;
  for (const e of elems as Json[]) {
    if (isMap) {
      if (!Array.isArray(e) || e.length !== 2) throw new Error(`unexpected map element: ${JSON.stringify(e)}`);
      const [key, comment] = parseKey(e[0]);
      out.set(key, elementPayloadText({ value: mapValue(e[1]), ...(comment !== undefined ? { comment } : {}) }));
    } else {
      const [key, comment] = parseKey(e);
      out.set(key, elementPayloadText(comment !== undefined ? { comment } : {}));
    }
  }
  return out;
}

/**
 * Reads our tables' chain names, affinity sets and the elements of the reconciled containers
 * (or, with `elements: false`, only which of those containers exist).
 */
export async function readKernelView(runner: NftRunner, nft: NftFamily, opts: { readonly elements: boolean } = { elements: true }): Promise<KernelView> {
  // Terse listings (no elements) are cheap; listing all sets or maps with their elements in
  // one go is not (nft builds its whole cache), so elements are read per container.
  const [chainsText, setsText, mapsText] = await Promise.all([
    runner.query(['-j', '-t', 'list', 'chains', nft]),
    runner.query(['-j', '-t', 'list', 'sets', nft]),
    runner.query(['-j', '-t', 'list', 'maps', nft]),
  ]);
  const tables = new Set<string>();
  const chains = new Set<string>();
  for (const it of items(chainsText)) {
    const c = it['chain'];
    if (!ours(c, nft)) continue;
    const table = c['table'] as string;
    tables.add(table);
    chains.add(objId(table, c['name'] as string));
  }
  const affinitySets = new Map<string, string>();
  const present: ['set' | 'map', string][] = [];
  const reconciled = (table: string, name: string): boolean => (table === N.TABLE
    ? (N.ELEMENT_CONTAINERS as readonly string[]).includes(name)
    : (N.SHARD_ELEMENT_CONTAINERS as readonly string[]).includes(name));
  for (const it of items(setsText)) {
    const s = it['set'];
    if (!ours(s, nft)) continue;
    const table = s['table'] as string;
    const name = s['name'] as string;
    tables.add(table);
    if (N.isAffinitySetName(name)) {
      const timeout = typeof s['timeout'] === 'number' ? s['timeout'] : undefined;
      affinitySets.set(objId(table, name), setSignature({ type: typeof s['type'] === 'string' ? s['type'] : '?', ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}) }));
    } else if (reconciled(table, name)) {
      present.push(['set', objId(table, name)]);
    }
  }
  for (const it of items(mapsText)) {
    const m = it['map'];
    if (!ours(m, nft)) continue;
    const table = m['table'] as string;
    tables.add(table);
    if (reconciled(table, m['name'] as string)) present.push(['map', objId(table, m['name'] as string)]);
  }
  const elements = new Map<string, Map<string, string>>();
  if (!opts.elements) return { tables, chains, affinitySets, elements, unread: new Map(present.map(([kind, id]) => [id, kind])) };
  await Promise.all(present.map(async ([kind, id]) => {
    const table = tableOfId(id);
    const name = nameOfId(id);
    for (const it of items(await runner.query(['-j', 'list', kind, nft, table, name]))) {
      const c = it[kind];
      if (ours(c, nft) && c['table'] === table && c['name'] === name) elements.set(id, parseElements(c, kind === 'map'));
    }
  }));
  return { tables, chains, affinitySets, elements, unread: new Map() };
}
