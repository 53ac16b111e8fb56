/**
 * Anytime-valid confidence bounds for a proportion.
 *
 * Argo measures a canary every interval and the window grows, so the gate looks at the same
 * accumulating data again and again. A fixed-sample interval (Wilson, Clopper-Pearson) read
 * at every look inflates the false-alarm rate well above alpha. A confidence *sequence* is
 * valid simultaneously for every sample size: P(exists n: p not in C_n) <= alpha.
 *
 * We use the beta-binomial mixture martingale (Robbins 1970; Howard, Ramdas, McAuliffe,
 * Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.
 * 49(2), 2021, section 3, "beta-binomial mixture"). For k hits in n Bernoulli(p) events and a
 * Beta(a, b) mixing distribution,
 *
 *   M_n(p) = B(a + k, b + n - k) / B(a, b)  /  ( p^k (1 - p)^(n - k) )
 *
 * is a nonnegative martingale with M_0 = 1 under H0: rate = p, so by Ville's inequality
 * P(exists n: M_n(p) >= 1/alpha) <= alpha. The confidence sequence is
 *
 *   C_n = { p : k ln p + (n - k) ln(1 - p) > ln B(a + k, b + n - k) - ln B(a, b) + ln alpha }.
 *
 * The left side is concave in p with its maximum at k/n, so C_n is an interval containing
 * k/n; we find its ends by bisection. The mixing distribution is Jeffreys' Beta(1/2, 1/2):
 * symmetric, no tuning, and good at the small rates (1-10%) a canary gate cares about.
 */

export const MIXTURE_A = 0.5
export const MIXTURE_B = 0.5

export interface RateBound {
  /** Events (decisions, jobs, attempts). */
  n: number
  /** Hits among them (denies, failures, overload-coded attempts). */
  k: number
  /** k / n, or 0 when n = 0. */
  rate: number
  /** Lower end of the (1 - alpha) confidence sequence at this n. */
  lower: number
  /** Upper end of the (1 - alpha) confidence sequence at this n. */
  upper: number
}

// Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 relative for x > 0.5
// (Numerical Recipes 3rd ed., section 6.1; coefficients as published by Godfrey).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
]

/** ln Gamma(x) for x > 0. */
export function lnGamma (x: number): number {
  if (x < 0.5) {
    // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x)
  }
  const z = x - 1
  let sum = LANCZOS[0] as number
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (z + i)
  const t = z + 7.5
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum)
}

/** ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b). */
export function lnBeta (a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b)
}

/** k ln p + (n - k) ln(1 - p), with 0 ln 0 = 0. */
function logLikelihood (p: number, n: number, k: number): number {
  const hits = k === 0 ? 0 : k * Math.log(p)
  const misses = n - k === 0 ? 0 : (n - k) * Math.log1p(-p)
  return hits + misses
}

function assertCounts (n: number, k: number, alpha: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`events n must be a whole number >= 0, got ${n}`)
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`hits k must be a whole number in 0..n (n=${n}), got ${k}`)
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`)
}

/**
 * The (1 - alpha) beta-binomial confidence sequence for a proportion at (n, k).
 * With n = 0 it is [0, 1]: no data, no knowledge.
 */
export function rateBound (n: number, k: number, alpha: number): RateBound {
  assertCounts(n, k, alpha)
  if (n === 0) return { n, k, rate: 0, lower: 0, upper: 1 }
  const rate = k / n
  const cut = lnBeta(MIXTURE_A + k, MIXTURE_B + n - k) - lnBeta(MIXTURE_A, MIXTURE_B) + Math.log(alpha)
  const inside = (p: number): boolean => logLikelihood(p, n, k) > cut
  const lower = k === 0 ? 0 : bisect(0, rate, inside, false)
  const upper = k === n ? 1 : bisect(rate, 1, inside, true)
  return { n, k, rate, lower, upper }
}

/**
 * Finds the boundary of a set that is an interval containing `from` (when searching up) or
 * `to` (when searching down). Returns the point on the inside edge to 1e-13.
 */
function bisect (lo: number, hi: number, inside: (p: number) => boolean, upward: boolean): number {
  // Invariant: `in` is inside the set, `out` is outside (or an open end, 0 or 1).
  let inP = upward ? lo : hi
  let outP = upward ? hi : lo
  for (let i = 0; i < 200 && Math.abs(outP - inP) > 1e-13; i++) {
    const mid = (inP + outP) / 2
    if (inside(mid)) inP = mid
    else outP = mid
  }
  return inP
}

/**
 * The mixture martingale's value ln M_n(p): how much evidence (n, k) holds against rate p.
 * Exposed for tests and for explanations; ln M_n(p) >= ln(1/alpha) means p is excluded.
 */
export function lnEvidenceAgainst (p: number, n: number, k: number): number {
  assertCounts(n, k, 0.5)
  return lnBeta(MIXTURE_A + k, MIXTURE_B + n - k) - lnBeta(MIXTURE_A, MIXTURE_B) - logLikelihood(p, n, k)
}
