/**
 * Fixed-horizon sample sizes: how many canary events a single test, read once at a sample size
 * fixed in advance, needs to reach the same decision at one-sided level alpha with power 80%.
 * The yardstick for a sequential judge's events to a decision (issue 15: at most 2x).
 *
 * Each rate rule of a stage compares the canary's rate p with a limit L at the arms' true rates:
 * L = min(max_rate, max_ratio x max(baseline rate, floor)). Normal approximations:
 *
 *   one-sample (the limit is absolute: max_rate, or the floor times the ratio):
 *     n = ( (z_alpha sqrt(L(1-L)) + z_power sqrt(p(1-p))) / (p - L) )^2
 *   two-proportion (the limit is max_ratio x the baseline's rate pb, estimated from the baseline
 *   arm, which has kappa = (100 - w) / w events per canary event at weight w):
 *     n = ( (z_alpha s0 + z_power s1) / (p - r pb) )^2,
 *     s^2(pc) = pc(1-pc) + r^2 pb(1-pb) / kappa, s0 = s(r pb), s1 = s(p)
 *
 * A healthy canary (p under every limit) is promoted once every required signal passes: the
 * largest n of the required signals' pass tests decides. A regressed canary is rolled back by the
 * first rule that shows it: the smallest n among the rules whose limit p exceeds (scored signals
 * and rate triggers). Rules that are not rate tests (backlog gauges, "sustained" counts of raw
 * events, quantiles, checks) have no fixed-horizon counterpart and are left out.
 */
import type { Stage, Thresholds } from '../config/policy.js'
import { MODELLED, type ArmRates } from './traffic.js'

export const POWER = 0.8

export interface HorizonRule {
  /** "signal job_failure_rate" or "trigger error_rate_ratio". */
  rule: string
  signal: string
  stream: 'decisions' | 'jobs'
  direction: 'pass' | 'fail'
  /** The canary's true rate and the limit it is tested against. */
  rate: number
  limit: number
  test: 'one-sample' | 'two-proportion'
  /** Canary events needed; Infinity when the rate sits on the limit. */
  n: number
}

export interface Horizon {
  /** The rule that decides the scenario (the largest pass test, or the smallest fail test), if any. */
  deciding?: HorizonRule
  decision: 'promote' | 'roll back'
  rules: HorizonRule[]
}

/**
 * The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
 */
export function normalQuantile (p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs p in (0, 1), got ${p}`)
  const a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
  const b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
  const c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
  const d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
  const tail = (q: number): number => (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)))
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)))
  const q = p - 0.5
  const r = q * q
  return (((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
}

/** One-sample: canary events to tell rate p from limit L. */
export function oneSampleN (p: number, limit: number, alpha: number, power = POWER): number {
  if (p === limit) return Infinity
  const za = normalQuantile(1 - alpha)
  const zb = normalQuantile(power)
  return ((za * Math.sqrt(limit * (1 - limit)) + zb * Math.sqrt(p * (1 - p))) / (p - limit)) ** 2
}

/** Two-proportion: canary events to tell canary rate p from ratio x baseline rate pb, with kappa baseline events per canary event. */
export function twoProportionN (p: number, pb: number, ratio: number, kappa: number, alpha: number, power = POWER): number {
  const limit = ratio * pb
  if (p === limit) return Infinity
  const za = normalQuantile(1 - alpha)
  const zb = normalQuantile(power)
  const s = (pc: number): number => Math.sqrt(pc * (1 - pc) + (ratio * ratio * pb * (1 - pb)) / kappa)
  return ((za * s(limit) + zb * s(p)) / (p - limit)) ** 2
}

function limitOf (t: Partial<Thresholds> & { floor: number }, pb: number): { limit: number, ratio?: number } | undefined {
  const candidates: Array<{ limit: number, ratio?: number }> = []
  if (t.maxRate !== undefined) candidates.push({ limit: t.maxRate })
  if (t.maxRatio !== undefined) {
    // Under the floor the ratio limit is an absolute one: the baseline's rate does not enter.
    candidates.push(pb >= t.floor ? { limit: t.maxRatio * pb, ratio: t.maxRatio } : { limit: t.maxRatio * t.floor })
  }
  if (candidates.length === 0) return undefined
  return candidates.reduce((best, c) => (c.limit < best.limit ? c : best))
}

/** The fixed-horizon sample sizes of a stage's rate rules at the given true rates and canary weight (percent). */
export function fixedHorizon (stage: Stage, canary: ArmRates, baseline: ArmRates, weight: number): Horizon {
  const kappa = weight > 0 && weight < 100 ? (100 - weight) / weight : Infinity
  const rules: HorizonRule[] = []
  const add = (rule: string, signal: string, t: Partial<Thresholds> & { floor: number }, triggerOnly: boolean): void => {
    const model = MODELLED[signal]
    if (model?.rate === undefined) return
    const p = canary[model.rate] as number
    const pb = baseline[model.rate] as number
    const l = limitOf(t, pb)
    if (l === undefined) return
    const direction = p > l.limit ? 'fail' : 'pass'
    if (triggerOnly && direction === 'pass') return // a trigger that does not fire is not a test to pass
    const twoSample = l.ratio !== undefined && Number.isFinite(kappa)
    const n = twoSample ? twoProportionN(p, pb, l.ratio as number, kappa, stage.alpha) : oneSampleN(p, l.limit, stage.alpha)
    rules.push({ rule, signal, stream: model.stream, direction, rate: p, limit: l.limit, test: twoSample ? 'two-proportion' : 'one-sample', n: Math.ceil(n) })
  }
  for (const s of stage.signals) if (s.kind === 'rate') add(`signal ${s.name}`, s.name, s.thresholds, false)
  for (const t of stage.triggers) if (t.kind === 'rate') add(`trigger ${t.name}`, t.signal, t, true)
  const fails = rules.filter((r) => r.direction === 'fail')
  if (fails.length > 0) {
    return { decision: 'roll back', rules, deciding: fails.reduce((a, b) => (b.n < a.n ? b : a)) }
  }
  const required = new Set(stage.signals.filter((s) => s.required).map((s) => `signal ${s.name}`))
  const passes = rules.filter((r) => r.direction === 'pass' && required.has(r.rule))
  const h: Horizon = { decision: 'promote', rules }
  if (passes.length > 0) h.deciding = passes.reduce((a, b) => (b.n > a.n ? b : a))
  return h
}
