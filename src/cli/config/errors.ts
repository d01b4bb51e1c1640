// Construction and rendering of configuration errors, worded like upstream's field errors
// (k8s.io/apimachinery/pkg/util/validation/field) and pflag's flag errors.

import type { ConfigError } from './types.ts';

/** A value as upstream prints it in a field error: strings quoted, numbers and bools bare. */
export function renderValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return 'null';
  return JSON.stringify(value);
}

function valueText(value: unknown): string {
  return typeof value === 'string' ? value : renderValue(value);
}

export function invalid(field: string, value: unknown, detail: string): ConfigError {
  return { field, value: valueText(value), message: `${field}: Invalid value: ${renderValue(value)}: ${detail}` };
}

export function unsupported(field: string, value: unknown, supported: readonly string[]): ConfigError {
  const list = supported.map((s) => JSON.stringify(s)).join(', ');
  return { field, value: valueText(value), message: `${field}: Unsupported value: ${renderValue(value)}: supported values: ${list}` };
}

export function required(field: string, detail: string): ConfigError {
  return { field, message: `${field}: Required value: ${detail}` };
}

export function unknownField(field: string): ConfigError {
  return { field, value: field, message: `${field}: unknown field ${JSON.stringify(field)} (strict decoding)` };
}

export function typeError(field: string, value: unknown, expected: string): ConfigError {
  return { field, value: valueText(value), message: `${field}: Invalid value: ${renderValue(value)}: must be ${expected}` };
}

export function flagError(flag: string, message: string, value?: string): ConfigError {
  return value === undefined ? { field: flag, message } : { field: flag, value, message };
}

/** pflag's wording for a value its type rejects. */
export function badFlagValue(flag: string, value: string, reason: string): ConfigError {
  return flagError(flag, `invalid argument ${JSON.stringify(value)} for "${flag}" flag: ${reason}`, value);
}

/** Append "(set by --flag)" to errors about fields a command-line flag set. */
export function attributeToFlags(errors: readonly ConfigError[], setBy: ReadonlyMap<string, string>): ConfigError[] {
  return errors.map((e) => {
    // "nodePortAddresses[1]" was set by the flag that set "nodePortAddresses".
    const flag = setBy.get(e.field) ?? setBy.get(e.field.replace(/\[\d+\]$/, ''));
    return flag === undefined ? e : { ...e, message: `${e.message} (set by ${flag})` };
  });
}

export function renderErrors(errors: readonly ConfigError[]): string {
  if (errors.length === 1 && errors[0] !== undefined) return errors[0].message;
  return `${errors.length} errors:\n${errors.map((e) => `  - ${e.message}`).join('\n')}`;
}
