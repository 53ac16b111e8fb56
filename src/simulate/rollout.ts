/**
 * The rollout simulator: seeded rollouts of one stage, each an Argo analysis run (analysis.ts)
 * whose every measurement is the service's judge (`judge` of src/gate/verdict.ts) on simulated
 * Cordum observations (traffic.ts). Pure: no I/O, no clock; the same seed gives the same runs.
 *
 * Timeline of one rollout at a stage: the step's analysis starts at T0 (the canary already runs
 * at the stage's weight); measurement i comes at T0 + initialDelay + (i - 1) x interval and asks
 * about the window [since, measurement time]. `since` is, by `window`:
 *   - 'analysis': T0, the start of this analysis (the window grows from there);
 *   - 'canary': the start of the canary, `before` earlier (the canary's earlier stages, at
 *     their weights), for a gate that judges everything since the canary started;
 *   - 'lookback': `before` earlier, however long it is: what the service does when Argo gives
 *     no `since` (its first look asks for the last canary_lifetime_hours, and later looks keep
 *     that start), the stretches before the canary at weight 0 (the baseline took everything).
 * Traffic is drawn piece by piece, split at sub-interval boundaries, so the overload buckets are
 * exact.
 */
import type { Stage } from '../config/policy.js'
import type { Observations, SignalObservation } from '../gate/observations.js'
import { judge, signalsNeeded, type Judgement } from '../gate/verdict.js'
import { assess, measurementAt, measurementPhase, newMetricState, outcomeOf, record, type MetricRules, type StageOutcome } from './analysis.js'
import { rng } from './random.js'
import { addTraffic, drawBacklog, emptyCounts, observeSignal, unmodelled, type ArmCounts, type ArmRates, type Traffic } from './traffic.js'

/** Where the window of every measurement starts (see the file's comment). */
export type WindowRule = 'analysis' | 'canary' | 'lookback'

/** An earlier stretch of the canary's life, before this stage's analysis began (weight 0: no canary yet). */
export interface Stretch { minutes: number, weight: number }

export interface StageRun {
  stage: Stage
  /** The canary's share of traffic at this stage, percent (0-100). */
  weight: number
  /** The Argo metric that asks the gate (schedule and limits). */
  rules: MetricRules
  traffic: Traffic
  canary: ArmRates
  baseline: ArmRates
  window: WindowRule
  /** With window 'canary' or 'lookback': what came before T0 inside the window, oldest first. */
  before?: Stretch[]
  /**
   * Go on measuring after a run that ended held, as if the metric had no count, until Argo's
   * rules would promote or roll back, for at most this many minutes from the analysis' start:
   * the events the judge needs to decide, whatever the schedule allows. 0 (default): stop.
   */
  decideWithinMinutes?: number
}

/** Where a rollout ended, or where the judge decided. */
export interface RolloutEnd {
  minutes: number
  measurements: number
  /** The canary's events in the window then. */
  canaryDecisions: number
  canaryJobs: number
}

export interface RolloutResult extends RolloutEnd {
  /** What Argo did at the end of the run (minutes and events are the end's). */
  outcome: StageOutcome
  /** The judgement of the measurement that ended the run. */
  last: Judgement
  /**
   * When Argo's rules without a count would have promoted or rolled back: the end itself unless
   * the run ended held and decideWithinMinutes let it go on; `undecided` when they never did.
   */
  decision: RolloutEnd & { outcome: 'promoted' | 'rolled_back' | 'undecided' }
  /**
   * The judge's first decisive answer (pass or fail), the sequential test's stopping time: Argo's
   * promotion then waits for more passes in a row. `none` when it never gave one in the run.
   */
  firstDecisive: RolloutEnd & { verdict: 'pass' | 'fail' | 'none' }
}

/** T0: a whole hour, so sub-interval buckets start at T0 as they would for an aligned step. */
export const T0_MS = Date.parse('2026-11-26T09:00:00Z')

/** Why a stage cannot be simulated, or undefined when it can. */
export function unsimulatable (run: Pick<StageRun, 'stage' | 'rules' | 'weight'>): string | undefined {
  const missing = unmodelled(run.stage, signalsNeeded(run.stage))
  if (missing.length > 0) return `stage ${run.stage.name} reads ${missing.join(', ')}, which the simulator does not model (it models Cordum's rate signals and the approval backlog)`
  if (run.rules.count === null) return `metric ${run.rules.name} has no count: a step analysis must end, and the simulator cannot run it forever`
  if (!(run.weight >= 0 && run.weight <= 100)) return `weight ${run.weight} is outside 0-100`
  return undefined
}

/** A 32-bit seed for rollout `index` of `stage`: rollouts stay the same whatever else runs. */
export function rolloutSeed (seed: number, stage: string, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0
  for (const c of `${stage}#${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
  return h
}

/** One simulated rollout of the stage. */
export function simulateRollout (run: StageRun, seed: number): RolloutResult {
  const why = unsimulatable(run)
  if (why !== undefined) throw new Error(why)
  const random = rng(seed)
  const bucketMs = run.stage.subIntervalMinutes * 60_000
  const stretches = run.window === 'analysis' ? [] : run.before ?? []
  const sinceMs = T0_MS - stretches.reduce((s, x) => s + x.minutes, 0) * 60_000
  const arms = { canary: emptyCounts(), baseline: emptyCounts() }
  const needed = signalsNeeded(run.stage)
  const rules = run.rules

  // The weight at any instant: the earlier stretches, then this stage's weight.
  const changes: Array<{ atMs: number, weight: number }> = []
  let at = sinceMs
  for (const s of stretches) {
    changes.push({ atMs: at, weight: s.weight })
    at += s.minutes * 60_000
  }
  changes.push({ atMs: T0_MS, weight: run.weight })

  let cursor = sinceMs
  const advance = (untilMs: number): void => {
    while (cursor < untilMs) {
      const bucketStart = Math.floor(cursor / bucketMs) * bucketMs
      const change = changes.find((c) => c.atMs > cursor)?.atMs ?? Infinity
      const end = Math.min(untilMs, bucketStart + bucketMs, change)
      const weight = [...changes].reverse().find((c) => c.atMs <= cursor)?.weight ?? 0
      const minutes = (end - cursor) / 60_000
      addTraffic(arms.canary, random, run.traffic, weight / 100, run.canary, minutes, bucketStart)
      addTraffic(arms.baseline, random, run.traffic, 1 - weight / 100, run.baseline, minutes, bucketStart)
      cursor = end
    }
  }

  let state = newMetricState()
  let end: { outcome: StageOutcome, at: RolloutEnd, last: Judgement } | undefined
  let first: RolloutResult['firstDecisive'] | undefined
  // After a held end, the same run without Argo's count (and its inconclusive limit).
  const unlimited: MetricRules = { ...rules, count: null, inconclusiveLimit: Infinity }
  const capMs = T0_MS + (run.decideWithinMinutes ?? 0) * 60_000
  const result = (e: NonNullable<typeof end>, decision: RolloutResult['decision']): RolloutResult =>
    ({ ...e.at, outcome: e.outcome, last: e.last, decision, firstDecisive: first ?? { ...decision, verdict: 'none' } })
  for (let i = 1; ; i++) {
    const untilMs = T0_MS + measurementAt(rules, i) * 1000
    if (end !== undefined && untilMs > capMs) return result(end, { ...end.at, outcome: 'undecided' })
    advance(untilMs)
    const last = judge(run.stage, observations(run, arms, needed, sinceMs, untilMs, bucketMs, random))
    const at: RolloutEnd = { minutes: (untilMs - T0_MS) / 60_000, measurements: i, canaryDecisions: arms.canary.decisions, canaryJobs: arms.canary.jobs }
    if (first === undefined && last.verdict !== 'inconclusive') first = { ...at, verdict: last.verdict }
    // The measurement's value as the gate's ?view=argo answer starts: "<verdict>: score <n> at <stage>".
    state = record(state, measurementPhase(rules, `${last.verdict}: score ${last.score} at ${last.stage}`))
    if (end === undefined) {
      const phase = assess(rules, state)
      if (phase === 'Running') continue
      end = { outcome: outcomeOf(phase), at, last }
      if (end.outcome !== 'held') return result(end, { ...at, outcome: end.outcome })
    } else {
      const phase = assess(unlimited, state)
      if (phase === 'Successful' || phase === 'Failed') return result(end, { ...at, outcome: phase === 'Successful' ? 'promoted' : 'rolled_back' })
    }
  }
}

function observations (run: StageRun, arms: { canary: ArmCounts, baseline: ArmCounts }, needed: string[], sinceMs: number, untilMs: number, bucketMs: number, random: () => number): Observations {
  const w = run.weight / 100
  const backlog = (): { canary: { pending: number, oldestAgeSeconds: number }, baseline: { pending: number, oldestAgeSeconds: number } } => ({
    canary: drawBacklog(random, run.traffic, w, run.canary),
    baseline: drawBacklog(random, run.traffic, 1 - w, run.baseline),
  })
  const signals: Record<string, SignalObservation> = {}
  for (const name of needed) signals[name] = observeSignal(name, arms, { sinceMs, untilMs, bucketMs }, backlog)
  const obs: Observations = { window: { since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString() }, expectedWeight: run.weight, signals }
  // A stage that needs a human approval: the simulated person approves at once, so the figures
  // are the statistics' (the approval's wait is the person's, not the gate's).
  if (run.stage.approval !== undefined) obs.approval = { status: 'approved' }
  return obs
}

export interface StageSummary {
  stage: string
  weight: number
  rollouts: number
  /** Argo's ends: promoted, held (paused for a person when the count ran out) or rolled back. */
  promoted: number
  held: number
  rolledBack: number
  /** Minutes from the analysis' start to its end. */
  minutes: { median: number, p90: number }
  /** Mean canary events in the window at the end. */
  meanEvents: { decisions: number, jobs: number }
  /** How many runs ended with each reason code of their last judgement, most frequent first. */
  lastReasons: Array<{ code: string, runs: number }>
  /**
   * The judge's decision (Argo's rules without the count, up to decideWithinMinutes): minutes and
   * canary events to it; runs still undecided count with their last measurement's.
   */
  decision: { promoted: number, rolledBack: number, undecided: number, withinMinutes: number, minutes: { median: number, p90: number }, meanEvents: { decisions: number, jobs: number } }
  /** The judge's first decisive answers: how many of each, and minutes and canary events to them (runs without one at their end). */
  firstDecisive: { pass: number, fail: number, none: number, minutes: { median: number, p90: number }, meanEvents: { decisions: number, jobs: number } }
}

/** `rollouts` seeded rollouts of a stage, summarized. `progress` is told after each rollout. */
export function simulateStage (run: StageRun, rollouts: number, seed: number, progress?: (done: number) => void): { summary: StageSummary, results: RolloutResult[] } {
  const results: RolloutResult[] = []
  for (let i = 0; i < rollouts; i++) {
    results.push(simulateRollout(run, rolloutSeed(seed, run.stage.name, i)))
    progress?.(i + 1)
  }
  return { summary: summarize(run, results), results }
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}

export function summarize (run: Pick<StageRun, 'stage' | 'weight' | 'decideWithinMinutes'>, results: RolloutResult[]): StageSummary {
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)
  const quantiles = (xs: number[]): { median: number, p90: number } => ({ median: quantile(sorted(xs), 0.5), p90: quantile(sorted(xs), 0.9) })
  const mean = (xs: number[]): number => xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length
  const reasons = new Map<string, number>()
  for (const r of results) for (const code of r.last.reasonCodes) reasons.set(code, (reasons.get(code) ?? 0) + 1)
  const d = results.map((r) => r.decision)
  const f = results.map((r) => r.firstDecisive)
  return {
    stage: run.stage.name,
    weight: run.weight,
    rollouts: results.length,
    promoted: results.filter((r) => r.outcome === 'promoted').length,
    held: results.filter((r) => r.outcome === 'held').length,
    rolledBack: results.filter((r) => r.outcome === 'rolled_back').length,
    minutes: quantiles(results.map((r) => r.minutes)),
    meanEvents: { decisions: mean(results.map((r) => r.canaryDecisions)), jobs: mean(results.map((r) => r.canaryJobs)) },
    lastReasons: [...reasons].map(([code, runs]) => ({ code, runs })).sort((a, b) => b.runs - a.runs),
    decision: {
      promoted: d.filter((x) => x.outcome === 'promoted').length,
      rolledBack: d.filter((x) => x.outcome === 'rolled_back').length,
      undecided: d.filter((x) => x.outcome === 'undecided').length,
      withinMinutes: run.decideWithinMinutes ?? 0,
      minutes: quantiles(d.map((x) => x.minutes)),
      meanEvents: { decisions: mean(d.map((x) => x.canaryDecisions)), jobs: mean(d.map((x) => x.canaryJobs)) },
    },
    firstDecisive: {
      pass: f.filter((x) => x.verdict === 'pass').length,
      fail: f.filter((x) => x.verdict === 'fail').length,
      none: f.filter((x) => x.verdict === 'none').length,
      minutes: quantiles(f.map((x) => x.minutes)),
      meanEvents: { decisions: mean(f.map((x) => x.canaryDecisions)), jobs: mean(f.map((x) => x.canaryJobs)) },
    },
  }
}
