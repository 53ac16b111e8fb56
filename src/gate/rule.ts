/**
 * A rate rule as the judge states it: its scale, estimate, anytime-valid bound, margin, the
 * evidence toward each boundary, whether it decided, and how far it is from deciding.
 * The decision pages (src/report/series.ts) draw these fields.
 */
import type { Stage, Thresholds } from '../config/policy.js'
import { HARM, healthyMixture, invert, lnEvidence, lnMixture, lnRatioEvidence, PASS_RATE, type Counts, type RateLimit } from './sequential.js'

export type RuleScale = 'rate' | 'ratio'

/** How far an undecided rule is from deciding, if the arms keep their current event and hit rates. */
export interface ToDecide {
  /** The boundary the projection reaches first: pass or harm. */
  side: 'pass' | 'harm'
  /** More canary events needed (the baseline grows in proportion). */
  events: number
  /** Minutes at the canary's event rate over the window; null when the window gives no rate. */
  minutes: number | null
}

export interface RateRule {
  /** ratio: canary rate / baseline rate (comparative rules with a baseline); rate: the canary's rate. */
  scale: RuleScale
  estimate: number
  /** Lower end: the largest value the harm test rejects (0 when it rejects none). */
  lower: number
  /** Upper end: the smallest value the pass test rejects (the search's end, 1000x or 100%, when none). */
  upper: number
  /** Passes on evidence under it; fails on evidence over it. */
  margin: number
  /** The level the rule fails over (its margin: a rule's harm boundary tests the same limit). */
  harm: number
  /** Progress of each boundary: ln E / ln(1/alpha), clamped to [0, 1]; 1 means decided. */
  evidence: { pass: number, harm: number }
  decided: 'pass' | 'harm' | null
  toDecide: ToDecide | null
}

/** A rule and the ln e-values behind it (for reasons; not part of the response). */
export interface JudgedRule {
  rule: RateRule
  ln: { pass: number, harm: number, cut: number }
}

/** The limit a rate signal's thresholds define. */
export function limitOf (t: Partial<Thresholds>): RateLimit {
  const l: RateLimit = { floor: t.floor ?? 0 }
  if (t.maxRate !== undefined) l.maxRate = t.maxRate
  if (t.maxRatio !== undefined) l.maxRatio = t.maxRatio
  return l
}

/** Decides a rule at cumulative counts. Both boundaries crossing (contradictory data) is harm. */
export function decide (c: Counts, limit: RateLimit, lnCut: number): { pass: number, harm: number, decided: 'pass' | 'harm' | null } {
  const pass = lnEvidence('pass', c, limit)
  const harm = lnEvidence('harm', c, limit)
  return { pass, harm, decided: harm >= lnCut ? 'harm' : pass >= lnCut ? 'pass' : null }
}

const MAX_PROJECTED = 1e8

/**
 * Events to a decision if the arms keep their current rates: expected counts grow linearly, and
 * the smallest growth at which either boundary crosses (and the canary has its minimum events) is
 * found by doubling, then bisection.
 */
export function projectDecision (c: Counts, limit: RateLimit, lnCut: number, minEvents: number, perMinute: number | undefined): ToDecide | null {
  if (c.nc === 0) {
    return { side: 'pass', events: minEvents, minutes: perMinute === undefined || perMinute <= 0 ? null : Math.ceil(minEvents / perMinute) }
  }
  const pc = c.kc / c.nc
  const pb = c.nb > 0 ? c.kb / c.nb : 0
  const share = c.nb / c.nc
  const at = (m: number): Counts => ({ nc: c.nc + m, kc: c.kc + pc * m, nb: c.nb + share * m, kb: c.kb + pb * share * m })
  const sideAt = (m: number): 'pass' | 'harm' | null => (c.nc + m < minEvents ? null : decide(at(m), limit, lnCut).decided)
  let hi = Math.max(1, minEvents - c.nc)
  while (sideAt(hi) === null) {
    hi *= 2
    if (hi > MAX_PROJECTED) return null
  }
  let lo = 0
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (sideAt(mid) === null) lo = mid
    else hi = mid
  }
  const side = sideAt(hi) as 'pass' | 'harm'
  return { side, events: hi, minutes: perMinute === undefined || perMinute <= 0 ? null : Math.ceil(hi / perMinute) }
}

/** The rule of a rate signal at cumulative counts: decision, bounds on its own scale, time to decide. */
export function rateRule (c: Counts, t: Partial<Thresholds>, stage: Pick<Stage, 'alpha' | 'minDataPoints'>, minutes: number | undefined): JudgedRule {
  const limit = limitOf(t)
  const lnCut = Math.log(1 / stage.alpha)
  const d = decide(c, limit, lnCut)
  const comparative = limit.maxRatio !== undefined && c.nb > 0 && c.nc > 0 // (callers state no rule without canary events)
  let scale: RuleScale
  let estimate: number
  let lower: number
  let upper: number
  let margin: number
  if (comparative) {
    scale = 'ratio'
    margin = limit.maxRatio as number
    // With no baseline hit the plain ratio is undefined; half a hit in each arm keeps it finite.
    estimate = c.kb > 0 ? (c.kc / c.nc) / (c.kb / c.nb) : ((c.kc + 0.5) / c.nc) / ((c.kb + 0.5) / c.nb)
    upper = invert((x) => lnRatioEvidence(c.nc, c.kc, c.nb, c.kb, x, healthyMixture(x)), lnCut, 1e-3, 1e3, 'upper')
    lower = invert((x) => lnRatioEvidence(c.nc, c.kc, c.nb, c.kb, x, HARM), lnCut, 1e-3, 1e3, 'lower')
    if (lower <= 1e-3) lower = 0
  } else {
    scale = 'rate'
    margin = Math.min(limit.maxRate ?? Infinity, limit.maxRatio === undefined ? Infinity : limit.maxRatio * limit.floor)
    estimate = c.nc === 0 ? 0 : c.kc / c.nc
    upper = invert((x) => lnMixture(c.nc, c.kc, x, PASS_RATE), lnCut, 1e-6, 0.999999, 'upper')
    lower = invert((x) => lnMixture(c.nc, c.kc, x, HARM), lnCut, 1e-6, 0.999999, 'lower')
    if (upper >= 0.999999) upper = 1
    if (lower <= 1e-6) lower = 0
  }
  const progress = (ln: number): number => Math.max(0, Math.min(1, ln / lnCut))
  const perMinute = minutes === undefined || minutes <= 0 ? undefined : c.nc / minutes
  const rule: RateRule = {
    scale,
    estimate,
    lower,
    upper,
    margin,
    harm: margin,
    evidence: { pass: progress(d.pass), harm: progress(d.harm) },
    decided: d.decided,
    toDecide: d.decided === null || c.nc < stage.minDataPoints ? projectDecision(c, limit, lnCut, stage.minDataPoints, perMinute) : null,
  }
  return { rule, ln: { pass: d.pass, harm: d.harm, cut: lnCut } }
}
