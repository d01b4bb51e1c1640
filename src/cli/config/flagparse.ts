// A small pflag work-alike: flag definitions, command-line parsing and help rendering.
// Accepted forms (as pflag/cobra): `--flag=value`, `--flag value`, boolean `--flag` and
// `--flag=false`, shorthands `-v=4`, `-v 4`, `-v4`, `--` ending flags, and underscores as word
// separators (`--iptables_sync_period`, component-base's WordSepNormalizeFunc). Beyond pflag we
// also accept Go-flag style single-dash long flags (`-kubeconfig x`, `-v=4`).

import { parseDuration, DurationError } from './duration.ts';
import { badFlagValue, flagError } from './errors.ts';
import { parseIP, splitHostPort } from './net.ts';
import type { ConfigError, KubeProxyConfiguration } from './types.ts';

/** Thrown by a flag's value parser; the message is the reason (pflag's `%v`). */
export class FlagValueError extends Error {
  readonly code = 'EFLAGVALUE';
}

/** Non-configuration command-line state. */
export interface CommandLineExtras {
  help: boolean;
  /** 'true' or 'raw' when --version asks for the version. */
  version: string | undefined;
  configFile: string | undefined;
  writeConfigTo: string | undefined;
  cleanup: boolean;
  initOnly: boolean;
  master: string | undefined;
  healthzPort: number | undefined;
  metricsPort: number | undefined;
  controlPlaneRequested: boolean;
  controlPlaneListen: string;
  controlPlaneDataDir: string;
  controlPlaneServiceCIDR: string;
  manifestsDir: string | undefined;
}

/** What a flag's apply step may touch. */
export interface FlagContext {
  readonly config: KubeProxyConfiguration;
  readonly extras: CommandLineExtras;
  /** Configuration field path → the flag that set it (to attribute validation errors). */
  readonly setBy: Map<string, string>;
  readonly errors: ConfigError[];
}

/**
 * When a flag is applied: `pre` before the file is read (--config itself), `mode` first after
 * the file (--proxy-mode), `config` next, `post` last (deprecated port flags, which edit the
 * addresses the other flags set).
 */
export type FlagPhase = 'pre' | 'mode' | 'config' | 'post' | 'none';

export interface HelpDefaults {
  readonly config: KubeProxyConfiguration;
  readonly extras: CommandLineExtras;
}

export interface FlagSpec<T> {
  readonly name: string;
  readonly shorthand?: string;
  /** pflag's type name in help ("string", "duration", "ipport"); '' for booleans. */
  readonly type: string;
  readonly usage: string;
  /** Default as pflag prints it; '' / '0' / '0s' / 'false' / '[]' are not shown. */
  readonly defaultText?: (d: HelpDefaults) => string;
  /** Value used when the flag is given without one (booleans: "true"). */
  readonly noOptDefVal?: string;
  readonly deprecated?: string;
  readonly phase: FlagPhase;
  /** Parse one occurrence; `prev` is the value of earlier occurrences (slices append). */
  readonly parse: (raw: string, prev: T | undefined) => T;
  readonly apply: (ctx: FlagContext, value: T, flag: string) => void;
}

export interface Binding {
  readonly flag: Flag;
  set(raw: string): void;
  apply(ctx: FlagContext): void;
}

export interface Flag {
  readonly name: string;
  readonly shorthand: string | undefined;
  readonly type: string;
  readonly usage: string;
  readonly noOptDefVal: string | undefined;
  readonly deprecated: string | undefined;
  readonly phase: FlagPhase;
  defaultText(d: HelpDefaults): string;
  bind(): Binding;
}

export function defineFlag<T>(spec: FlagSpec<T>): Flag {
  const flag: Flag = {
    name: spec.name,
    shorthand: spec.shorthand,
    type: spec.type,
    usage: spec.usage,
    noOptDefVal: spec.noOptDefVal ?? (spec.type === '' ? 'true' : undefined),
    deprecated: spec.deprecated,
    phase: spec.phase,
    defaultText: (d) => spec.defaultText?.(d) ?? '',
    bind(): Binding {
      let value: T | undefined;
      return {
        flag,
        set(raw: string): void {
          value = spec.parse(raw, value);
        },
        apply(ctx: FlagContext): void {
          if (value !== undefined) spec.apply(ctx, value, `--${spec.name}`);
        },
      };
    },
  };
  return flag;
}

export interface ParsedCommandLine {
  /** Flags given on the command line, in first-seen order, one binding per flag. */
  readonly given: ReadonlyMap<string, Binding>;
  readonly errors: ConfigError[];
  readonly warnings: string[];
  readonly positionals: string[];
}

function normalize(name: string): string {
  return name.replaceAll('_', '-');
}

export function parseCommandLine(flags: readonly Flag[], argv: readonly string[]): ParsedCommandLine {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.flatMap((f) => (f.shorthand === undefined ? [] : [[f.shorthand, f] as const])));
  const given = new Map<string, Binding>();
  const errors: ConfigError[] = [];
  const warnings: string[] = [];
  const positionals: string[] = [];

  const set = (f: Flag, raw: string): void => {
    let b = given.get(f.name);
    if (b === undefined) {
      b = f.bind();
      given.set(f.name, b);
      if (f.deprecated !== undefined) warnings.push(`Flag --${f.name} has been deprecated, ${f.deprecated}`);
    }
    try {
      b.set(raw);
    } catch (e) {
      if (!(e instanceof FlagValueError)) throw e;
      errors.push(badFlagValue(`--${f.name}`, raw, e.message));
    }
  };

  let i = 0;
  const next = (): string | undefined => (i + 1 < argv.length ? argv[++i] : undefined);

  const long = (arg: string, body: string): void => {
    if (body === '' || body.startsWith('-') || body.startsWith('=')) {
      errors.push(flagError(arg, `bad flag syntax: ${arg}`, arg));
      return;
    }
    const eq = body.indexOf('=');
    const name = normalize(eq < 0 ? body : body.slice(0, eq));
    const f = byName.get(name);
    if (f === undefined) {
      errors.push(flagError(`--${name}`, `unknown flag: --${name}`, arg));
      return;
    }
    if (eq >= 0) {
      set(f, body.slice(eq + 1));
      return;
    }
    if (f.noOptDefVal !== undefined) {
      set(f, f.noOptDefVal);
      return;
    }
    const v = next();
    if (v === undefined) errors.push(flagError(`--${name}`, `flag needs an argument: ${arg}`));
    else set(f, v);
  };

  const short = (arg: string, body: string): void => {
    let rest = body;
    while (rest !== '') {
      const c = rest.slice(0, 1);
      const f = byShort.get(c);
      if (f === undefined) {
        errors.push(flagError(`-${c}`, `unknown shorthand flag: '${c}' in ${arg}`, arg));
        return;
      }
      rest = rest.slice(1);
      if (rest.startsWith('=')) {
      set(f, rest.slice(1));
      return;
    }
      if (f.noOptDefVal !== undefined) {
        set(f, f.noOptDefVal);
        continue;
      }
      if (rest !== '') {
      set(f, rest);
      return;
    }
      const v = next();
      if (v === undefined) errors.push(flagError(`--${f.name}`, `flag needs an argument: '${c}' in ${arg}`));
      else set(f, v);
      return;
    }
  };

  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
    } else if (arg.startsWith('--')) {
      long(arg, arg.slice(2));
    } else {
      const body = arg.slice(1);
      const eq = body.indexOf('=');
      const name = normalize(eq < 0 ? body : body.slice(0, eq));
      // Go-flag style single-dash long flag (`-kubeconfig x`), when the name is a long flag.
      if (name.length > 1 && byName.has(name)) long(arg, body);
      else short(arg, body);
    }
  }
  return { given, errors, warnings, positionals };
}

function isZeroDefault(text: string): boolean {
  return text === '' || text === '0' || text === '0s' || text === 'false' || text === '[]';
}

/** pflag's FlagUsages layout: aligned usage column, "(default …)" suffixes, sorted by name. */
export function renderFlagUsages(flags: readonly Flag[], d: HelpDefaults): string {
  const sorted = [...flags].sort((a, b) => a.name.localeCompare(b.name));
  const lines = sorted.map((f) => {
    let left = f.shorthand === undefined ? `      --${f.name}` : `  -${f.shorthand}, --${f.name}`;
    if (f.type !== '') left += ` ${f.type}`;
    if (f.noOptDefVal !== undefined && f.type !== '') left += `[=${f.noOptDefVal}]`;
    let usage = f.usage;
    const def = f.defaultText(d);
    if (!isZeroDefault(def)) usage += f.type === 'string' ? ` (default ${JSON.stringify(def)})` : ` (default ${def})`;
    if (f.deprecated !== undefined) usage += ` (DEPRECATED: ${f.deprecated})`;
    return { left, usage };
  });
  const width = Math.max(...lines.map((l) => l.left.length));
  return lines
    .map(({ left, usage }) => {
      const indented = usage.replaceAll('\n', `\n${' '.repeat(width + 3)}`);
      return `${left.padEnd(width)}   ${indented}`;
    })
    .join('\n');
}

// ---- value parsers (Go strconv / time semantics, pflag error texts) ----

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseBool(raw: string): boolean {
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  throw new FlagValueError(`strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`);
}

/** strconv.ParseInt(raw, 0, bits): decimal, 0x hex, 0o / leading-0 octal, 0b binary. */
export function parseInteger(raw: string, min: number, max: number, fn = 'ParseInt'): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO]?[0-7]+|[0-9]+)$/.exec(raw);
  if (m === null) throw new FlagValueError(`strconv.${fn}: parsing ${JSON.stringify(raw)}: invalid syntax`);
  const digits = m[2] ?? '';
  let n: number;
  if (/^0[xX]/.test(digits)) n = Number.parseInt(digits.slice(2), 16);
  else if (/^0[bB]/.test(digits)) n = Number.parseInt(digits.slice(2), 2);
  else if (/^0[oO]/.test(digits)) n = Number.parseInt(digits.slice(2), 8);
  else if (digits.length > 1 && digits.startsWith('0')) n = Number.parseInt(digits.slice(1), 8);
  else n = Number.parseInt(digits, 10);
  if (m[1] === '-') n = -n;
  if (n < min || n > max) throw new FlagValueError(`strconv.${fn}: parsing ${JSON.stringify(raw)}: value out of range`);
  return n;
}

export function parseFloat32(raw: string): number {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
    throw new FlagValueError(`strconv.ParseFloat: parsing ${JSON.stringify(raw)}: invalid syntax`);
  }
  const n = Number(raw);
  if (!Number.isFinite(n) || Math.abs(n) > 3.4028234663852886e38) {
    throw new FlagValueError(`strconv.ParseFloat: parsing ${JSON.stringify(raw)}: value out of range`);
  }
  return Math.fround(n);
}

/** pflag's stringSlice: CSV; an empty value is an empty list; repeats append. */
export function parseStringSlice(raw: string, prev: readonly string[] | undefined): string[] {
  const items = raw === '' ? [] : raw.split(',');
  return [...(prev ?? []), ...items];
}

/** component-base MapStringBool: "a=true,b=false"; repeats merge. */
export function parseMapStringBool(raw: string, prev: ReadonlyMap<string, boolean> | undefined): Map<string, boolean> {
  const out = new Map(prev);
  for (const part of raw.split(',')) {
    const s = part.trim();
    if (s === '') continue;
    const eq = s.indexOf('=');
    if (eq < 0) throw new FlagValueError(`missing bool value for ${s}`);
    const k = s.slice(0, eq).trim();
    const v = s.slice(eq + 1).trim();
    try {
      out.set(k, parseBool(v));
    } catch {
      throw new FlagValueError(`invalid value of ${k}=${v}, err: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
    }
  }
  return out;
}

// ---- helpers for flag tables ----

const I32 = [-(2 ** 31), 2 ** 31 - 1] as const;

export function duration(raw: string): number {
  try {
    return parseDuration(raw);
  } catch (e) {
    if (e instanceof DurationError) throw new FlagValueError(e.message);
    throw e;
  }
}

export const str = (raw: string): string => raw;
export const bool = (raw: string): boolean => parseBool(raw);
export const int32 = (raw: string): number => parseInteger(raw, I32[0], I32[1]);

/** utilflag.IPVar: an IP ("" leaves the value alone). */
export function ipValue(raw: string): string {
  if (raw !== '' && parseIP(raw) === undefined) throw new FlagValueError(`${JSON.stringify(raw)} is not a valid IP address`);
  return raw;
}

/** utilflag.IPPortVar: an IP or IP:port. "" disables the server (as the help text says). */
export function ipPortValue(raw: string): string {
  if (raw === '' || parseIP(raw) !== undefined) return raw;
  const hp = splitHostPort(raw);
  if ('error' in hp) throw new FlagValueError(`${JSON.stringify(raw)} is not in a valid format (ip or ip:port): ${hp.error}`);
  if (parseIP(hp.host) === undefined) throw new FlagValueError(`${JSON.stringify(hp.host)} is not a valid IP address`);
  if (!/^\d+$/.test(hp.port) || Number(hp.port) > 65535) throw new FlagValueError(`${JSON.stringify(hp.port)} is not a valid number`);
  return raw;
}

export function mark(ctx: FlagContext, path: string, flag: string): void {
  ctx.setBy.set(path, flag);
}

export type Cfg = KubeProxyConfiguration;

/** A flag that sets one configuration field. */
export function field<T>(
  name: string,
  type: string,
  parse: (raw: string, prev: T | undefined) => T,
  path: string | ((c: Cfg) => string),
  set: (c: Cfg, v: T, path: string) => void,
  usage: string,
  defaultText?: (c: Cfg) => string,
  extra: { shorthand?: string; phase?: FlagPhase } = {},
): Flag {
  return defineFlag<T>({
    name,
    type,
    usage,
    phase: extra.phase ?? 'config',
    ...(extra.shorthand === undefined ? {} : { shorthand: extra.shorthand }),
    ...(defaultText === undefined ? {} : { defaultText: (d) => defaultText(d.config) }),
    parse,
    apply: (ctx, v, flag) => {
      const p = typeof path === 'string' ? path : path(ctx.config);
      set(ctx.config, v, p);
      mark(ctx, p, flag);
    },
  });
}

