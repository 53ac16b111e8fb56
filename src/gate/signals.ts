/**
 * Per-signal classification and hard triggers.
 *
 * A rate signal is judged by its confidence sequence, not its point estimate:
 *   fail     when the canary's lower bound is beyond the limit (evidence of a regression),
 *   pass     when the canary's upper bound is within it (evidence of health),
 *   marginal when the interval straddles it (not enough evidence either way yet).
 * Every arm's bound is computed at alpha/2, so a rule comparing canary and baseline is wrong
 * with probability at most alpha (Bonferroni over the two arms), at every look.
 *
 * Ratio rules compare against the baseline conservatively: a fail needs the canary's lower
 * bound above ratio x max(baseline upper bound, floor); a pass needs the canary's upper bound
 * under ratio x max(baseline lower bound, floor). The floor keeps a zero or missing baseline
 * from making the ratio undefined (Kayenta's meanRatio = NaN hole).
 */
import type { Stage, StageSignal, Thresholds, Trigger } from '../config/policy.js'
import { pct, rateText, ratio, seconds } from './format.js'
import { isBacklogArm, isCheckArm, isQuantileArm, isRateArm, type BacklogArm, type CheckArm, type QuantileArm, type RateBucket, type SignalObservation } from './observations.js'
import { rateBound, type RateBound } from './stats.js'

export type SignalStatus = 'pass' | 'marginal' | 'fail' | 'insufficient' | 'unavailable'

export interface ThresholdView extends Partial<Thresholds> {
  /** The thresholds as a person reads them, e.g. "<= 3.0%, <= 1.5x baseline (floor 1.0%)". */
  text: string
}

export type ArmEvidence = RateBound | BacklogArm | QuantileArm | CheckArm

export interface SignalResult {
  name: string
  kind: StageSignal['kind']
  source: StageSignal['source']
  status: SignalStatus
  required: boolean
  weight: number
  threshold: ThresholdView
  canary: ArmEvidence | null
  baseline: ArmEvidence | null
  /** One sentence with the numbers: why this status. */
  reason: string
  notes: string[]
}

export interface TriggerResult {
  name: string
  signal: string
  fired: boolean
  /** False when the trigger's signal could not be measured; such a trigger never lets a verdict pass. */
  evaluated: boolean
  evidence: string
}

/** What a source observed for one signal, with bounds computed once for every rule that reads it. */
export interface Measured {
  observation: SignalObservation | undefined
  canary?: RateBound
  baseline?: RateBound
}

export function measure (observation: SignalObservation | undefined, alpha: number): Measured {
  const m: Measured = { observation }
  if (observation?.unavailable !== undefined) return m
  if (isRateArm(observation?.canary)) m.canary = rateBound(observation.canary.n, observation.canary.k, alpha / 2)
  if (isRateArm(observation?.baseline)) m.baseline = rateBound(observation.baseline.n, observation.baseline.k, alpha / 2)
  return m
}

export function label (name: string): string {
  return name.replaceAll('_', ' ')
}

/** Why a signal has no usable observation, or undefined when it has one. */
function missing (name: string, m: Measured): string | undefined {
  const o = m.observation
  if (o === undefined) return `${label(name)} unavailable: the source recorded no observation for it`
  if (o.unavailable !== undefined) return `${label(name)} unavailable: ${o.unavailable.reason}`
  if (o.canary === undefined) return `${label(name)} unavailable: no canary measurement`
  return undefined
}

/** The baseline level used by ratio rules, with the floor applied and said. */
interface BaselineRef { high: number, low: number, note?: string }

function baselineRef (b: RateBound | undefined, floor: number): BaselineRef {
  if (b === undefined || b.n === 0) {
    return { high: floor, low: floor, note: `no baseline events: ratios are judged against the floor ${pct(floor)}` }
  }
  const ref: BaselineRef = { high: Math.max(b.upper, floor), low: Math.max(b.lower, floor) }
  if (b.lower < floor) ref.note = `baseline ${rateText(b)} is near or under the floor ${pct(floor)}: the floor stands in for it in ratios`
  return ref
}

export function thresholdText (t: Partial<Thresholds>): string {
  const parts: string[] = []
  if (t.maxRate !== undefined) parts.push(`<= ${pct(t.maxRate)}`)
  if (t.maxRatio !== undefined) parts.push(`<= ${ratio(t.maxRatio)} baseline${t.floor ? ` (floor ${pct(t.floor)})` : ''}`)
  if (t.maxPending !== undefined) parts.push(`<= ${t.maxPending} pending`)
  if (t.maxOldestAgeSeconds !== undefined) parts.push(`oldest <= ${seconds(t.maxOldestAgeSeconds)}`)
  if (t.maxSeconds !== undefined) parts.push(`<= ${t.maxSeconds}s`)
  return parts.join(', ')
}

export function classify (signal: StageSignal, m: Measured, stage: Stage): SignalResult {
  const t = signal.thresholds
  const result: SignalResult = {
    name: signal.name,
    kind: signal.kind,
    source: signal.source,
    status: 'unavailable',
    required: signal.required,
    weight: signal.weight,
    threshold: { ...t, text: thresholdText(t) },
    canary: null,
    baseline: null,
    reason: '',
    notes: [...(m.observation?.notes ?? [])],
  }
  const why = missing(signal.name, m)
  if (why !== undefined) {
    result.reason = why
    return result
  }
  const o = m.observation as SignalObservation
  switch (signal.kind) {
    case 'rate': return classifyRate(result, signal, m, stage.minDataPoints)
    case 'backlog': return classifyBacklog(result, signal, o)
    case 'quantile': return classifyQuantile(result, signal, o, stage.minDataPoints)
    case 'check': return classifyCheck(result, signal, o)
  }
}

/** "2 of 5 checks failed: refund-over-limit: expected deny, got allow (...); ..." */
function checkFailures (name: string, c: CheckArm): string {
  const failed = c.checks.filter((x) => !x.ok)
  return `${name}: ${c.failed} of ${c.total} checks failed: ${failed.map((x) => `${x.name}: expected ${x.expected}, got ${x.actual}${x.detail === undefined ? '' : ` (${x.detail})`}`).join('; ')}`
}

function classifyCheck (r: SignalResult, signal: StageSignal, o: SignalObservation): SignalResult {
  const name = label(signal.name)
  if (!isCheckArm(o.canary)) {
    r.reason = `${name} unavailable: the canary measurement is not a list of checks`
    return r
  }
  r.canary = o.canary
  if (o.canary.total === 0) {
    r.status = 'insufficient'
    r.reason = `${name}: no checks were run`
  } else if (o.canary.failed > 0) {
    r.status = 'fail'
    r.reason = checkFailures(name, o.canary)
  } else {
    r.status = 'pass'
    r.reason = `${name}: all ${o.canary.total} checks gave the expected outcome`
  }
  return r
}

function classifyRate (r: SignalResult, signal: StageSignal, m: Measured, minDataPoints: number): SignalResult {
  const c = m.canary
  const name = label(signal.name)
  if (c === undefined) {
    r.reason = `${name} unavailable: the canary measurement is not a rate (n, k)`
    return r
  }
  r.canary = c
  r.baseline = m.baseline ?? null
  if (c.n < minDataPoints) {
    r.status = 'insufficient'
    r.reason = `${name} has ${c.n} canary events; at least ${minDataPoints} are needed to judge it`
    return r
  }
  const t = signal.thresholds
  const ref = t.maxRatio === undefined ? undefined : baselineRef(m.baseline, t.floor)
  if (ref?.note !== undefined) r.notes.push(`${name}: ${ref.note}`)
  const failLimit = Math.min(t.maxRate ?? Infinity, ref === undefined ? Infinity : (t.maxRatio as number) * ref.high)
  const passLimit = Math.min(t.maxRate ?? Infinity, ref === undefined ? Infinity : (t.maxRatio as number) * ref.low)
  if (c.lower > failLimit) {
    r.status = 'fail'
    r.reason = `${name} ${rateText(c)} exceeds ${limitText(t, ref, failLimit, 'high')}`
  } else if (c.upper <= passLimit) {
    r.status = 'pass'
    r.reason = `${name} ${rateText(c)} is within ${limitText(t, ref, passLimit, 'low')}`
  } else {
    r.status = 'marginal'
    r.reason = `${name} ${rateText(c)} straddles ${limitText(t, ref, passLimit, 'low')}: not yet enough evidence either way`
  }
  return r
}

/** "3.0%" or "1.5x baseline 2.1% = 3.2%", naming whichever limit binds. */
function limitText (t: Thresholds, ref: BaselineRef | undefined, limit: number, side: 'high' | 'low'): string {
  if (t.maxRate !== undefined && limit === t.maxRate) return pct(limit)
  const base = side === 'high' ? (ref as BaselineRef).high : (ref as BaselineRef).low
  const which = side === 'high' ? 'upper bound' : 'lower bound'
  return `${ratio(t.maxRatio as number)} baseline (${which} ${pct(base)}) = ${pct(limit)}`
}

function classifyBacklog (r: SignalResult, signal: StageSignal, o: SignalObservation): SignalResult {
  const name = label(signal.name)
  if (!isBacklogArm(o.canary)) {
    r.reason = `${name} unavailable: the canary measurement is not a backlog (pending, oldestAgeSeconds)`
    return r
  }
  r.canary = o.canary
  r.baseline = isBacklogArm(o.baseline) ? o.baseline : null
  const breach = backlogBreach(o.canary, signal.thresholds)
  r.status = breach === undefined ? 'pass' : 'fail'
  r.reason = breach ?? `${name} ${o.canary.pending} pending (oldest ${seconds(o.canary.oldestAgeSeconds)}) is within ${thresholdText(signal.thresholds)}`
  return r
}

function backlogBreach (c: BacklogArm, t: Partial<Thresholds>): string | undefined {
  const parts: string[] = []
  if (t.maxPending !== undefined && c.pending > t.maxPending) parts.push(`${c.pending} approvals pending exceeds ${t.maxPending}`)
  if (t.maxOldestAgeSeconds !== undefined && c.oldestAgeSeconds > t.maxOldestAgeSeconds) {
    parts.push(`oldest pending approval ${seconds(c.oldestAgeSeconds)} exceeds ${seconds(t.maxOldestAgeSeconds)}`)
  }
  return parts.length === 0 ? undefined : `approval backlog: ${parts.join('; ')}`
}

function quantileLimit (t: Partial<Thresholds>, baseline: QuantileArm | undefined): number | undefined {
  const byRatio = t.maxRatio === undefined ? Infinity : baseline === undefined ? undefined : t.maxRatio * baseline.seconds
  if (byRatio === undefined) return undefined
  return Math.min(t.maxSeconds ?? Infinity, byRatio)
}

function classifyQuantile (r: SignalResult, signal: StageSignal, o: SignalObservation, minDataPoints: number): SignalResult {
  const name = label(signal.name)
  if (!isQuantileArm(o.canary)) {
    r.reason = `${name} unavailable: the canary measurement is not a quantile (seconds)`
    return r
  }
  const c = o.canary
  const b = isQuantileArm(o.baseline) ? o.baseline : undefined
  r.canary = c
  r.baseline = b ?? null
  if (c.n !== undefined && c.n < minDataPoints) {
    r.status = 'insufficient'
    r.reason = `${name} rests on ${c.n} canary requests; at least ${minDataPoints} are needed to judge it`
    return r
  }
  const limit = quantileLimit(signal.thresholds, b)
  if (limit === undefined) {
    r.status = 'insufficient'
    r.reason = `${name} is judged against the baseline, which has no value for this window`
    return r
  }
  r.status = c.seconds <= limit ? 'pass' : 'fail'
  r.reason = `${name} ${c.seconds.toFixed(3)}s ${r.status === 'pass' ? 'is within' : 'exceeds'} ${limit.toFixed(3)}s (point estimate; no confidence bound)`
  return r
}

export function evaluateTrigger (trigger: Trigger, m: Measured, subIntervalMinutes: number): TriggerResult {
  const base = { name: trigger.name, signal: trigger.signal }
  const why = missing(trigger.signal, m)
  if (why !== undefined) return { ...base, fired: false, evaluated: false, evidence: `not evaluated: ${why}` }
  const o = m.observation as SignalObservation
  if (trigger.sustainedIntervals !== undefined) {
    return { ...base, evaluated: true, ...sustained(trigger, o, subIntervalMinutes) }
  }
  switch (trigger.kind) {
    case 'rate': {
      const c = m.canary
      if (c === undefined || c.n === 0) return { ...base, fired: false, evaluated: true, evidence: `${label(trigger.signal)}: no canary events yet` }
      const ref = baselineRef(m.baseline, trigger.floor)
      const fired: string[] = []
      if (trigger.maxRate !== undefined && c.lower > trigger.maxRate) {
        fired.push(`${label(trigger.signal)} ${rateText(c)} exceeds ${pct(trigger.maxRate)}`)
      }
      if (trigger.maxRatio !== undefined && c.lower > trigger.maxRatio * ref.high) {
        const b = m.baseline === undefined || m.baseline.n === 0 ? `the floor ${pct(trigger.floor)}` : `baseline ${rateText(m.baseline)}${m.baseline.upper < trigger.floor ? ` (floor ${pct(trigger.floor)})` : ''}`
        fired.push(`${label(trigger.signal)} ${rateText(c)} exceeds ${ratio(trigger.maxRatio)} ${b} = ${pct(trigger.maxRatio * ref.high)}`)
      }
      if (fired.length > 0) return { ...base, fired: true, evaluated: true, evidence: fired.join('; ') }
      const limits = [
        trigger.maxRate === undefined ? undefined : pct(trigger.maxRate),
        trigger.maxRatio === undefined ? undefined : `${ratio(trigger.maxRatio)} baseline = ${pct(trigger.maxRatio * ref.high)}`,
      ].filter((x) => x !== undefined).join(' and ')
      return { ...base, fired: false, evaluated: true, evidence: `${label(trigger.signal)} lower bound ${pct(c.lower)} is within ${limits}` }
    }
    case 'backlog': {
      if (!isBacklogArm(o.canary)) return { ...base, fired: false, evaluated: false, evidence: 'not evaluated: the canary measurement is not a backlog' }
      const breach = backlogBreach(o.canary, trigger)
      return breach === undefined
        ? { ...base, fired: false, evaluated: true, evidence: `approval backlog ${o.canary.pending} pending (oldest ${seconds(o.canary.oldestAgeSeconds)}) is within ${thresholdText(trigger)}` }
        : { ...base, fired: true, evaluated: true, evidence: breach }
    }
    case 'quantile': {
      if (!isQuantileArm(o.canary)) return { ...base, fired: false, evaluated: false, evidence: 'not evaluated: the canary measurement is not a quantile' }
      const limit = quantileLimit(trigger, isQuantileArm(o.baseline) ? o.baseline : undefined)
      if (limit === undefined) return { ...base, fired: false, evaluated: false, evidence: 'not evaluated: no baseline value to compare with' }
      const fired = o.canary.seconds > limit
      return { ...base, fired, evaluated: true, evidence: `${label(trigger.signal)} ${o.canary.seconds.toFixed(3)}s ${fired ? 'exceeds' : 'is within'} ${limit.toFixed(3)}s` }
    }
    case 'check': {
      if (!isCheckArm(o.canary)) return { ...base, fired: false, evaluated: false, evidence: 'not evaluated: the canary measurement is not a list of checks' }
      if (o.canary.total === 0) return { ...base, fired: false, evaluated: false, evidence: `not evaluated: ${label(trigger.signal)} ran no checks` }
      return o.canary.failed > 0
        ? { ...base, fired: true, evaluated: true, evidence: checkFailures(label(trigger.signal), o.canary) }
        : { ...base, fired: false, evaluated: true, evidence: `${label(trigger.signal)}: all ${o.canary.total} checks gave the expected outcome` }
    }
  }
}

/** Overload in `sustainedIntervals` consecutive sub-intervals; a single blip is not sustained. */
function sustained (trigger: Trigger, o: SignalObservation, subIntervalMinutes: number): { fired: boolean, evidence: string } {
  const buckets: RateBucket[] = isRateArm(o.canary) ? o.canary.buckets ?? [] : []
  const need = trigger.sustainedIntervals as number
  if (buckets.length === 0) {
    return { fired: false, evidence: `${label(trigger.signal)}: no sub-interval counts for the canary (need ${need} consecutive ${subIntervalMinutes}-minute sub-intervals to judge)` }
  }
  let bestStart = 0
  let bestLength = 0
  let runStart = 0
  let runLength = 0
  buckets.forEach((b, i) => {
    if (b.k < trigger.minEventsPerInterval) { runLength = 0; return }
    if (runLength === 0) runStart = i
    runLength++
    if (runLength > bestLength) { bestStart = runStart; bestLength = runLength }
  })
  const best = buckets.slice(bestStart, bestStart + bestLength)
  const counts = best.map((b) => b.k).join(', ')
  const baselineBuckets = isRateArm(o.baseline) ? o.baseline.buckets ?? [] : []
  const starts = new Set(best.map((b) => b.start))
  const baselineHit = baselineBuckets.filter((b) => starts.has(b.start) && b.k >= trigger.minEventsPerInterval).length
  // Overload in the baseline too, for most of the run, points at the platform's capacity
  // rather than the canary; say so, but the canary still stops: more traffic would not help.
  const shared = baselineHit > 0 && 2 * baselineHit >= best.length
  const context = baselineBuckets.length === 0 ? '' : `; the baseline shows overload in ${baselineHit} of those sub-intervals${shared ? ' (a shared capacity problem, not only the canary)' : ''}`
  if (best.length >= need) {
    return { fired: true, evidence: `${label(trigger.signal)}: overload reason codes in ${best.length} consecutive ${subIntervalMinutes}-minute sub-intervals from ${best[0]?.start} (${counts} events); sustained means ${need}${context}` }
  }
  return { fired: false, evidence: `${label(trigger.signal)}: longest overloaded run is ${best.length} sub-interval${best.length === 1 ? '' : 's'} of ${buckets.length}; sustained means ${need}` }
}
