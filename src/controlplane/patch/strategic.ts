// Strategic merge patch, as apimachinery's strategicpatch.StrategicMergePatch applies it on the
// server (MergeParallelList, IgnoreUnmatchedNulls): lists with patchStrategy "merge" merge by
// their patchMergeKey (or as sets of scalars), other lists replace; the directives $patch
// (replace/delete/merge), $retainKeys, $setElementOrder/<list> and $deleteFromPrimitiveList/<list>
// are honoured, and the result's element order follows upstream's normalizeElementOrder.

import { clone, deepEqual, deleteKey, isObject, type Json, type JsonObject } from '../json.ts';
import { schemaDef, type FieldSchema } from '../registry/schema.ts';
import { PatchError } from './json-patch.ts';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

/** Schema of an object: the named def's fields, or a map's value schema, or nothing (free-form). */
type ObjSchema = { readonly kind: 'struct'; readonly fields: Readonly<Record<string, FieldSchema>> } | { readonly kind: 'map'; readonly values: FieldSchema } | undefined;

function objSchemaOf(s: FieldSchema | undefined): ObjSchema {
  if (!s) return undefined;
  if (s.type === 'ref') return { kind: 'struct', fields: schemaDef(s.ref).fields };
  if (s.type === 'map') return { kind: 'map', values: s.values };
  return undefined;
}

function fieldOf(schema: ObjSchema, key: string): FieldSchema | undefined {
  if (!schema) return undefined;
  return schema.kind === 'struct' ? schema.fields[key] : schema.values;
}

interface ListMeta {
  readonly merge: boolean;
  readonly mergeKey: string | undefined;
  readonly items: FieldSchema | undefined;
}

function listMetaOf(s: FieldSchema | undefined): ListMeta {
  if (s?.type !== 'list') return { merge: false, mergeKey: undefined, items: undefined };
  return { merge: s.patchStrategy === 'merge', mergeKey: s.patchMergeKey, items: s.items };
}

/** Applies a strategic merge patch to `original` (a top-level object of the given schema). */
export function applyStrategicMergePatch(original: JsonObject, patch: Json, schemaName: string): JsonObject {
  if (!isObject(patch)) throw new PatchError('a strategic merge patch must be a JSON object');
  return mergeMap(clone(original), clone(patch), { kind: 'struct', fields: schemaDef(schemaName).fields });
}

function mergeMap(original: JsonObject, patch: JsonObject, schema: ObjSchema): JsonObject {
  const directive = patch[DIRECTIVE];
  if (directive !== undefined) {
    if (directive === 'replace') {
      const out = { ...patch };
      deleteKey(out, DIRECTIVE);
      return stripDirectives(out) as JsonObject;
    }
    if (directive === 'delete') return {};
    if (directive !== 'merge') throw new PatchError(`Unknown patch type: ${JSON.stringify(directive)}`);
    deleteKey(patch, DIRECTIVE);
  }
  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new PatchError('$retainKeys must be a list');
    const keep = new Set(retain.filter((k): k is string => typeof k === 'string'));
    for (const k of Object.keys(original)) if (!keep.has(k)) deleteKey(original, k);
    deleteKey(patch, RETAIN_KEYS);
  }
  // $setElementOrder directives, merged together with their lists.
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    if (!Array.isArray(order)) throw new PatchError(`${key} must be a list`);
    const field = key.slice(SET_ORDER.length);
    const meta = listMetaOf(fieldOf(schema, field));
    const orig = Array.isArray(original[field]) ? original[field] : [];
    const pl = patch[field];
    const patchList = Array.isArray(pl) ? pl : [];
    let merged: Json[];
    if (orig.length === 0) merged = stripDirectives(patchList) as Json[];
    else if (patchList.length === 0) merged = orig;
    else merged = meta.merge ? mergeSlice(orig, patchList, meta, false) : (stripDirectives(patchList) as Json[]);
    const [inOrder, serverOnly] = partition(merged, order, meta.mergeKey);
    original[field] = normalizeElementOrder(inOrder, serverOnly, order, orig, meta.mergeKey);
    deleteKey(patch, field);
    deleteKey(patch, key);
  }
  for (const [rawKey, patchV] of Object.entries(patch)) {
    if (rawKey.startsWith(DELETE_PRIMITIVE)) {
      const key = rawKey.slice(DELETE_PRIMITIVE.length);
      if (!Array.isArray(patchV)) throw new PatchError(`${rawKey} must be a list`);
      const o = original[key];
      if (Array.isArray(o)) original[key] = o.filter((x) => !patchV.some((d) => deepEqual(d, x)));
      continue;
    }
    const key = rawKey;
    if (patchV === null) {
      deleteKey(original, key);
      continue;
    }
    const origV = original[key];
    if (origV === undefined || origV === null || kindOf(origV) !== kindOf(patchV)) {
      original[key] = stripDirectives(patchV);
      continue;
    }
    const fs = fieldOf(schema, key);
    if (isObject(origV) && isObject(patchV)) {
      original[key] = mergeMap(origV, patchV, objSchemaOf(fs));
    } else if (Array.isArray(origV) && Array.isArray(patchV)) {
      const meta = listMetaOf(fs);
      original[key] = meta.merge ? mergeSlice(origV, patchV, meta, true) : stripDirectives(patchV);
    } else {
      original[key] = patchV;
    }
  }
  return original;
}

function kindOf(v: Json): string {
  if (Array.isArray(v)) return 'list';
  if (isObject(v)) return 'map';
  return 'scalar';
}

/** Removes directive keys and null values (IgnoreUnmatchedNulls) from a value taken from the patch. */
function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) {
    return v.filter((x) => !(isObject(x) && x[DIRECTIVE] === 'delete')).filter((x) => !(isObject(x) && x[DIRECTIVE] === 'replace' && Object.keys(x).length === 1)).map(stripDirectives);
  }
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || k.startsWith(DELETE_PRIMITIVE) || x === null) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

function mergeKeyValue(item: Json, mergeKey: string): Json | undefined {
  return isObject(item) ? item[mergeKey] : undefined;
}

function mergeSlice(original: Json[], patch: Json[], meta: ListMeta, applyOrder: boolean): Json[] {
  if (original.length === 0 && patch.length === 0) return original;
  const isMaps = [...original, ...patch].some(isObject);
  let merged: Json[];
  let patchItems = patch;
  if (!isMaps) {
    merged = [];
    for (const x of [...original, ...patch]) if (!merged.some((m) => deepEqual(m, x))) merged.push(x);
  } else {
    const mergeKey = meta.mergeKey;
    if (mergeKey === undefined) throw new PatchError('cannot merge lists without merge key');
    let base = original.slice();
    const rest: Json[] = [];
    for (const p of patch) {
      if (!isObject(p) || p[DIRECTIVE] === undefined) { rest.push(p); continue; }
      const d = p[DIRECTIVE];
      if (d === 'replace') {
        return stripDirectives(patch) as Json[];
      }
      if (d === 'delete') {
        const kv = p[mergeKey];
        if (kv === undefined) throw new PatchError(`delete patch does not contain the merge key ${mergeKey}`);
        base = base.filter((o) => !deepEqual(mergeKeyValue(o, mergeKey), kv));
        continue;
      }
      if (d !== 'merge') throw new PatchError(`Unknown patch type: ${JSON.stringify(d)}`);
      const copy = { ...p };
      deleteKey(copy, DIRECTIVE);
      rest.push(copy);
    }
    patchItems = rest;
    merged = base;
    const itemSchema = objSchemaOf(meta.items);
    for (const p of rest) {
      if (!isObject(p)) throw new PatchError('list items of a merged list must be objects');
      const kv = p[mergeKey];
      if (kv === undefined) throw new PatchError(`map: ${JSON.stringify(p)} does not contain declared merge key: ${mergeKey}`);
      const idx = merged.findIndex((o) => deepEqual(mergeKeyValue(o, mergeKey), kv));
      const existing = merged[idx];
      if (idx >= 0 && isObject(existing)) merged[idx] = mergeMap({ ...existing }, p, itemSchema);
      else merged.push(stripDirectives(p));
    }
  }
  if (!applyOrder) return merged;
  const [inPatch, serverOnly] = partition(merged, patchItems, meta.mergeKey);
  return normalizeElementOrder(inPatch, serverOnly, patchItems, original, meta.mergeKey);
}

function indexIn(list: readonly Json[], item: Json, mergeKey: string | undefined): number {
  if (mergeKey === undefined || !isObject(item)) return list.findIndex((x) => deepEqual(x, item));
  const kv = item[mergeKey];
  return list.findIndex((x) => deepEqual(mergeKeyValue(x, mergeKey), kv));
}

function partition(merged: Json[], present: readonly Json[], mergeKey: string | undefined): [Json[], Json[]] {
  const inList: Json[] = [];
  const others: Json[] = [];
  for (const m of merged) (indexIn(present, m, mergeKey) >= 0 ? inList : others).push(m);
  return [inList, others];
}

function sortByOrder(items: Json[], order: readonly Json[], mergeKey: string | undefined): Json[] {
  const withIdx = items.map((it, i) => ({ it, i, o: indexIn(order, it, mergeKey) }));
  withIdx.sort((a, b) => {
    if (a.o >= 0 && b.o >= 0) return a.o - b.o;
    if (a.o >= 0) return -1;
    if (b.o >= 0) return 1;
    return a.i - b.i;
  });
  return withIdx.map((x) => x.it);
}

/** Patch items in patch order, server-only items in server order, interleaved by server order. */
function normalizeElementOrder(patchItems: Json[], serverOnly: Json[], patchOrder: readonly Json[], serverOrder: readonly Json[], mergeKey: string | undefined): Json[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey);
  const left = sortByOrder(serverOnly, serverOrder, mergeKey);
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    const l = left[i];
    const r = right[j];
    if (l === undefined) { out.push(r ?? null); j++; continue; }
    if (r === undefined) { out.push(l); i++; continue; }
    const li = indexIn(serverOrder, l, mergeKey);
    const ri = indexIn(serverOrder, r, mergeKey);
    if (li >= 0 && ri >= 0 && li < ri) { out.push(l); i++; } else { out.push(r); j++; }
  }
  return out;
}
