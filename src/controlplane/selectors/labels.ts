// Label selectors in the syntax of apimachinery's labels.Parse:
//   key, !key, key=v, key==v, key!=v, key in (a,b), key notin (a,b), key>1, key<1
// joined by commas. Parse errors throw SelectorError (the HTTP layer answers 400).

import { labelValue, qualifiedName } from '../registry/validation.ts';

export class SelectorError extends Error {
  readonly code = 'SelectorError';
}

export type Operator = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

export interface Requirement {
  readonly key: string;
  readonly op: Operator;
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly requirements: readonly Requirement[];
  /** True when the selector matches everything. */
  readonly empty: boolean;
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
}

type Token =
  | { readonly t: 'id'; readonly v: string }
  | { readonly t: 'op'; readonly v: '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '>' | '<' };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const two = s.slice(i, i + 2);
    if (two === '==' || two === '!=') { out.push({ t: 'op', v: two }); i += 2; continue; }
    if (c === '!' || c === '=' || c === '(' || c === ')' || c === ',' || c === '>' || c === '<') {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && !' \t\n\r!=(),<>'.includes(s.charAt(j))) j++;
    out.push({ t: 'id', v: s.slice(i, j) });
    i = j;
  }
  return out;
}

function checkKey(k: string): void {
  const errs = qualifiedName(k);
  if (errs.length) throw new SelectorError(`unable to parse requirement: key: Invalid value: ${JSON.stringify(k)}: ${errs.join('; ')}`);
}

function checkValue(v: string): void {
  const errs = labelValue(v);
  if (errs.length) throw new SelectorError(`unable to parse requirement: values[0]: Invalid value: ${JSON.stringify(v)}: ${errs.join('; ')}`);
}

function matchRequirement(r: Requirement, labels: Readonly<Record<string, string>> | undefined): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  switch (r.op) {
    case 'exists': return has;
    case '!': return !has;
    case '=': return v !== undefined && v === r.values[0];
    case '!=': return v === undefined || v !== r.values[0];
    case 'in': return v !== undefined && r.values.includes(v);
    case 'notin': return v === undefined || !r.values.includes(v);
    case 'gt':
    case 'lt': {
      if (v === undefined || !/^-?\d+$/.test(v)) return false;
      const n = Number(v);
      const bound = Number(r.values[0]);
      return r.op === 'gt' ? n > bound : n < bound;
    }
  }
}

export function makeSelector(requirements: readonly Requirement[]): LabelSelector {
  return {
    requirements,
    empty: requirements.length === 0,
    matches: (labels) => requirements.every((r) => matchRequirement(r, labels)),
  };
}

export const EVERYTHING: LabelSelector = makeSelector([]);

export function parseLabelSelector(text: string): LabelSelector {
  const toks = tokenize(text);
  const reqs: Requirement[] = [];
  let i = 0;
  const peek = (): Token | undefined => toks[i];
  const next = (): Token | undefined => toks[i++];
  const expectId = (what: string): string => {
    const t = next();
    if (t?.t !== 'id') throw new SelectorError(`unable to parse requirement: found '${t?.v ?? ''}', expected: ${what}`);
    return t.v;
  };
  while (i < toks.length) {
    let t = next();
    if (t === undefined) break;
    if (t.t === 'op' && t.v === '!') {
      const key = expectId('identifier after \'!\'');
      checkKey(key);
      reqs.push({ key, op: '!', values: [] });
    } else if (t.t === 'id') {
      const key = t.v;
      checkKey(key);
      const op = peek();
      if (op === undefined || (op.t === 'op' && op.v === ',')) {
        reqs.push({ key, op: 'exists', values: [] });
      } else if (op.t === 'op' && (op.v === '=' || op.v === '==' || op.v === '!=')) {
        i++;
        const nt = peek();
        let value = '';
        if (nt?.t === 'id') { value = nt.v; i++; }
        checkValue(value);
        reqs.push({ key, op: op.v === '!=' ? '!=' : '=', values: [value] });
      } else if (op.t === 'op' && (op.v === '>' || op.v === '<')) {
        i++;
        const value = expectId('integer value');
        if (!/^-?\d+$/.test(value)) throw new SelectorError(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key, op: op.v === '>' ? 'gt' : 'lt', values: [value] });
      } else if (op.t === 'id' && (op.v === 'in' || op.v === 'notin')) {
        i++;
        const open = next();
        if (open?.t !== 'op' || open.v !== '(') throw new SelectorError(`unable to parse requirement: found '${open?.v ?? ''}', expected: '('`);
        const values: string[] = [];
        for (;;) {
          const v = next();
          if (v === undefined) throw new SelectorError('unable to parse requirement: found \'\', expected: \')\'');
          if (v.t === 'op' && v.v === ')') break;
          if (v.t === 'op' && v.v === ',') {
            // An empty value between commas or after '(' is the empty string.
            const prev = toks[i - 2];
            if (prev?.t === 'op' && (prev.v === '(' || prev.v === ',')) values.push('');
            const nx = peek();
            if (nx?.t === 'op' && nx.v === ')') values.push('');
            continue;
          }
          if (v.t !== 'id') throw new SelectorError(`unable to parse requirement: found '${v.v}', expected: ',', ')' or identifier`);
          checkValue(v.v);
          values.push(v.v);
        }
        if (values.length === 0 && op.v === 'in') throw new SelectorError('unable to parse requirement: for \'in\', \'notin\' operators, values set can\'t be empty');
        reqs.push({ key, op: op.v, values });
      } else {
        throw new SelectorError(`unable to parse requirement: found '${op.v}', expected: in, notin, =, ==, !=, gt, lt`);
      }
    } else {
      throw new SelectorError(`unable to parse requirement: found '${t.v}', expected: !, identifier, or 'end of string'`);
    }
    t = peek();
    if (t === undefined) break;
    if (t.t === 'op' && t.v === ',') { i++; if (peek() === undefined) throw new SelectorError('unable to parse requirement: found \'\', expected: identifier after \',\''); continue; }
    throw new SelectorError(`found '${t.v}', expected: ',' or 'end of string'`);
  }
  return makeSelector(reqs);
}

/** Selector from a metav1.LabelSelector map form ({app: x}). */
export function selectorFromMap(m: Readonly<Record<string, string>>): LabelSelector {
  return makeSelector(Object.entries(m).map(([key, v]) => ({ key, op: '=' as const, values: [v] })));
}
