/**
 * The operating characteristic of a gates policy: for each stage, seeded rollouts through
 * Argo's rules and the judge (rollout.ts), with the fixed-horizon sample size of the same
 * decision (horizon.ts) beside the events the judge took. What `agent-canary-gate simulate` and
 * `npm run bench -- --only=decisions` print.
 */
import type { GatesPolicy } from '../config/policy.js'
import { measurementAt, type MetricRules } from './analysis.js'
import { fixedHorizon, POWER, type Horizon } from './horizon.js'
import { simulateStage, unsimulatable, type StageRun, type StageSummary, type Stretch, type WindowRule } from './rollout.js'
import type { ArmRates, Traffic } from './traffic.js'

const WINDOW_TEXT: Record<WindowRule, string> = {
  analysis: "since the analysis' start",
  canary: "since the canary's start",
  lookback: 'from canary_lifetime_hours before the first measurement, as the service asks when Argo gives no since',
}

/** Canary weights of the default stages (percent), as issue 15's targets set them. */
export const DEFAULT_WEIGHTS: Record<string, number> = { shadow: 100, 'canary-1': 10, 'canary-2': 25, full: 100 }

export interface SimulationSpec {
  policy: GatesPolicy
  stages: string[]
  /** Percent per stage. */
  weights: Record<string, number>
  rules: MetricRules
  traffic: Traffic
  canary: ArmRates
  baseline: ArmRates
  rollouts: number
  seed: number
  window: WindowRule
  /** Go on after a held end until the judge decides, up to this many minutes (RolloutRun.decideWithinMinutes). */
  decideWithinMinutes: number
}

export interface StageReport extends StageSummary {
  horizon: Horizon
  /** Mean canary events of the deciding rule's stream at the judge's first decisive answer, over its fixed-horizon n. */
  eventsRatio?: number
  /** The same at Argo's decision (its rules without the count: passes in a row, or a fail). */
  argoEventsRatio?: number
  /** The schedule: measurements at most, minutes to the earliest promotion and to the last measurement. */
  schedule: { count: number, earliestPromotionMinutes: number, lastMeasurementMinutes: number }
}

export interface SimulationReport extends Pick<SimulationSpec, 'traffic' | 'canary' | 'baseline' | 'rollouts' | 'seed' | 'window' | 'decideWithinMinutes'> {
  alpha: number
  power: number
  stages: StageReport[]
}

/** The StageRun of each asked-for stage; throws an Error naming a stage that cannot be simulated. */
export function stageRuns (spec: Omit<SimulationSpec, 'rollouts' | 'seed'>): StageRun[] {
  const runs: StageRun[] = []
  const earlier: Stretch[] = []
  for (const name of spec.stages) {
    const stage = spec.policy.stages[name]
    if (stage === undefined) throw new Error(`no stage ${name} in the gates policy (stages: ${Object.keys(spec.policy.stages).join(', ')})`)
    const weight = spec.weights[name]
    if (weight === undefined) throw new Error(`stage ${name} needs a canary weight (--weights ${name}=PERCENT)`)
    const run: StageRun = { stage, weight, rules: spec.rules, traffic: spec.traffic, canary: spec.canary, baseline: spec.baseline, window: spec.window, decideWithinMinutes: spec.decideWithinMinutes }
    const why = unsimulatable(run)
    if (why !== undefined) throw new Error(why)
    // Since the canary started: the stages before this one, each for its quickest promotion.
    if (spec.window === 'canary') run.before = [...earlier]
    if (spec.window === 'lookback') run.before = lookback(earlier, spec.policy.canaryLifetimeHours * 60 - spec.rules.initialDelaySeconds / 60)
    earlier.push({ minutes: earliestPromotionSeconds(spec.rules) / 60, weight })
    runs.push(run)
  }
  return runs
}

/** The last `minutes` before T0: the latest of the earlier stretches, weight 0 (no canary) before them. */
function lookback (earlier: Stretch[], minutes: number): Stretch[] {
  const out: Stretch[] = []
  let left = Math.max(0, minutes)
  for (const s of [...earlier].reverse()) {
    if (left <= 0) break
    out.unshift({ minutes: Math.min(s.minutes, left), weight: s.weight })
    left -= s.minutes
  }
  if (left > 0) out.unshift({ minutes: left, weight: 0 })
  return out
}

function earliestPromotionSeconds (rules: MetricRules): number {
  const s = rules.consecutiveSuccessLimit > 0 ? rules.consecutiveSuccessLimit : rules.count ?? 1
  return measurementAt(rules, s)
}

/** The report of one stage from its rollouts. */
export function stageReport (run: StageRun, summary: StageSummary, rules: MetricRules): StageReport {
  const horizon = fixedHorizon(run.stage, run.canary, run.baseline, run.weight)
  const d = horizon.deciding
  const report: StageReport = {
    ...summary,
    horizon,
    schedule: { count: rules.count ?? 0, earliestPromotionMinutes: earliestPromotionSeconds(rules) / 60, lastMeasurementMinutes: measurementAt(rules, rules.count ?? 1) / 60 },
  }
  if (d !== undefined && Number.isFinite(d.n)) {
    report.eventsRatio = summary.firstDecisive.meanEvents[d.stream] / d.n
    report.argoEventsRatio = summary.decision.meanEvents[d.stream] / d.n
  }
  return report
}

/** Runs the simulation; `progress` hears (stage, rollouts done) after each rollout. */
export function simulatePolicy (spec: SimulationSpec, progress?: (stage: string, done: number) => void): SimulationReport {
  const stages = stageRuns(spec).map((run) => stageReport(run, simulateStage(run, spec.rollouts, spec.seed, (done) => progress?.(run.stage.name, done)).summary, spec.rules))
  return {
    traffic: spec.traffic,
    canary: spec.canary,
    baseline: spec.baseline,
    rollouts: spec.rollouts,
    seed: spec.seed,
    window: spec.window,
    decideWithinMinutes: spec.decideWithinMinutes,
    alpha: spec.policy.alpha,
    power: POWER,
    stages,
  }
}

const pct = (x: number, of: number): string => `${((100 * x) / of).toFixed(1)}%`
const num = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-')

/** The report as rows of text cells, the header first. */
export function reportRows (r: SimulationReport): string[][] {
  const rows = [['STAGE', 'WEIGHT', 'PROMOTED', 'HELD', 'ROLLBACK', 'MINUTES', 'EVENTS', 'HORIZON', 'RATIO']]
  for (const s of r.stages) {
    const d = s.horizon.deciding
    rows.push([
      s.stage,
      `${s.weight}%`,
      pct(s.promoted, s.rollouts),
      pct(s.held, s.rollouts),
      pct(s.rolledBack, s.rollouts),
      `${s.minutes.median}/${s.minutes.p90}`,
      d === undefined ? '-' : num(s.firstDecisive.meanEvents[d.stream]),
      d === undefined ? '-' : `${num(d.n)} ${d.stream}`,
      s.eventsRatio === undefined ? '-' : s.eventsRatio.toFixed(2),
    ])
  }
  return rows
}

/** The lines under the table: what was simulated and how to read it. */
export function reportNotes (r: SimulationReport): string[] {
  const rate = (a: ArmRates): string => `deny ${pct(a.deny, 1)}, job failures ${pct(a.jobFailures, 1)}, overload ${pct(a.overload, 1)}${a.approvals > 0 ? `, approvals ${pct(a.approvals, 1)} of jobs (mean wait ${a.approvalWaitSeconds}s)` : ''}`
  const lines = [
    `${r.rollouts} rollouts per stage, seed ${r.seed}; ${r.traffic.decisionsPerMinute} decisions/min and ${r.traffic.jobsPerMinute} jobs/min in all; window ${WINDOW_TEXT[r.window]}.`,
    `Canary: ${rate(r.canary)}. Baseline: ${rate(r.baseline)}.`,
    'PROMOTED/HELD/ROLLBACK: how Argo ended the step; MINUTES: median/p90 from the analysis\' start to that end.',
    `EVENTS: mean canary events of the deciding rule's stream at the judge's first pass or fail (the run goes on after a held end, up to ${r.decideWithinMinutes} min; runs without one count with their last events).`,
    `HORIZON: canary events of that stream one test read once needs for that decision at one-sided alpha ${r.alpha}, power ${r.power * 100}% (normal approximation, docs/judging.md); RATIO = EVENTS / HORIZON.`,
  ]
  for (const s of r.stages) {
    const d = s.horizon.deciding
    const first = `first decisive answer: pass ${pct(s.firstDecisive.pass, s.rollouts)}, fail ${pct(s.firstDecisive.fail, s.rollouts)}, none ${pct(s.firstDecisive.none, s.rollouts)} (median/p90 ${s.firstDecisive.minutes.median}/${s.firstDecisive.minutes.p90} min)`
    const argo = `Argo's rules without the count: promote ${pct(s.decision.promoted, s.rollouts)}, roll back ${pct(s.decision.rolledBack, s.rollouts)}, undecided ${pct(s.decision.undecided, s.rollouts)} (median/p90 ${s.decision.minutes.median}/${s.decision.minutes.p90} min${s.argoEventsRatio === undefined ? '' : `, ${s.argoEventsRatio.toFixed(2)} x the fixed horizon`})`
    const decided = `${first}; ${argo}`
    lines.push(`${s.stage}: ${s.schedule.count} measurements at most (promotion at ${s.schedule.earliestPromotionMinutes} min at the earliest, the last at ${s.schedule.lastMeasurementMinutes} min); last answers ${s.lastReasons.slice(0, 3).map((x) => `${x.code} ${pct(x.runs, s.rollouts)}`).join(', ')}; ${decided}${d === undefined ? '' : `; fixed horizon from ${d.rule} (${s.horizon.decision}: ${pct(d.rate, 1)} against ${pct(d.limit, 1)}, ${d.test})`}.`)
  }
  return lines
}
