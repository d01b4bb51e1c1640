// JSON value types and small helpers shared by the control plane. API objects are plain JSON
// trees; they are treated as immutable once stored (writers always work on a copy).

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isJsonArray(v: unknown): v is Json[] {
  return Array.isArray(v);
}

/** Deep copy of a JSON value. */
export function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const k of ak) {
    if (!Object.hasOwn(b, k) || !deepEqual(a[k], b[k])) return false;
  }
  return true;
}

/** The child object at `key`, or undefined when absent or not an object. */
export function objAt(o: JsonObject | undefined, key: string): JsonObject | undefined {
  const v = o?.[key];
  return isObject(v) ? v : undefined;
}

/** The child object at `key`, created when absent. */
export function ensureObj(o: JsonObject, key: string): JsonObject {
  const v = o[key];
  if (isObject(v)) return v;
  const created: JsonObject = {};
  o[key] = created;
  return created;
}

export function strAt(o: JsonObject | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function numAt(o: JsonObject | undefined, key: string): number | undefined {
  const v = o?.[key];
  return typeof v === 'number' ? v : undefined;
}

export function boolAt(o: JsonObject | undefined, key: string): boolean | undefined {
  const v = o?.[key];
  return typeof v === 'boolean' ? v : undefined;
}

export function arrAt(o: JsonObject | undefined, key: string): Json[] | undefined {
  const v = o?.[key];
  return Array.isArray(v) ? v : undefined;
}

/** Objects of the array at `key` (non-objects skipped). */
export function objectsAt(o: JsonObject | undefined, key: string): JsonObject[] {
  const a = arrAt(o, key);
  return a ? a.filter(isObject) : [];
}

export function stringsAt(o: JsonObject | undefined, key: string): string[] {
  const a = arrAt(o, key);
  return a ? a.filter((x): x is string => typeof x === 'string') : [];
}

/** A map[string]string at `key` (non-string values skipped). */
export function stringMapAt(o: JsonObject | undefined, key: string): Record<string, string> {
  const m = objAt(o, key);
  const out: Record<string, string> = {};
  if (!m) return out;
  for (const [k, v] of Object.entries(m)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Removes a key (computed keys are fine: this is a plain JSON object). */
export function deleteKey(o: JsonObject, key: string): void {
  Reflect.deleteProperty(o, key);
}

/** Parses JSON text into a JSON value; throws SyntaxError. */
export function parseJson(text: string): Json {
  return JSON.parse(text) as Json;
}
