/**
 * Anytime-valid tests of a rate rule: e-values with two boundaries, pass and harm.
 *
 * A rate rule has a limit on the canary's rate p_c: an absolute one (max_rate m), a
 * comparative one (max_ratio M times the baseline's rate p_b, never under M x floor f), or both:
 *   limit = min(m, M x max(p_b, f)).
 * It passes on evidence against H0: p_c >= limit (the canary is at least as bad as the margin)
 * and fails on evidence against H0: p_c <= limit (the canary is no worse than the limit). Each
 * boundary is an e-process: a nonnegative supermartingale under its null, so by Ville's
 * inequality P(exists look: E >= 1/alpha) <= alpha whenever and however often Argo looks.
 *
 * Absolute part: one-sided binomial likelihood ratios of the canary's events against the
 * boundary value, mixed over a few alternatives (below the margin for pass, above the level for
 * harm). The Bernoulli likelihood ratio against the boundary is a supermartingale for every
 * rate on the null side too (a likelihood ratio family with monotone ratio), so testing the
 * boundary tests the whole one-sided null.
 *
 * Comparative part: the canary against the baseline, conditioned on the hits of both arms
 * (Lindon, Sanden and Shirikian, "Rapid regression detection in software deployments through
 * sequential testing", KDD 2022; Turner, Ly and Grunwald's safe tests for 2x2 tables do the
 * exact version). With nc and nb events in the arms and rate ratio rho = p_c / p_b, each hit
 * is the canary's with probability
 *   theta(rho) = rho nc / (rho nc + nb),
 * so the canary's share kc of the k = kc + kb hits is Binomial(k, theta(rho)) (exact for
 * Poisson counts; for Bernoulli events at the rates a gate watches, 0.1-10%, the difference is
 * under-dispersion, which only makes the test conservative: test/gate/sequential.test.ts checks
 * the crossing rate by simulation). The baseline's unknown rate drops out.
 *
 * Floors and the composite limits combine e-values without losing validity:
 *   - a null that is an intersection (both parts must hold) is rejected by the mean of their
 *     e-values (the mean of e-values is an e-value);
 *   - a null that is a union (either part may hold) is rejected by their minimum (under any
 *     point of the union one of them is an e-process, and the minimum is below it).
 * pass: H0 p_c >= min(m, M max(p_b, f)) is a union of {p_c >= m} and {p_c >= M p_b and p_c >= M f};
 * harm: H0 p_c <= min(m, M max(p_b, f)) is {p_c <= m} and {p_c <= M p_b or p_c <= M f}.
 */

/** Alternatives of a mixture, as multiples of the boundary value, and their weights (sum 1). */
export interface Mixture { points: readonly number[], weights: readonly number[] }

/**
 * Pass alternatives of a comparative margin M: healthy canaries. On the ratio part the healthy
 * canary has rho = 1; on the floor part (the canary against M x floor) it sits at the floor. The
 * points are rho = 0.8, 1 and 1.2 (never past half-way to M), as multiples of M, with most
 * weight on 1: a canary equal to its baseline keeps 60% of the best single alternative's
 * likelihood ratio (ln 0.6 = -0.5 of the ln 20 = 3.0 needed), and one a little better or worse
 * still gets most of it. Tuned with `agent-canary-gate simulate` (docs/judging.md): spreading
 * the weight evenly over 0.35-0.7 x M, as first tried, promoted 80% of healthy canary-1
 * rollouts instead of 85%.
 */
export function healthyMixture (M: number): Mixture {
  // Alternatives stay under the margin: half-way to it above 1, three quarters of it under 1
  // (a margin under 1 asks the canary to be better than its baseline).
  const cap = M > 1 ? (1 + M) / 2 : 0.75 * M
  return { points: [0.8, 1, 1.2].map((r) => Math.min(r, cap) / M), weights: [0.2, 0.6, 0.2] }
}
/**
 * Pass alternatives of the floor part (the canary against M x floor): a healthy canary sits at
 * the floor or far under it (no overload at all, say), so a quarter of the floor joins the
 * points of `healthyMixture`.
 */
export function floorMixture (M: number): Mixture {
  const cap = M > 1 ? (1 + M) / 2 : 0.75 * M
  return { points: [0.25, 0.8, 1, 1.2].map((r) => Math.min(r, cap) / M), weights: [0.3, 0.15, 0.4, 0.15] }
}
/**
 * Pass alternatives of an absolute margin m (max_rate, e.g. the 3% deny limit): a healthy canary
 * sits well under it (the shipped deny margin is 3x the 1% healthy deny rate); m x {0.2, 1/3,
 * 0.5} covers that range.
 */
export const PASS_RATE: Mixture = { points: [0.2, 1 / 3, 0.5], weights: [0.25, 0.5, 0.25] }
/**
 * Harm alternatives: the regressions a rollback must catch, 1.5x to 3x the level (a job failure
 * rate 4x the baseline is 2x the 2x level; a 5% deny rate is 1.67x the 3% level; canary-only
 * overload at 5x is 3.3x the 1.5x level). Weight leans to the nearer points, which need the most
 * help; far ones cross soon anyway.
 */
export const HARM: Mixture = { points: [1.5, 2, 3], weights: [0.4, 0.4, 0.2] }

const LN2 = Math.log(2)

function logSumExp (xs: number[]): number {
  const m = Math.max(...xs)
  if (m === -Infinity) return -Infinity
  if (m === Infinity) return Infinity
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0))
}

/** ln of the mean of two e-values given by their logs. */
export function lnMean (a: number, b: number): number {
  return logSumExp([a, b]) - LN2
}

/**
 * ln of a mixture of Bernoulli likelihood ratios: k hits in n trials, boundary p0, alternatives
 * p0 x point (kept inside (0, 1)). k and n may be fractional (projections of expected counts).
 */
export function lnMixture (n: number, k: number, p0: number, mix: Mixture): number {
  if (n === 0) return 0
  if (p0 <= 0) return k > 0 ? Infinity : 0
  if (p0 >= 1) return n - k > 0 ? Infinity : 0
  const terms = mix.points.map((c, i) => {
    const p1 = Math.min(1 - 1e-9, Math.max(1e-12, p0 * c))
    const hits = k === 0 ? 0 : k * Math.log(p1 / p0)
    const misses = n - k === 0 ? 0 : (n - k) * (Math.log1p(-p1) - Math.log1p(-p0))
    return Math.log(mix.weights[i] as number) + hits + misses
  })
  return logSumExp(terms)
}

/** theta(rho): the chance a hit is the canary's when its rate is rho times the baseline's. */
export function canaryShare (rho: number, nc: number, nb: number): number {
  return (rho * nc) / (rho * nc + nb)
}

/** ln e-value of the comparative test at ratio rho0 (the canary's share of all hits). */
export function lnRatioEvidence (nc: number, kc: number, nb: number, kb: number, rho0: number, mix: Mixture): number {
  if (nc === 0 || nb === 0) return 0
  const k = kc + kb
  if (k === 0) return 0
  const theta0 = canaryShare(rho0, nc, nb)
  // The alternatives are ratios rho0 x point, mapped to shares (not shares theta0 x point).
  const terms = mix.points.map((c, i) => {
    const theta1 = canaryShare(rho0 * c, nc, nb)
    const a = kc === 0 ? 0 : kc * Math.log(theta1 / theta0)
    const b = kb === 0 ? 0 : kb * (Math.log1p(-theta1) - Math.log1p(-theta0))
    return Math.log(mix.weights[i] as number) + a + b
  })
  return logSumExp(terms)
}

/** The counts a rate rule reads: the canary's, and the baseline's when there is one. */
export interface Counts { nc: number, kc: number, nb: number, kb: number }

/** A rate rule's limit: min(maxRate, maxRatio x max(baseline, floor)). */
export interface RateLimit { maxRate?: number, maxRatio?: number, floor: number }

export type Side = 'pass' | 'harm'

/**
 * ln e-value of one boundary of a rate rule at cumulative counts (see the header for how the
 * parts combine). `pass`: evidence the canary is under the limit; `harm`: over it.
 */
export function lnEvidence (side: Side, c: Counts, limit: RateLimit): number {
  const parts: number[] = []
  const absolute = (level: number, pass: Mixture): number => lnMixture(c.nc, c.kc, level, side === 'pass' ? pass : HARM)
  if (limit.maxRate !== undefined) parts.push(absolute(limit.maxRate, PASS_RATE))
  if (limit.maxRatio !== undefined) {
    const M = limit.maxRatio
    const hasBaseline = c.nb > 0
    const healthy = healthyMixture(M)
    const ratio = hasBaseline ? lnRatioEvidence(c.nc, c.kc, c.nb, c.kb, M, side === 'pass' ? healthy : HARM) : undefined
    const floor = limit.floor > 0 ? absolute(M * limit.floor, floorMixture(M)) : undefined
    let part: number
    if (ratio === undefined) part = floor ?? 0 // no baseline: the floor stands in (or nothing to test)
    else if (floor === undefined) part = ratio
    else part = side === 'pass' ? lnMean(ratio, floor) : Math.min(ratio, floor)
    parts.push(part)
  }
  if (parts.length === 0) return 0
  if (parts.length === 1) return parts[0] as number
  return side === 'pass' ? Math.min(...parts) : lnMean(parts[0] as number, parts[1] as number)
}

/**
 * The bound a boundary puts on the rule's own scale: the smallest margin the pass test would
 * clear (upper) or the largest level the harm test would clear (lower), found by bisection in
 * log scale. `test(x)` is the ln e-value at boundary value x; it grows with x for `upper` and
 * shrinks with x for `lower`. Returns `hi` (or `lo`) when no value in range clears.
 */
export function invert (test: (x: number) => number, cut: number, lo: number, hi: number, which: 'upper' | 'lower'): number {
  const clears = (x: number): boolean => test(x) >= cut
  if (which === 'upper') {
    if (!clears(hi)) return hi
    if (clears(lo)) return lo
  } else {
    if (!clears(lo)) return lo
    if (clears(hi)) return hi
  }
  let a = Math.log(lo)
  let b = Math.log(hi)
  for (let i = 0; i < 60; i++) {
    const mid = (a + b) / 2
    const ok = clears(Math.exp(mid))
    if (which === 'upper') { if (ok) b = mid; else a = mid } else if (ok) a = mid; else b = mid
  }
  return Math.exp(which === 'upper' ? b : a)
}

/**
 * Fixed-horizon sample size of a one-sided one-sample test of a rate (normal approximation):
 * events needed to tell p1 from p0 at level alpha with the given power. Used to justify margins
 * and to compare the sequential test's cost with the classical one.
 */
export function fixedHorizonEvents (p0: number, p1: number, alpha: number, power: number): number {
  const za = normalQuantile(1 - alpha)
  const zb = normalQuantile(power)
  const num = za * Math.sqrt(p0 * (1 - p0)) + zb * Math.sqrt(p1 * (1 - p1))
  return Math.ceil((num * num) / ((p1 - p0) * (p1 - p0)))
}

/** Acklam's rational approximation of the standard normal quantile (absolute error under 2e-5, without his refinement step: ample for sample sizes). */
export function normalQuantile (p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`)
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239]
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1]
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549671010312303, 4.374664141464968, 2.938163982698783]
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416]
  const lowTail = 0.02425
  const poly = (co: number[], x: number): number => co.reduce((s, v) => s * x + v, 0)
  if (p < lowTail) {
    const q = Math.sqrt(-2 * Math.log(p))
    return poly(c, q) / (poly(d, q) * q + 1)
  }
  if (p > 1 - lowTail) return -normalQuantile(1 - p)
  const q = p - 0.5
  const r = q * q
  return (poly(a, r) * q) / (poly(b, r) * r + 1)
}
