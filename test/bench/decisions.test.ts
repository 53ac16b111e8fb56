// The decision rows of the bench (bench/decisions.ts): each target read from the simulator's
// reports, PASS exactly when the figure meets it. Reports are made up here; the bench runs the
// simulator for the real figures.
import t from 'tap'
import { decisionRows, EVENTS_TARGET, type DecisionResult } from '../../bench/decisions.js'
import type { Judgement } from '../../src/gate/verdict.js'
import type { StageReport } from '../../src/simulate/report.js'

function result (stage: string, counts: { promoted: number, held: number, rolledBack: number }, extra: Partial<StageReport> = {}, sample: Partial<Judgement> = {}): DecisionResult {
  const rollouts = counts.promoted + counts.held + counts.rolledBack
  const report: StageReport = {
    stage,
    weight: stage === 'canary-1' ? 10 : 25,
    rollouts,
    ...counts,
    minutes: { median: 30, p90: 60 },
    meanEvents: { decisions: 1000, jobs: 300 },
    lastReasons: [],
    decision: { promoted: counts.promoted, rolledBack: counts.rolledBack, undecided: counts.held, withinMinutes: 1440, minutes: { median: 30, p90: 60 }, meanEvents: { decisions: 1000, jobs: 300 } },
    firstDecisive: { pass: counts.promoted, fail: counts.rolledBack, none: counts.held, minutes: { median: 20, p90: 50 }, meanEvents: { decisions: 900, jobs: 250 } },
    horizon: { decision: 'promote', rules: [], deciding: { rule: 'signal job_failure_rate', signal: 'job_failure_rate', stream: 'jobs', direction: 'pass', rate: 0.02, limit: 0.03, test: 'two-proportion', n: 200 } },
    eventsRatio: 1.5,
    argoEventsRatio: 2,
    schedule: { count: 12, earliestPromotionMinutes: 15, lastMeasurementMinutes: 60 },
    ...extra,
  }
  return { report, answers: [{ verdict: 'inconclusive', ...sample } as Judgement] }
}

const row = (rows: ReturnType<typeof decisionRows>, id: string): ReturnType<typeof decisionRows>[number] => {
  const r = rows.find((x) => x.id === id)
  if (r === undefined) throw new Error(`no row ${id}`)
  return r
}

t.test('the share targets: PASS at the target, FAIL just past it', async (t) => {
  const at = decisionRows({
    'healthy-1': result('canary-1', { promoted: 320, held: 76, rolledBack: 4 }),
    'overload-both-2': result('canary-2', { promoted: 360, held: 36, rolledBack: 4 }),
    'deny-1': result('canary-1', { promoted: 0, held: 4, rolledBack: 396 }),
    'failures-1': result('canary-1', { promoted: 0, held: 20, rolledBack: 380 }),
    'overload-5x-2': result('canary-2', { promoted: 0, held: 20, rolledBack: 380 }),
  })
  for (const id of ['D1', 'D2', 'D3', 'D4', 'D5']) t.equal(row(at, id).result, 'PASS', `${id} at its target`)
  t.match(row(at, 'D1'), { measured: '80.0% / 19.0% / 1.0% of 400', target: 'promoted >= 80%, rolled back <= 1%' })
  t.match(row(at, 'D3'), { target: 'rolled back >= 99%' })
  const past = decisionRows({
    'healthy-1': result('canary-1', { promoted: 319, held: 77, rolledBack: 4 }),
    'overload-both-2': result('canary-2', { promoted: 370, held: 25, rolledBack: 5 }),
    'deny-1': result('canary-1', { promoted: 0, held: 5, rolledBack: 395 }),
    'failures-1': result('canary-1', { promoted: 1, held: 20, rolledBack: 379 }),
    'overload-5x-2': result('canary-2', { promoted: 0, held: 21, rolledBack: 379 }),
  })
  for (const id of ['D1', 'D2', 'D3', 'D4', 'D5']) t.equal(row(past, id).result, 'FAIL', `${id} just past its target`)
})

t.test('events to decide: the ratio to the fixed horizon, at most 2', async (t) => {
  const rows = decisionRows({
    'healthy-1': result('canary-1', { promoted: 400, held: 0, rolledBack: 0 }, { eventsRatio: EVENTS_TARGET }),
    'deny-1': result('canary-1', { promoted: 0, held: 40, rolledBack: 360 }, { eventsRatio: 2.01 }),
    'failures-1': result('canary-1', { promoted: 0, held: 0, rolledBack: 400 }, { horizon: { decision: 'roll back', rules: [] } }),
  })
  t.match(row(rows, 'D6a'), { ratio: 2, result: 'PASS', measured: '250 jobs', baseline: 'fixed horizon 200 (signal job_failure_rate, two-proportion)' })
  t.match(row(rows, 'D6a'), { note: /events at the judge's first pass or fail; at Argo's decision .* 300 jobs/ })
  t.match(row(rows, 'D6c'), { ratio: 2.01, result: 'FAIL', note: /10\.0% without a pass or fail after 1440 min/ })
  t.match(row(rows, 'D6d'), { result: 'FAIL', baseline: 'no rate rule decides this scenario' }, 'a scenario no rule decides is not a pass')
  t.notOk(rows.some((r) => r.id === 'D6b' || r.id === 'D2'), 'a case not run has no row')
})

t.test('quiet: no false rollback at either stage, and the answers say when a decision comes', async (t) => {
  const open = (minutes: number | null): Partial<Judgement> => ({ signals: [{ name: 'job_failure_rate', rule: { decided: null, toDecide: { side: 'pass', events: 300, minutes } } }] } as unknown as Partial<Judgement>)
  const said = open(90)
  const ok = decisionRows({
    'quiet-1': result('canary-1', { promoted: 0, held: 400, rolledBack: 0 }, {}, said),
    'quiet-2': result('canary-2', { promoted: 10, held: 390, rolledBack: 0 }, {}, said),
  })
  t.match(row(ok, 'D7a'), { measured: '0 of 800', result: 'PASS' })
  t.equal(row(ok, 'D7b').result, 'PASS')
  const bad = decisionRows({
    'quiet-1': result('canary-1', { promoted: 0, held: 399, rolledBack: 1 }, {}, open(null)),
    'quiet-2': result('canary-2', { promoted: 0, held: 400, rolledBack: 0 }, {}, said),
  })
  t.match(row(bad, 'D7a'), { measured: '1 of 800', result: 'FAIL' })
  t.match(row(bad, 'D7b'), { measured: '1 of 2', result: 'FAIL' }, 'one answer without minutes is a FAIL')
  t.match(row(ok, 'D7b'), { measured: '2 of 2', baseline: '0 say no decision comes at the current rates' })
  const never = decisionRows({ 'quiet-1': result('canary-1', { promoted: 0, held: 400, rolledBack: 0 }, {}, { signals: [{ name: 'job_failure_rate', rule: { decided: null, toDecide: null } }] } as unknown as Partial<Judgement>) })
  t.match(row(never, 'D7b'), { measured: '1 of 1', result: 'PASS', baseline: '1 say no decision comes at the current rates' }, 'no decision at the current rates is a statement')
  const silent = decisionRows({ 'quiet-1': result('canary-1', { promoted: 0, held: 400, rolledBack: 0 }, {}, { signals: [{ name: 'job_failure_rate', rule: { decided: null } }] } as unknown as Partial<Judgement>) })
  t.match(row(silent, 'D7b'), { measured: '0 of 1', result: 'FAIL' }, 'no projection at all is not')
})
