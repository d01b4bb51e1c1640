// Field selectors (fields.ParseSelector): "a=b,c!=d" with backslash escapes; each resource
// declares which fields it supports (metadata.name and metadata.namespace always).

import { SelectorError } from './labels.ts';

export interface FieldRequirement {
  readonly field: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

export interface FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  readonly empty: boolean;
  /** The name when the selector pins metadata.name=X (fast path: direct lookup). */
  readonly name: string | undefined;
  matches(get: (field: string) => string | undefined): boolean;
}

function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === '\\' && i + 1 < s.length) { cur += c + s.charAt(i + 1); i++; continue; }
    if (c === sep) { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

export function parseFieldSelector(text: string, supported: ReadonlySet<string>): FieldSelector {
  const reqs: FieldRequirement[] = [];
  if (text.trim() !== '') {
    for (const part of splitUnescaped(text, ',')) {
      const m = /^(.*?)(!=|==|=)(.*)$/s.exec(part);
      if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${part}'`);
      const field = (m[1] ?? '').trim();
      const value = unescape(m[3] ?? '');
      if (!supported.has(field)) throw new SelectorError(`field label not supported: ${field}`);
      reqs.push({ field, op: m[2] === '!=' ? '!=' : '=', value });
    }
  }
  const nameReq = reqs.find((r) => r.field === 'metadata.name' && r.op === '=');
  return {
    requirements: reqs,
    empty: reqs.length === 0,
    name: nameReq?.value,
    matches: (get) => reqs.every((r) => {
      const v = get(r.field) ?? '';
      return r.op === '=' ? v === r.value : v !== r.value;
    }),
  };
}
