// Go `time.Duration` text: the form kube-proxy's configuration and flags use ("30s", "1m0s",
// "500ms", "1h2m3.5s"). Parsing follows time.ParseDuration (same grammar, same error texts);
// formatting follows Duration.String(). Internally durations are milliseconds (a number, which
// may be fractional below one millisecond: "500us" is 0.5).

const NS_PER_MS = 1_000_000n;
const MAX_NS = (1n << 63n) - 1n;

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // U+00B5 micro sign
  ['\u03bcs', 1_000n], // U+03BC Greek small letter mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

export class DurationError extends Error {
  readonly code = 'EDURATION';
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Parse a Go duration string to nanoseconds. Throws DurationError with Go's message. */
export function parseDurationNs(text: string): bigint {
  const quoted = JSON.stringify(text);
  const invalid = (): DurationError => new DurationError(`time: invalid duration ${quoted}`);
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();
    let i = 0;
    while (isDigit(s[i])) i++;
    const intPart = s.slice(0, i);
    s = s.slice(i);
    let fracPart = '';
    if (s.startsWith('.')) {
      s = s.slice(1);
      let j = 0;
      while (isDigit(s[j])) j++;
      fracPart = s.slice(0, j);
      s = s.slice(j);
    }
    if (intPart === '' && fracPart === '') throw invalid();
    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    if (u === 0) throw new DurationError(`time: missing unit in duration ${quoted}`);
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNITS.get(unitName);
    if (unit === undefined) {
      throw new DurationError(`time: unknown unit ${JSON.stringify(unitName)} in duration ${quoted}`);
    }
    const whole = intPart === '' ? 0n : BigInt(intPart);
    if (whole > (1n << 63n) / unit) throw invalid();
    let value = whole * unit;
    if (fracPart !== '') {
      // Go truncates the fractional contribution to whole nanoseconds.
      value += (BigInt(fracPart) * unit) / 10n ** BigInt(fracPart.length);
    }
    total += value;
    if (total > 1n << 63n) throw invalid();
  }
  if (neg) return -total;
  if (total > MAX_NS) throw invalid();
  return total;
}

/** Parse a Go duration string to milliseconds. Throws DurationError. */
export function parseDuration(text: string): number {
  const ns = parseDurationNs(text);
  const whole = ns / NS_PER_MS;
  const rest = ns % NS_PER_MS;
  return Number(whole) + Number(rest) / 1e6;
}

function trimFraction(intPart: bigint, frac: bigint, digits: number): string {
  if (frac === 0n) return intPart.toString();
  const f = frac.toString().padStart(digits, '0').replace(/0+$/, '');
  return `${intPart.toString()}.${f}`;
}

/** Format nanoseconds as Go's Duration.String() does. */
export function formatDurationNs(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  const u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u < 1_000n) out = `${u.toString()}ns`;
    else if (u < 1_000_000n) out = `${trimFraction(u / 1_000n, u % 1_000n, 3)}\u00b5s`;
    else out = `${trimFraction(u / 1_000_000n, u % 1_000_000n, 6)}ms`;
  } else {
    const secondsTotal = u / 1_000_000_000n;
    const fracNs = u % 1_000_000_000n;
    const hours = secondsTotal / 3600n;
    const minutes = (secondsTotal % 3600n) / 60n;
    const seconds = secondsTotal % 60n;
    out = `${trimFraction(seconds, fracNs, 9)}s`;
    if (hours > 0n || minutes > 0n) out = `${minutes.toString()}m${out}`;
    if (hours > 0n) out = `${hours.toString()}h${out}`;
  }
  return neg ? `-${out}` : out;
}

/** Milliseconds (possibly fractional) to nanoseconds, rounded to the nearest nanosecond. */
export function msToNs(ms: number): bigint {
  const whole = Math.trunc(ms);
  const frac = ms - whole;
  return BigInt(whole) * NS_PER_MS + BigInt(Math.round(frac * 1e6));
}

/** Format milliseconds as a Go duration string ("1m0s", "500ms", "1.5s"). */
export function formatDuration(ms: number): string {
  return formatDurationNs(msToNs(ms));
}
