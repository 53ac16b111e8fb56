/**
 * What the report draws, read from decision records: per signal, canary and baseline over the
 * looks of an analysis, and the levels the rule decided against.
 *
 * The levels come from the judge's own per-signal `rule` (estimate, bound, margin, harm, time to
 * decide; contract 1 of the design notes) and each trigger's `level` where the record has them.
 * Records written before the judge gave those fields carry the arm bounds and the thresholds
 * instead, and the levels are worked out from them as the judge of that time applied them
 * (src/gate/signals.ts): a rate rule fails when the canary's lower bound is over
 *   harm   = min(maxRate, maxRatio x max(baseline upper bound, floor))
 * and passes when its upper bound is under
 *   margin = min(maxRate, maxRatio x max(baseline lower bound, floor)).
 * A trigger's level needs its rule, which the record does not hold: it is read from the loaded
 * gates policy only when the record names that very policy (same sha256).
 */
import type { Stage, Trigger } from '../config/policy.js'
import type { DecisionRecord } from '../evidence/record.js'
import { isBacklogArm, isCheckArm, isQuantileArm, type BacklogArm, type CheckArm, type QuantileArm } from '../gate/observations.js'
import type { SignalResult, TriggerResult } from '../gate/signals.js'
import { rateBound, type RateBound } from '../gate/stats.js'
import type { Chart, ChartLevel, ChartMarker, ChartPoint, ChartSeries, Unit } from './chart.js'

/** A signal's rule as the judge states it (contract 1); absent from older records. */
export interface RuleView {
  scale: 'rate' | 'ratio'
  estimate: number
  lower: number
  upper: number
  margin: number
  harm: number
  evidence?: { pass: number, harm: number }
  decided?: 'pass' | 'harm' | null
  toDecide?: ToDecide | null
}

/** How far an undecided rule is from deciding, at the arms' current event rates. */
export interface ToDecide {
  side: string
  events: number
  minutes: number
}

type SignalView = SignalResult & { rule?: RuleView }
type TriggerView = TriggerResult & { level?: number }

export function ruleOf (s: SignalResult): RuleView | undefined {
  return (s as SignalView).rule ?? undefined
}

function isRate (arm: unknown): arm is RateBound {
  return typeof arm === 'object' && arm !== null && 'rate' in arm && 'lower' in arm && 'upper' in arm
}

/** The margin (pass under) and harm (fail over) levels of a rate signal on the rate scale, or undefined. */
export function rateLevels (s: SignalResult): { margin: number, harm: number } | undefined {
  const rule = ruleOf(s)
  if (rule !== undefined) return rule.scale === 'rate' ? { margin: rule.margin, harm: rule.harm } : undefined
  const t = s.threshold
  if (t.maxRate === undefined && t.maxRatio === undefined) return undefined
  const floor = t.floor ?? 0
  const b = isRate(s.baseline) && s.baseline.n > 0 ? s.baseline : undefined
  const high = b === undefined ? floor : Math.max(b.upper, floor)
  const low = b === undefined ? floor : Math.max(b.lower, floor)
  const byRatio = (ref: number): number => (t.maxRatio === undefined ? Infinity : t.maxRatio * ref)
  return { margin: Math.min(t.maxRate ?? Infinity, byRatio(low)), harm: Math.min(t.maxRate ?? Infinity, byRatio(high)) }
}

/** The trigger's spec in the loaded policy, when the record was judged under that very policy. */
export type TriggerSpecs = (record: DecisionRecord) => Trigger[] | undefined

export function triggerSpecs (policy: { hash: string, stages: Record<string, Stage> }): TriggerSpecs {
  return (record) => (record.policy.sha256 === policy.hash ? policy.stages[record.stage]?.triggers : undefined)
}

/** A rate trigger's level on the rate scale at this look (it moves with the baseline when it has a ratio). */
export function rateTriggerLevel (t: TriggerResult, spec: Trigger | undefined, s: SignalResult | undefined): number | undefined {
  const stated = (t as TriggerView).level
  if (stated !== undefined) return s !== undefined && ruleOf(s)?.scale === 'ratio' ? undefined : stated
  if (spec === undefined || (spec.maxRate === undefined && spec.maxRatio === undefined)) return undefined
  const b = isRate(s?.baseline) && s.baseline.n > 0 ? s.baseline : undefined
  const high = b === undefined ? spec.floor : Math.max(b.upper, spec.floor)
  return Math.min(spec.maxRate ?? Infinity, spec.maxRatio === undefined ? Infinity : spec.maxRatio * high)
}

/** A look is placed at the end of its window: for Argo's looks, when it asked. */
export function lookTime (r: DecisionRecord): number {
  return Date.parse(r.request.until)
}

function signalAt (r: DecisionRecord, name: string): SignalResult | undefined {
  return r.judgement.signals.find((s) => s.name === name)
}

function triggersOf (r: DecisionRecord, signal: string): TriggerResult[] {
  return r.judgement.triggers.filter((t) => t.signal === signal)
}

/** Looks where each trigger of the signal first fired (an analysis can fire, pass a look, and fire again: each start counts). */
function firedMarkers (looks: DecisionRecord[], signal: string): ChartMarker[] {
  const markers: ChartMarker[] = []
  const names = new Set(looks.flatMap((r) => triggersOf(r, signal).map((t) => t.name)))
  for (const name of names) {
    let before = false
    looks.forEach((r, i) => {
      const fired = triggersOf(r, signal).some((t) => t.name === name && t.fired)
      if (fired && !before) markers.push({ id: `fired:${name}`, look: i, label: `${name} fired` })
      before = fired
    })
  }
  return markers
}

function levelRow (id: string, label: string, kind: ChartLevel['kind'], values: Array<number | null | undefined>): ChartLevel {
  return { id, label, kind, values: values.map((v) => (v === undefined || v === null || !Number.isFinite(v) ? null : v)) }
}

function base (title: string, unit: Unit, looks: DecisionRecord[], current: number): Omit<Chart, 'series' | 'levels' | 'markers'> {
  return { title, unit, times: looks.map(lookTime), current }
}

function armSeries (looks: DecisionRecord[], name: string, arm: 'canary' | 'baseline', value: (s: SignalResult, a: unknown) => ChartPoint | null): ChartSeries {
  return {
    id: arm,
    label: arm,
    look: arm,
    points: looks.map((r) => {
      const s = signalAt(r, name)
      return s === undefined || s[arm] === null ? null : value(s, s[arm])
    }),
  }
}

const ratePoint = (_s: SignalResult, a: unknown): ChartPoint | null => (isRate(a) && a.n > 0 ? { y: a.rate, lo: a.lower, hi: a.upper } : null)

/** The charts of one signal over the looks (two for an approval backlog and for a rule on the ratio scale). */
export function signalCharts (name: string, looks: DecisionRecord[], current: number, specs: TriggerSpecs): Chart[] {
  const now = signalAt(looks[current] as DecisionRecord, name) as SignalResult
  const specOf = (r: DecisionRecord, trigger: string): Trigger | undefined => specs(r)?.find((t) => t.name === trigger)
  const triggerNames = [...new Set(looks.flatMap((r) => triggersOf(r, name).map((t) => t.name)))]
  const markers = firedMarkers(looks, name)
  switch (now.kind) {
    case 'rate': {
      const canary = armSeries(looks, name, 'canary', (s, a) => {
        const rule = ruleOf(s)
        return rule?.scale === 'rate' ? { y: rule.estimate, lo: rule.lower, hi: rule.upper } : ratePoint(s, a)
      })
      const charts: Chart[] = [{
        ...base(`${name}: canary and baseline rate`, 'rate', looks, current),
        series: [canary, armSeries(looks, name, 'baseline', ratePoint)],
        levels: [
          levelRow('margin', 'margin: passes under', 'margin', looks.map((r) => { const s = signalAt(r, name); return s === undefined ? null : rateLevels(s)?.margin })),
          levelRow('harm', 'harm: fails over', 'harm', looks.map((r) => { const s = signalAt(r, name); return s === undefined ? null : rateLevels(s)?.harm })),
          ...triggerNames.map((tn) => levelRow(`trigger:${tn}`, `trigger ${tn}: fires over`, 'trigger', looks.map((r) => {
            const t = triggersOf(r, name).find((x) => x.name === tn)
            return t === undefined ? null : rateTriggerLevel(t, specOf(r, tn), signalAt(r, name))
          }))),
        ],
        markers,
      }]
      if (ruleOf(now)?.scale === 'ratio') {
        const ruleAt = (r: DecisionRecord): RuleView | undefined => { const s = signalAt(r, name); return s === undefined ? undefined : ruleOf(s) }
        charts.push({
          ...base(`${name}: canary / baseline`, 'ratio', looks, current),
          series: [{ id: 'estimate', label: 'canary / baseline', look: 'canary', points: looks.map((r) => { const u = ruleAt(r); return u === undefined ? null : { y: u.estimate, lo: u.lower, hi: u.upper } }) }],
          levels: [
            levelRow('margin', 'margin: passes under', 'margin', looks.map((r) => ruleAt(r)?.margin)),
            levelRow('harm', 'harm: fails over', 'harm', looks.map((r) => ruleAt(r)?.harm)),
            ...triggerNames.map((tn) => levelRow(`trigger:${tn}`, `trigger ${tn}: fires over`, 'trigger', looks.map((r) => (triggersOf(r, name).find((x) => x.name === tn) as TriggerView | undefined)?.level))),
          ],
          markers,
        })
      }
      return charts
    }
    case 'backlog': {
      const gauge = (key: keyof BacklogArm) => (_s: SignalResult, a: unknown): ChartPoint | null => (isBacklogArm(a as BacklogArm) ? { y: (a as BacklogArm)[key] } : null)
      const limit = (key: 'maxPending' | 'maxOldestAgeSeconds'): ChartLevel[] => [
        levelRow('harm', 'signal limit: fails over', 'harm', looks.map((r) => signalAt(r, name)?.threshold[key])),
        ...triggerNames.map((tn) => levelRow(`trigger:${tn}`, `trigger ${tn}: fires over`, 'trigger', looks.map((r) => specOf(r, tn)?.[key]))),
      ]
      return [
        { ...base(`${name}: approvals pending`, 'count', looks, current), series: [armSeries(looks, name, 'canary', gauge('pending')), armSeries(looks, name, 'baseline', gauge('pending'))], levels: limit('maxPending'), markers },
        { ...base(`${name}: oldest pending approval`, 'seconds', looks, current), series: [armSeries(looks, name, 'canary', gauge('oldestAgeSeconds')), armSeries(looks, name, 'baseline', gauge('oldestAgeSeconds'))], levels: limit('maxOldestAgeSeconds'), markers },
      ]
    }
    case 'quantile': {
      const point = (_s: SignalResult, a: unknown): ChartPoint | null => (isQuantileArm(a as QuantileArm) ? { y: (a as QuantileArm).seconds } : null)
      const limitAt = (r: DecisionRecord): number | undefined => {
        const s = signalAt(r, name)
        if (s === undefined) return undefined
        const b = isQuantileArm(s.baseline as QuantileArm) ? (s.baseline as QuantileArm).seconds : undefined
        const byRatio = s.threshold.maxRatio === undefined ? Infinity : b === undefined ? undefined : s.threshold.maxRatio * b
        return byRatio === undefined ? undefined : Math.min(s.threshold.maxSeconds ?? Infinity, byRatio)
      }
      return [{ ...base(`${name}: canary and baseline`, 'seconds', looks, current), series: [armSeries(looks, name, 'canary', point), armSeries(looks, name, 'baseline', point)], levels: [levelRow('harm', 'limit: fails over', 'harm', looks.map(limitAt))], markers }]
    }
    case 'check': {
      const point = (_s: SignalResult, a: unknown): ChartPoint | null => (isCheckArm(a as CheckArm) ? { y: (a as CheckArm).failed } : null)
      return [{ ...base(`${name}: failed checks (any failed check fails)`, 'count', looks, current), series: [{ ...armSeries(looks, name, 'canary', point), label: 'canary failed checks' }], levels: [], markers }]
    }
  }
}

/**
 * How many more canary events, and about how long at the canary's event rate over the window,
 * an undecided rate signal needs before its bound clears a level, if the rate stays what it is.
 * The judge's own `toDecide` when it gives one; otherwise a projection with the judge's bound
 * (src/gate/stats.ts) at `alpha` / 2 per arm, holding the baseline and the levels where they are.
 */
export function timeToDecide (s: SignalResult, record: DecisionRecord, alpha: number | undefined): ToDecide | undefined {
  const rule = ruleOf(s)
  if (rule !== undefined) return rule.toDecide ?? undefined
  if (s.kind !== 'rate' || !isRate(s.canary) || alpha === undefined) return undefined
  if (s.status !== 'marginal' && s.status !== 'insufficient') return undefined
  const c = s.canary
  const levels = rateLevels(s)
  const minutes = (Date.parse(record.request.until) - Date.parse(record.request.since)) / 60_000
  const perMinute = minutes > 0 ? c.n / minutes : 0
  const needed = Math.max(0, record.judgement.dataPoints.required - c.n)
  const at = (events: number, side: string): ToDecide => ({ side, events, minutes: perMinute > 0 ? Math.ceil(events / perMinute) : Infinity })
  if (levels === undefined || c.n === 0) return needed > 0 ? at(needed, 'enough data') : undefined
  const p = c.rate
  const side = p < levels.margin ? 'pass' : p > levels.harm ? 'fail' : undefined
  if (side === undefined) return needed > 0 ? at(needed, 'enough data') : undefined
  const decided = (m: number): boolean => {
    const n = c.n + m
    const b = rateBound(n, Math.min(n, Math.round(p * n)), alpha / 2)
    return n >= record.judgement.dataPoints.required && (side === 'pass' ? b.upper <= levels.margin : b.lower > levels.harm)
  }
  let hi = Math.max(1, needed)
  while (!decided(hi)) {
    hi *= 2
    if (hi > 1e8) return { side, events: Infinity, minutes: Infinity }
  }
  let lo = 0
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (decided(mid)) hi = mid
    else lo = mid
  }
  return at(hi, side)
}
