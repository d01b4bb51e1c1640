// Small statistics for interleaved benchmark rounds.

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function ratio(a: number, b: number): number {
  return b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? Number.NaN : a / b;
}

/** Rotate `xs` by `k` (round k starts with a different path, so no path always goes first). */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length;
  if (n === 0) return [];
  const s = ((k % n) + n) % n;
  return [...xs.slice(s), ...xs.slice(0, s)];
}

export function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}
