// JSON merge patch (RFC 7386): objects merge recursively, null deletes, everything else
// (including lists) replaces.

import { clone, deleteKey, isObject, type Json, type JsonObject } from '../json.ts';

export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) deleteKey(out, k);
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
