// Turns a request body into a decoded object of the expected kind, applying the requested
// field validation (Strict: unknown fields are an error; Warn: a warning; Ignore: dropped).

import { badRequest } from '../errors.ts';
import { isObject, type Json, type JsonObject } from '../json.ts';
import { decodeWithSchema } from './decode.ts';
import type { ResourceDef } from './types.ts';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function parseFieldValidation(v: string | null): FieldValidation {
  if (v === null || v === '' || v === 'Warn') return 'Warn';
  if (v === 'Strict' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: "Ignore", "Strict", "Warn"`);
}

export function decodeBody(def: ResourceDef, body: Json, mode: FieldValidation, warnings: string[]): JsonObject {
  const prefix = `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}`;
  if (!isObject(body)) throw badRequest(`${prefix}: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type ${def.group ? def.version : 'v1'}.${def.kind}`);
  const kind = body['kind'];
  const apiVersion = body['apiVersion'];
  if ((kind !== undefined && kind !== def.kind) || (apiVersion !== undefined && apiVersion !== def.apiVersion)) {
    throw badRequest(`${prefix}: no kind ${JSON.stringify(kind ?? '')} is registered for version ${JSON.stringify(apiVersion ?? '')} in scheme`);
  }
  const r = decodeWithSchema(def.schema, body);
  if (r.errors.length) throw badRequest(`${prefix}: ${r.errors[0] ?? ''}`);
  if (r.unknownFields.length) {
    const list = r.unknownFields.map((f) => `unknown field ${JSON.stringify(f)}`);
    if (mode === 'Strict') throw badRequest(`${prefix}: strict decoding error: ${list.join(', ')}`);
    if (mode === 'Warn') warnings.push(...list);
  }
  const out = r.value;
  out['apiVersion'] = def.apiVersion;
  out['kind'] = def.kind;
  if (!isObject(out['metadata'])) out['metadata'] = {};
  return out;
}
