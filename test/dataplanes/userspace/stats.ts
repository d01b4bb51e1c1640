// Statistical bounds for the balancer distribution tests. Every bound is chosen so that a
// correct implementation fails with probability ≤ 1e-6 (the tests also use seeded PRNGs, so a
// run is reproducible; the bound states what is being claimed, independently of the seed).

/** erfc(x), x ≥ 0, Numerical Recipes' erfcc: fractional error < 1.2e-7 everywhere. */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
    + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/**
 * Survival function P(X > x) of the chi-square distribution with `df` degrees of freedom,
 * from the closed forms: even df: e^{-x/2} Σ_{k<df/2} (x/2)^k/k!; odd df: erfc(√(x/2)) +
 * e^{-x/2} Σ_{k=1}^{(df-1)/2} (x/2)^{k-1/2}/Γ(k+1/2).
 */
export function chiSquareSurvival(x: number, df: number): number {
  const h = x / 2;
  if (df % 2 === 0) {
    let term = 1;
    let sum = 1;
    for (let k = 1; k < df / 2; k++) {
      term *= h / k;
      sum += term;
    }
    return Math.exp(-h) * sum;
  }
  let sum = erfc(Math.sqrt(h));
  let term = Math.sqrt(h) / Math.sqrt(Math.PI) * 2; // (x/2)^{1/2} / Γ(3/2)
  for (let k = 1; k <= (df - 1) / 2; k++) {
    sum += Math.exp(-h) * term;
    term *= h / (k + 0.5);
  }
  return sum;
}

/** The x with P(χ²_df > x) = p, by bisection. */
export function chiSquareCritical(df: number, p: number): number {
  let lo = 0;
  let hi = 1000;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (chiSquareSurvival(mid, df) > p) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Pearson's statistic of observed counts against equal expected counts. */
export function chiSquareUniform(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

/**
 * The z with two-sided normal tail P(|Z| > z) = p, by bisection on erfc(z/√2) = p. For a
 * binomial count with n·p·(1−p) in the thousands the normal approximation is accurate at this
 * level; split p over k simultaneous counts (union bound) by passing p/k.
 */
export function normalCritical(p: number): number {
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (erfc(mid / Math.SQRT2) > p) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Largest allowed |count − n·p| for a Binomial(n, p) count at two-sided failure probability q. */
export function binomialSlack(n: number, p: number, q: number): number {
  return normalCritical(q) * Math.sqrt(n * p * (1 - p));
}

/** Failure probability every statistical assertion is held to. */
export const FAILURE_PROBABILITY = 1e-6;
