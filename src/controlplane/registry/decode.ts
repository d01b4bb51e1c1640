// Decodes request bodies against the schema the way the Go API server's JSON decoder does:
// unknown fields are collected (and pruned), values of the wrong type are errors worded like
// encoding/json's, nulls become absent, timestamps are normalised to RFC 3339 seconds.

import { isObject, type Json, type JsonObject } from '../json.ts';
import { schemaDef, type FieldSchema, type ObjectDef } from './schema.ts';

export interface DecodeResult {
  readonly value: JsonObject;
  /** Paths like "spec.ports[0].foo". */
  readonly unknownFields: string[];
  /** encoding/json style messages. */
  readonly errors: string[];
}

interface Ctx {
  readonly unknown: string[];
  readonly errors: string[];
}

function jsonTypeName(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function goTypeName(s: FieldSchema): string {
  switch (s.type) {
    case 'string': case 'time': return 'string';
    case 'int32': return 'int32';
    case 'int64': return 'int64';
    case 'boolean': return 'bool';
    case 'intOrString': return 'intstr.IntOrString';
    case 'quantity': return 'resource.Quantity';
    case 'any': return 'interface {}';
    case 'map': return `map[string]${goTypeName(s.values)}`;
    case 'list': return `[]${goTypeName(s.items)}`;
    case 'ref': return `v1.${schemaDef(s.ref).goName}`;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Normalises an RFC 3339 time the way metav1.Time marshals it (UTC, whole seconds). */
export function normaliseTime(s: string): string | undefined {
  if (!RFC3339.test(s)) return undefined;
  const ms = Date.parse(s.replace(' ', 'T'));
  if (Number.isNaN(ms)) return undefined;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function decodeValue(s: FieldSchema, v: Json, path: string, goField: string, ctx: Ctx): Json | undefined {
  if (v === null) return undefined;
  const typeErr = (): Json | undefined => {
    const num = typeof v === 'number' ? ` ${String(v)}` : '';
    ctx.errors.push(`json: cannot unmarshal ${jsonTypeName(v)}${num} into Go struct field ${goField} of type ${goTypeName(s)}`);
    return undefined;
  };
  switch (s.type) {
    case 'any':
      return v;
    case 'string':
      return typeof v === 'string' ? v : typeErr();
    case 'time': {
      if (typeof v !== 'string') return typeErr();
      if (v === '') return undefined;
      const t = normaliseTime(v);
      if (t === undefined) {
        ctx.errors.push(`parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(v)} as RFC 3339`);
        return undefined;
      }
      return t;
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : typeErr();
    case 'int32':
    case 'int64': {
      if (typeof v !== 'number' || !Number.isInteger(v)) return typeErr();
      const [lo, hi] = s.type === 'int32' ? [-2147483648, 2147483647] : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
      return v < lo || v > hi ? typeErr() : v;
    }
    case 'intOrString':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 2147483647) return v;
      return typeErr();
    case 'quantity':
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      return typeErr();
    case 'map': {
      if (!isObject(v)) return typeErr();
      const out: JsonObject = {};
      for (const [k, item] of Object.entries(v)) {
        const d = decodeValue(s.values, item, `${path}[${k}]`, goField, ctx);
        if (d !== undefined) out[k] = d;
        else if (item === null && (s.values.type === 'string')) out[k] = '';
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(v)) return typeErr();
      const out: Json[] = [];
      v.forEach((item, i) => {
        const d = decodeValue(s.items, item, `${path}[${String(i)}]`, goField, ctx);
        out.push(d ?? zeroValue(s.items));
      });
      return out;
    }
    case 'ref': {
      if (!isObject(v)) return typeErr();
      return decodeObject(schemaDef(s.ref), v, path, ctx);
    }
  }
}

function zeroValue(s: FieldSchema): Json {
  switch (s.type) {
    case 'string': case 'time': case 'quantity': return '';
    case 'int32': case 'int64': case 'intOrString': return 0;
    case 'boolean': return false;
    case 'any': return null;
    case 'list': return [];
    case 'map': case 'ref': return {};
  }
}

function decodeObject(d: ObjectDef, v: JsonObject, path: string, ctx: Ctx): JsonObject {
  const out: JsonObject = {};
  for (const [k, item] of Object.entries(v)) {
    const fieldPath = path ? `${path}.${k}` : k;
    const fs = d.fields[k];
    if (!fs) {
      ctx.unknown.push(fieldPath);
      continue;
    }
    const goField = `${d.goName}.${fieldPath.replace(/\[[^\]]*\]/g, '')}`;
    const decoded = decodeValue(fs, item, fieldPath, goField, ctx);
    if (decoded !== undefined) out[k] = decoded;
  }
  return out;
}

/** Decodes a top-level object of the given schema. */
export function decodeWithSchema(schemaName: string, v: JsonObject): DecodeResult {
  const ctx: Ctx = { unknown: [], errors: [] };
  const value = decodeObject(schemaDef(schemaName), v, '', ctx);
  return { value, unknownFields: ctx.unknown, errors: ctx.errors };
}
