// Is traffic spread over the endpoints as a uniform random choice would spread it?
//
// Model: each of n new connections picks one of N endpoints uniformly and independently (nft
// `numgen random mod N`), so each endpoint's count X_i ~ Binomial(n, 1/N). The check fails
// when some endpoint gets too much (X_i ≥ U: more than its fair share by a margin) or too
// little (X_i ≤ L; with L ≥ 0 this includes "every endpoint gets traffic"). By the union bound
//
//   P(a correct balancer fails) ≤ N·P(X ≥ U) + N·P(X ≤ L) ≤ α/2 + α/2 = α,
//
// where U is the smallest integer with N·P(X ≥ U) ≤ α/2 and L the largest with
// N·P(X ≤ L) ≤ α/2. The tails are exact binomial sums (pmf in log space), not approximations.
// With α = 1e-6 a correct implementation fails at most one run in a million. Example: N = 4,
// n = 600: expected 150 per endpoint, U = 208, L = 97; an endpoint taking 35 % of the traffic
// (210) fails.

export const ONE_IN_A_MILLION = 1e-6;

const logFactorials: number[] = [0];

function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push((logFactorials[i - 1] ?? 0) + Math.log(i));
  return logFactorials[n] ?? 0;
}

/** ln P(X = k) for X ~ Binomial(n, p), 0 < p < 1. */
export function binomialLogPmf(n: number, p: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  if (p >= 1) return k === n ? 0 : -Infinity;
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

/** P(X ≥ k). */
export function binomialUpperTail(n: number, p: number, k: number): number {
  let sum = 0;
  for (let i = Math.max(0, k); i <= n; i++) sum += Math.exp(binomialLogPmf(n, p, i));
  return Math.min(1, sum);
}

/** P(X ≤ k). */
export function binomialLowerTail(n: number, p: number, k: number): number {
  let sum = 0;
  for (let i = 0; i <= Math.min(n, k); i++) sum += Math.exp(binomialLogPmf(n, p, i));
  return Math.min(1, sum);
}

/** Smallest U with N·P(X ≥ U) ≤ alpha/2 (n samples over N endpoints). */
export function upperThreshold(n: number, endpoints: number, alpha = ONE_IN_A_MILLION): number {
  const p = 1 / endpoints;
  let u = Math.ceil(n * p);
  while (u <= n && endpoints * binomialUpperTail(n, p, u) > alpha / 2) u++;
  return u;
}

/** Largest L with N·P(X ≤ L) ≤ alpha/2; -1 when even L = 0 is too likely (n too small). */
export function lowerThreshold(n: number, endpoints: number, alpha = ONE_IN_A_MILLION): number {
  const p = 1 / endpoints;
  let l = Math.floor(n * p);
  while (l >= 0 && endpoints * binomialLowerTail(n, p, l) > alpha / 2) l--;
  return l;
}

/** The fewest samples for which "every endpoint gets at least one" can be asserted at alpha. */
export function minSamples(endpoints: number, alpha = ONE_IN_A_MILLION): number {
  let n = endpoints;
  while (lowerThreshold(n, endpoints, alpha) < 0) n++;
  return n;
}

const thresholds = new Map<string, readonly [number, number]>();

export interface BalanceVerdict {
  readonly ok: boolean;
  readonly lower: number;
  readonly upper: number;
  readonly message: string;
}

/**
 * Checks counts per endpoint (anything not in `endpoints`, e.g. an error, fails) against the
 * thresholds above.
 */
export function checkBalance(counts: Readonly<Record<string, number>>, endpoints: readonly string[], alpha = ONE_IN_A_MILLION): BalanceVerdict {
  const n = Object.values(counts).reduce((a, b) => a + b, 0);
  const key = `${n}/${endpoints.length}/${alpha}`;
  let th = thresholds.get(key);
  if (th === undefined) thresholds.set(key, (th = [lowerThreshold(n, endpoints.length, alpha), upperThreshold(n, endpoints.length, alpha)]));
  const [lower, upper] = th;
  const problems: string[] = [];
  if (lower < 0) problems.push(`${n} samples are too few to check ${endpoints.length} endpoints at ${alpha} (need ${minSamples(endpoints.length, alpha)})`);
  for (const [k, c] of Object.entries(counts)) if (!endpoints.includes(k)) problems.push(`${c} × unexpected ${k}`);
  for (const e of endpoints) {
    const c = counts[e] ?? 0;
    if (c >= upper) problems.push(`${e} got ${c} ≥ ${upper}`);
    if (c <= lower) problems.push(`${e} got ${c} ≤ ${lower}`);
  }
  const summary = `${n} samples over ${endpoints.length} endpoints, allowed (${lower}, ${upper}) each: ${JSON.stringify(counts)}`;
  return { ok: problems.length === 0, lower, upper, message: problems.length === 0 ? summary : `${problems.join('; ')} — ${summary}` };
}
