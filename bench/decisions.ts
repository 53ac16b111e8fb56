/**
 * The decision targets of issue 15 (`npm run bench -- --only=decisions`): the rollout simulator
 * (src/simulate/) on the issue's scenarios, with the default gates policy and the shipped
 * ClusterAnalysisTemplate's schedule and limits. "Busy": 600 decisions/min and 200 jobs/min in
 * all, the canary at 10% in canary-1 and 25% in canary-2; "quiet": 60 and 20. Rates and ratios,
 * not timings: the same seed gives the same rows on any machine.
 *
 * `decisionRows` turns the simulation reports into rows (pure, tested in test/bench/decisions.test.ts).
 */
import { readFileSync } from 'node:fs'
import { defaultPolicy } from '../src/config/load.js'
import type { Judgement } from '../src/gate/verdict.js'
import { SHIPPED_TEMPLATE } from '../src/cli/simulate.js'
import { templateMetric } from '../src/simulate/analysis.js'
import { DEFAULT_WEIGHTS, stageReport, stageRuns, type SimulationSpec, type StageReport } from '../src/simulate/report.js'
import { simulateStage, type StageRun } from '../src/simulate/rollout.js'
import { scenario, BUSY } from '../src/simulate/scenarios.js'
import type { TimingRow } from './timings.js'

/** One scenario at one stage; `key` names its result for decisionRows. */
export interface DecisionCase {
  key: string
  scenario: string
  stage: string
}

export const CASES: DecisionCase[] = [
  { key: 'healthy-1', scenario: 'healthy', stage: 'canary-1' },
  { key: 'overload-both-2', scenario: 'overload-both', stage: 'canary-2' },
  { key: 'deny-1', scenario: 'deny-5pct', stage: 'canary-1' },
  { key: 'failures-1', scenario: 'job-failures-4x', stage: 'canary-1' },
  { key: 'overload-5x-2', scenario: 'overload-5x-canary', stage: 'canary-2' },
  { key: 'quiet-1', scenario: 'quiet', stage: 'canary-1' },
  { key: 'quiet-2', scenario: 'quiet', stage: 'canary-2' },
]

/** Mean events to a decision may be at most this many times the fixed-horizon sample size. */
export const EVENTS_TARGET = 2

/** What one case measured: its stage report and the last answers of its rollouts. */
export interface DecisionResult { report: StageReport, answers: Judgement[] }

const pct = (x: number, of: number): string => `${((100 * x) / of).toFixed(1)}%`

/**
 * How long the judge says a decision will take, from one of its answers: for each rate rule not
 * decided yet, its projection (src/gate/rule.ts `toDecide`): events and minutes, or null for "no
 * decision at the current rates". Undefined when some undecided rule says nothing (no
 * projection, or events without minutes) or no rule is undecided.
 */
export function timeToDecide (j: Judgement): string | undefined {
  const open = j.signals.filter((s) => s.rule !== undefined && s.rule.decided === null)
  if (open.length === 0 || open.some((s) => s.rule?.toDecide === undefined || (s.rule.toDecide !== null && s.rule.toDecide.minutes === null))) return undefined
  return open.map((s) => `${s.name} ${s.rule?.toDecide === null ? 'not at the current rates' : `${s.rule?.toDecide?.minutes ?? '?'} min`}`).join(', ')
}

/** The rows for the cases' results, keyed by DecisionCase.key; missing cases are left out. */
export function decisionRows (results: Record<string, DecisionResult | undefined>): TimingRow[] {
  const rows: TimingRow[] = []
  const share = (id: string, key: string, what: string, want: { promoted?: number, rolledBackMax?: number, rolledBackMin?: number }): void => {
    const r = results[key]?.report
    if (r === undefined) return
    const promoted = r.promoted / r.rollouts
    const rolledBack = r.rolledBack / r.rollouts
    const targets: string[] = []
    let ok = true
    if (want.promoted !== undefined) { targets.push(`promoted >= ${want.promoted * 100}%`); ok &&= promoted >= want.promoted }
    if (want.rolledBackMax !== undefined) { targets.push(`rolled back <= ${want.rolledBackMax * 100}%`); ok &&= rolledBack <= want.rolledBackMax }
    if (want.rolledBackMin !== undefined) { targets.push(`rolled back >= ${want.rolledBackMin * 100}%`); ok &&= rolledBack >= want.rolledBackMin }
    rows.push({
      id,
      what: `${what} (${r.stage} at ${r.weight}%)`,
      measured: `${pct(r.promoted, r.rollouts)} / ${pct(r.held, r.rollouts)} / ${pct(r.rolledBack, r.rollouts)} of ${r.rollouts}`,
      baseline: 'promoted / held / rolled back',
      ratio: undefined,
      target: targets.join(', '),
      result: ok ? 'PASS' : 'FAIL',
    })
  }
  share('D1', 'healthy-1', 'healthy canary', { promoted: 0.8, rolledBackMax: 0.01 })
  share('D2', 'overload-both-2', 'healthy, overload 0.5% in both arms', { promoted: 0.9, rolledBackMax: 0.01 })
  share('D3', 'deny-1', 'canary deny rate 5%', { rolledBackMin: 0.99 })
  share('D4', 'failures-1', 'canary job failures 4x baseline', { rolledBackMin: 0.95 })
  share('D5', 'overload-5x-2', 'overload 5x baseline in the canary only', { rolledBackMin: 0.95 })

  // Events to a decision against the fixed horizon of the same decision, per scenario.
  const suffix = 'abcde'
  CASES.slice(0, 5).forEach((c, i) => {
    const r = results[c.key]?.report
    const d = r?.horizon.deciding
    if (r === undefined) return
    if (d === undefined || r.eventsRatio === undefined) {
      rows.push({ id: `D6${suffix[i] as string}`, what: `events to decide, ${c.scenario} (${r.stage})`, measured: '-', baseline: 'no rate rule decides this scenario', ratio: undefined, target: `<= ${EVENTS_TARGET}`, result: 'FAIL' })
      return
    }
    const id = `D6${suffix[i] as string}`
    const none = r.firstDecisive.none > 0 ? `; ${pct(r.firstDecisive.none, r.rollouts)} without a pass or fail after ${r.decision.withinMinutes} min (counted at their last events)` : ''
    const argo = r.argoEventsRatio === undefined ? '' : `; at Argo's decision (${r.schedule.count === 0 ? '' : 'passes in a row or a fail, '}no count) ${Math.round(r.decision.meanEvents[d.stream])} ${d.stream}, ${r.argoEventsRatio.toFixed(2)} x`
    rows.push({
      id,
      what: `events to decide, ${c.scenario} (${r.stage})`,
      measured: `${Math.round(r.firstDecisive.meanEvents[d.stream])} ${d.stream}`,
      baseline: `fixed horizon ${d.n} (${d.rule}, ${d.test})`,
      ratio: r.eventsRatio,
      target: `<= ${EVENTS_TARGET}`,
      result: r.eventsRatio <= EVENTS_TARGET ? 'PASS' : 'FAIL',
      note: `${id}: events at the judge's first pass or fail${argo}${none}`,
    })
  })

  // Quiet: no false rollback at either stage, and the answers say how long a decision will take.
  const quiet = ['quiet-1', 'quiet-2'].map((k) => results[k]).filter((x): x is DecisionResult => x !== undefined)
  if (quiet.length > 0) {
    const rolledBack = quiet.reduce((s, q) => s + q.report.rolledBack, 0)
    const runs = quiet.reduce((s, q) => s + q.report.rollouts, 0)
    rows.push({
      id: 'D7a',
      what: `quiet (60 decisions/min, 20 jobs/min): false rollbacks (${quiet.map((q) => q.report.stage).join(', ')})`,
      measured: `${rolledBack} of ${runs}`,
      baseline: quiet.map((q) => `${q.report.stage} ${pct(q.report.promoted, q.report.rollouts)} / ${pct(q.report.held, q.report.rollouts)} / ${pct(q.report.rolledBack, q.report.rollouts)}`).join('; '),
      ratio: undefined,
      target: '0',
      result: rolledBack === 0 ? 'PASS' : 'FAIL',
    })
    // Every held quiet rollout's last answer: does it say, for each rule not decided, when it will be?
    const answers = quiet.flatMap((q) => q.answers.filter((a) => a.verdict === 'inconclusive'))
    const stated = answers.filter((a) => timeToDecide(a) !== undefined)
    const never = stated.filter((a) => timeToDecide(a)?.includes('not at the current rates') === true).length
    rows.push({
      id: 'D7b',
      what: 'quiet: inconclusive answers state how long a decision will take',
      measured: `${stated.length} of ${answers.length}`,
      baseline: `${never} say no decision comes at the current rates`,
      ratio: undefined,
      target: 'all',
      result: answers.length > 0 && stated.length === answers.length ? 'PASS' : 'FAIL',
    })
  }
  return rows
}

/** Runs every case: `rollouts` seeded rollouts each. */
export function benchDecisions (rollouts: number, progress?: (line: string) => void): { rows: TimingRow[], details: Record<string, StageReport> } {
  const { policy } = defaultPolicy()
  const rules = templateMetric(readFileSync(SHIPPED_TEMPLATE, 'utf8'), SHIPPED_TEMPLATE)
  const results: Record<string, DecisionResult> = {}
  const details: Record<string, StageReport> = {}
  for (const c of CASES) {
    const sc = scenario(c.scenario)
    if (sc === undefined) throw new Error(`no scenario ${c.scenario}`)
    const started = Date.now()
    const spec: SimulationSpec = {
      policy,
      stages: [c.stage],
      weights: DEFAULT_WEIGHTS,
      rules,
      traffic: sc.traffic ?? BUSY,
      canary: sc.canary,
      baseline: sc.baseline,
      // Quiet has no events row: its runs stop at the schedule's end, as Argo's do.
      rollouts,
      seed: 20261126,
      window: 'analysis',
      decideWithinMinutes: c.scenario === 'quiet' ? 0 : 24 * 60,
    }
    const run = stageRuns(spec)[0] as StageRun
    const { summary, results: runs } = simulateStage(run, rollouts, spec.seed)
    const report = stageReport(run, summary, rules)
    results[c.key] = { report, answers: runs.map((r) => r.last) }
    details[c.key] = report
    progress?.(`decisions: ${c.scenario} at ${c.stage}: ${rollouts} rollouts in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  return { rows: decisionRows(results), details }
}
