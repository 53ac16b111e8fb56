/**
 * What `validate` says about a valid policy beyond "it loads": rules that can never bind, and
 * how long each stage's rules take to decide at a given traffic (pure; the CLI prints it).
 */
import { pct, ratio } from './format.js'
import { decide, limitOf } from './rule.js'
import type { Counts, RateLimit } from './sequential.js'
import type { GatesPolicy, Stage, Thresholds } from '../config/policy.js'

/**
 * Rules that can never bind: with a floor f, the comparative limit M x max(baseline, f) is at
 * least M x f, so when M x f >= max_rate the absolute limit always wins and the ratio is dead
 * weight (the old deny rule: 1.5 x 2% = 3%, the absolute limit itself).
 */
export function policyWarnings (policy: GatesPolicy): string[] {
  const out = new Set<string>()
  const check = (where: string, t: Partial<Thresholds>): void => {
    if (t.maxRate === undefined || t.maxRatio === undefined || t.floor === undefined || t.floor <= 0) return
    if (t.maxRatio * t.floor >= t.maxRate) {
      out.add(`${where}: max_ratio ${ratio(t.maxRatio)} x floor ${pct(t.floor)} = ${pct(t.maxRatio * t.floor)} is at or above max_rate ${pct(t.maxRate)}, so the ratio never binds: drop it, or lower the floor under ${pct(t.maxRate / t.maxRatio)}`)
    }
  }
  for (const s of Object.values(policy.signals)) if (s.kind === 'rate') check(`signal ${s.name}`, s.thresholds)
  const same = (a: Partial<Thresholds>, b: Partial<Thresholds>): boolean => a.maxRate === b.maxRate && a.maxRatio === b.maxRatio && a.floor === b.floor
  for (const stage of Object.values(policy.stages)) {
    // A stage's signal is worth its own warning only where the stage changed its thresholds.
    for (const s of stage.signals) {
      const spec = policy.signals[s.name]
      if (s.kind === 'rate' && (spec === undefined || !same(s.thresholds, spec.thresholds))) check(`stage ${stage.name}, signal ${s.name}`, s.thresholds)
    }
    for (const t of stage.triggers) if (t.kind === 'rate') check(`stage ${stage.name}, trigger ${t.name}`, t)
  }
  return [...out]
}

/** The healthy rates `validate --traffic` assumes, and which stream each signal counts. */
export interface Assumption { signal: string, stream: 'decisions' | 'jobs', rate: number }

/**
 * A healthy canary of a rule: equal to its baseline at the floor for a comparative rule (the
 * level the floor says is normal), a third of the limit for an absolute one (a healthy 1% deny
 * rate against its 3% limit).
 */
export function healthyRate (t: Partial<Thresholds>): number {
  if (t.maxRatio !== undefined && (t.floor ?? 0) > 0) return t.floor as number
  if (t.maxRate !== undefined) return t.maxRate / 3
  return 0.01
}

export interface DecisionTime {
  signal: string
  stream: 'decisions' | 'jobs'
  rate: number
  /** Canary events and minutes to a pass at the expected counts; null when none within a day. */
  events: number | null
  minutes: number | null
}

const DAY = 24 * 60

/**
 * Minutes until a healthy canary's rule passes, following the expected counts minute by minute
 * (both arms at the same healthy rate). The expected path is close to the median run; the
 * simulator (`agent-canary-gate simulate`) gives the spread and Argo's schedule on top.
 */
export function timeToPass (limit: RateLimit, rate: number, canaryPerMin: number, baselinePerMin: number, alpha: number, minEvents: number): { events: number, minutes: number } | null {
  if (canaryPerMin <= 0) return null
  const cut = Math.log(1 / alpha)
  for (let m = 1; m <= DAY; m++) {
    const c: Counts = { nc: canaryPerMin * m, kc: rate * canaryPerMin * m, nb: baselinePerMin * m, kb: rate * baselinePerMin * m }
    if (c.nc >= minEvents && decide(c, limit, cut).decided === 'pass') return { events: Math.ceil(c.nc), minutes: m }
  }
  return null
}

/** The time each rate rule of a stage takes to pass a healthy canary at this traffic and weight; `rates` overrides the healthy rate per signal. */
export function decisionTimes (stage: Stage, decisionsPerMin: number, jobsPerMin: number, weightPercent: number, rates: Record<string, number> = {}): DecisionTime[] {
  const w = weightPercent / 100
  return stage.signals.filter((s) => s.kind === 'rate').map((s) => {
    // Cordum's decision log feeds the deny rate; every other Cordum rate counts jobs.
    const stream = s.name === 'policy_deny_rate' ? 'decisions' : 'jobs'
    const total = stream === 'decisions' ? decisionsPerMin : jobsPerMin
    const rate = rates[s.name] ?? healthyRate(s.thresholds)
    const t = timeToPass(limitOf(s.thresholds), rate, total * w, total * (1 - w), stage.alpha, stage.minDataPoints)
    return { signal: s.name, stream, rate, events: t?.events ?? null, minutes: t?.minutes ?? null }
  })
}
