// JSON patch (RFC 6902): add, remove, replace, move, copy and test on JSON pointers.

import { clone, deepEqual, deleteKey, isObject, type Json } from '../json.ts';

export class PatchError extends Error {
  readonly code = 'PatchError';
}

interface Op {
  readonly op: string;
  readonly path: string;
  readonly from?: string;
  readonly value?: Json;
}

function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parseOps(patch: Json): Op[] {
  if (!Array.isArray(patch)) throw new PatchError('a JSON patch must be a list of operations');
  return patch.map((raw, i) => {
    if (!isObject(raw)) throw new PatchError(`operation ${String(i)} is not an object`);
    const { op, path, from, value } = raw;
    if (typeof op !== 'string') throw new PatchError(`operation ${String(i)} has no "op"`);
    if (typeof path !== 'string') throw new PatchError(`operation ${String(i)} has no "path"`);
    const o: { op: string; path: string; from?: string; value?: Json } = { op, path };
    if (typeof from === 'string') o.from = from;
    if (value !== undefined) o.value = value;
    return o;
  });
}

function arrayIndex(tok: string, len: number, forAdd: boolean): number {
  if (forAdd && tok === '-') return len;
  if (!/^(0|[1-9]\d*)$/.test(tok)) throw new PatchError(`invalid array index ${JSON.stringify(tok)}`);
  const i = Number(tok);
  if (i > len || (!forAdd && i === len)) throw new PatchError(`array index ${tok} out of bounds`);
  return i;
}

function getAt(doc: Json, tokens: readonly string[], pointer: string): Json {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false)] ?? null;
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t] ?? null;
    else throw new PatchError(`path ${JSON.stringify(pointer)} does not exist`);
  }
  return cur;
}

/** Parent container of the pointer's last token (mutable, inside doc). */
function parentOf(doc: Json, tokens: readonly string[], pointer: string): Json {
  return getAt(doc, tokens.slice(0, -1), pointer);
}

function add(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  const last = tokens[tokens.length - 1];
  if (last === undefined) return value;
  const parent = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else throw new PatchError(`path ${JSON.stringify(pointer)} does not exist`);
  return doc;
}

function remove(doc: Json, pointer: string): { doc: Json; removed: Json } {
  const tokens = parsePointer(pointer);
  const last = tokens[tokens.length - 1];
  if (last === undefined) throw new PatchError('cannot remove the whole document');
  const parent = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const [removed] = parent.splice(arrayIndex(last, parent.length, false), 1);
    return { doc, removed: removed ?? null };
  }
  if (isObject(parent) && Object.hasOwn(parent, last)) {
    const removed = parent[last] ?? null;
    deleteKey(parent, last);
    return { doc, removed };
  }
  throw new PatchError(`unable to remove nonexistent key: ${last}: missing value`);
}

export function applyJsonPatch(target: Json, patch: Json): Json {
  let doc = clone(target);
  for (const op of parseOps(patch)) {
    switch (op.op) {
      case 'add':
        if (op.value === undefined) throw new PatchError('add operation does not apply: doc is missing value');
        doc = add(doc, op.path, clone(op.value));
        break;
      case 'remove':
        doc = remove(doc, op.path).doc;
        break;
      case 'replace': {
        if (op.value === undefined) throw new PatchError('replace operation does not apply: doc is missing value');
        const tokens = parsePointer(op.path);
        if (tokens.length === 0) { doc = clone(op.value); break; }
        getAt(doc, tokens, op.path);
        doc = add(remove(doc, op.path).doc, op.path, clone(op.value));
        break;
      }
      case 'move': {
        if (op.from === undefined) throw new PatchError('move operation has no "from"');
        const r = remove(doc, op.from);
        doc = add(r.doc, op.path, r.removed);
        break;
      }
      case 'copy': {
        if (op.from === undefined) throw new PatchError('copy operation has no "from"');
        doc = add(doc, op.path, clone(getAt(doc, parsePointer(op.from), op.from)));
        break;
      }
      case 'test': {
        const actual = getAt(doc, parsePointer(op.path), op.path);
        if (!deepEqual(actual, op.value ?? null)) throw new PatchError(`testing value ${op.path} failed`);
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}
