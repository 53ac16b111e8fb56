/**
 * Per-signal classification and hard triggers.
 *
 * A rate signal is a rule with a margin (src/gate/rule.ts, src/gate/sequential.ts): it
 *   passes    on evidence that the canary is under its margin (pass e-value >= 1/alpha),
 *   fails     on evidence that it is over it (harm e-value >= 1/alpha),
 *   marginal  while neither boundary is crossed, with the events and minutes still needed.
 * Comparative rules (max_ratio) test the canary against the baseline directly, conditioned on
 * both arms' hits; absolute rules (max_rate) test the canary's rate alone. A rate trigger fires
 * on the same harm test at its own level. Every boundary is anytime-valid at alpha.
 */
import type { Stage, StageSignal, Thresholds, Trigger } from '../config/policy.js'
import { pct, ratio, seconds } from './format.js'
import { isBacklogArm, isCheckArm, isQuantileArm, isRateArm, type BacklogArm, type CheckArm, type QuantileArm, type SignalObservation } from './observations.js'
import { limitOf, rateRule, type RateRule, type RuleScale, type ToDecide } from './rule.js'
import { lnEvidence, type Counts } from './sequential.js'
import { rateBound, type RateBound } from './stats.js'

export type SignalStatus = 'pass' | 'marginal' | 'fail' | 'insufficient' | 'unavailable'

export interface ThresholdView extends Partial<Thresholds> {
  /** The thresholds (the margin) as a person reads them, e.g. "<= 2x baseline (floor 2.0%)". */
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
  /** Rate signals: the rule (margin, bound, evidence, time to decide). */
  rule?: RateRule
}

export interface TriggerResult {
  name: string
  signal: string
  fired: boolean
  /** False when the trigger's signal could not be measured; such a trigger never lets a verdict pass. */
  evaluated: boolean
  evidence: string
  /** Rate triggers: the level it fires over, on its scale (ratio to baseline, or rate). */
  level?: number
  scale?: RuleScale
}

/** What a source observed for one signal, with bounds computed once for every rule that reads it. */
export interface Measured {
  observation: SignalObservation | undefined
  canary?: RateBound
  baseline?: RateBound
  /** Length of the observation window in minutes, for times to decide. */
  minutes?: number
}

export function measure (observation: SignalObservation | undefined, alpha: number, minutes?: number): Measured {
  const m: Measured = { observation }
  if (minutes !== undefined) m.minutes = minutes
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
    case 'rate': return classifyRate(result, signal, m, stage)
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

function classifyRate (r: SignalResult, signal: StageSignal, m: Measured, stage: Stage): SignalResult {
  const c = m.canary
  const name = label(signal.name)
  if (c === undefined) {
    r.reason = `${name} unavailable: the canary measurement is not a rate (n, k)`
    return r
  }
  r.canary = c
  r.baseline = m.baseline ?? null
  const t = signal.thresholds
  if (t.maxRatio !== undefined && (m.baseline === undefined || m.baseline.n === 0)) {
    r.notes.push(`${name}: no baseline events: ratios are judged against the floor ${pct(t.floor)}`)
  }
  if (c.n === 0) {
    // No canary event, no rule to state (nothing to estimate); only the minimum is known.
    r.status = 'insufficient'
    r.reason = `${name} has 0 canary events; at least ${stage.minDataPoints} are needed to judge it`
    return r
  }
  const { rule, ln } = rateRule(countsOf(m), t, stage, m.minutes)
  r.rule = rule
  if (c.n < stage.minDataPoints) {
    r.status = 'insufficient'
    r.reason = `${name} has ${c.n} canary events; at least ${stage.minDataPoints} are needed to judge it`
    return r
  }
  const floor = rule.scale === 'ratio' && t.floor > 0 ? ` max(baseline, floor ${pct(t.floor)})` : ''
  const against = `${ruleText(rule)}; the margin is ${value(rule.scale, rule.margin)}${floor}`
  const counts = `${pct(c.rate)} (${c.k}/${c.n})${baselineText(m)}`
  if (rule.decided === 'harm') {
    r.status = 'fail'
    r.reason = `${name} ${counts} exceeds its margin: ${against} (harm evidence ${eValue(ln.harm)} >= ${cutText(ln.cut)})`
  } else if (rule.decided === 'pass') {
    r.status = 'pass'
    r.reason = `${name} ${counts} is within its margin: ${against} (pass evidence ${eValue(ln.pass)} >= ${cutText(ln.cut)})`
  } else {
    r.status = 'marginal'
    r.reason = `${name} ${counts} is not decided yet: ${against} (evidence toward pass ${eValue(ln.pass)}, toward harm ${eValue(ln.harm)}, either needs ${cutText(ln.cut)}); ${toDecideText(rule.toDecide)}`
  }
  return r
}

function baselineText (m: Measured): string {
  return m.baseline === undefined || m.baseline.n === 0 ? '' : ` vs baseline ${pct(m.baseline.rate)} (${m.baseline.k}/${m.baseline.n})`
}

function value (scale: RuleScale, x: number): string {
  return scale === 'ratio' ? ratio(x) : pct(x)
}

/** "1.02x baseline (bound 0.61x-1.71x)" or "2.0% (bound 1.1%-3.0%)". */
function ruleText (rule: RateRule): string {
  // The bound search ends at 1000x: past it the pass test rejects no ratio at all.
  const unbounded = rule.scale === 'ratio' && rule.upper >= 1000
  const bound = `bound ${value(rule.scale, rule.lower)}-${unbounded ? 'unbounded' : value(rule.scale, rule.upper)}`
  return rule.scale === 'ratio' ? `ratio to baseline ${ratio(rule.estimate)} (${bound})` : `rate ${pct(rule.estimate)} (${bound})`
}

/** An e-value as a person reads it: "0.38", "13.6", "8768", ">1e6". */
function eValue (ln: number): string {
  const e = Math.exp(ln)
  if (e >= 1e6) return '>1e6'
  return e >= 100 ? String(Math.round(e)) : e >= 10 ? e.toFixed(1) : e.toFixed(2)
}

function cutText (lnCut: number): string {
  return String(Number(Math.exp(lnCut).toPrecision(6)))
}

export function toDecideText (d: ToDecide | null): string {
  // Only a canary whose rate sits on its margin (say 2/50 against 4%) never decides by projection.
  if (d === null) return 'its rate sits on its margin: at the current rates no decision comes within a hundred million more events'
  const minutes = d.minutes === null ? '' : `, about ${d.minutes} min at the canary's event rate so far`
  return `about ${d.events} more canary events to decide (${d.side})${minutes}`
}

/** The cumulative counts a rate rule reads. */
function countsOf (m: Measured): Counts {
  return { nc: m.canary?.n ?? 0, kc: m.canary?.k ?? 0, nb: m.baseline?.n ?? 0, kb: m.baseline?.k ?? 0 }
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

export function evaluateTrigger (trigger: Trigger, m: Measured, alpha: number): TriggerResult {
  const base = { name: trigger.name, signal: trigger.signal }
  const why = missing(trigger.signal, m)
  if (why !== undefined) return { ...base, fired: false, evaluated: false, evidence: `not evaluated: ${why}` }
  const o = m.observation as SignalObservation
  switch (trigger.kind) {
    case 'rate': {
      const c = m.canary
      if (c === undefined || c.n === 0) return { ...base, fired: false, evaluated: true, evidence: `${label(trigger.signal)}: no canary events yet` }
      return { ...base, evaluated: true, ...rateTrigger(trigger, m, alpha) }
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

/**
 * A rate trigger fires on the harm test of its own limit (Cordum's guide's 3% deny rate, 2x the
 * baseline's job failures): e-value against "the canary is within the level" >= 1/alpha.
 */
function rateTrigger (trigger: Trigger, m: Measured, alpha: number): { fired: boolean, evidence: string, level: number, scale: RuleScale } {
  const c = m.canary as RateBound
  const counts: Counts = { nc: c.n, kc: c.k, nb: m.baseline?.n ?? 0, kb: m.baseline?.k ?? 0 }
  const limit = limitOf(trigger)
  const lnCut = Math.log(1 / alpha)
  const ln = lnEvidence('harm', counts, limit)
  const comparative = limit.maxRatio !== undefined && counts.nb > 0
  const level = comparative ? limit.maxRatio as number : Math.min(limit.maxRate ?? Infinity, limit.maxRatio === undefined ? Infinity : limit.maxRatio * limit.floor)
  const scale: RuleScale = comparative ? 'ratio' : 'rate'
  const parts: string[] = []
  if (limit.maxRate !== undefined) parts.push(pct(limit.maxRate))
  if (limit.maxRatio !== undefined) {
    const b = m.baseline as RateBound
    parts.push(counts.nb > 0
      ? `${ratio(limit.maxRatio)} ${limit.floor > 0 ? `max(baseline ${pct(b.rate)} (${b.k}/${b.n}), floor ${pct(limit.floor)})` : `baseline ${pct(b.rate)} (${b.k}/${b.n})`}`
      : `${ratio(limit.maxRatio)} the floor ${pct(limit.floor)} = ${pct(limit.maxRatio * limit.floor)} (no baseline events)`)
  }
  const levelText = parts.join(' and ')
  const fired = ln >= lnCut
  const evidence = fired
    ? `${label(trigger.signal)} ${pct(c.rate)} (${c.k}/${c.n}) exceeds ${levelText} (harm evidence ${eValue(ln)} >= ${cutText(lnCut)})`
    : `${label(trigger.signal)} ${pct(c.rate)} (${c.k}/${c.n}): no evidence over ${levelText} yet (harm evidence ${eValue(ln)}, fires at ${cutText(lnCut)})`
  return { fired, evidence, level, scale }
}
