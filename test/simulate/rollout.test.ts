// The rollout simulator (src/simulate/): reproducible per seed, traffic whose means are the
// model's, observations in the shapes the Cordum source produces, and Argo's rules applied.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { defaultPolicy } from '../../src/config/load.js'
import { parseObservations } from '../../src/sources/observations-file.js'
import { templateMetric } from '../../src/simulate/analysis.js'
import { binomial, poisson, rng } from '../../src/simulate/random.js'
import { rolloutSeed, simulateRollout, simulateStage, T0_MS, type StageRun } from '../../src/simulate/rollout.js'
import { addTraffic, BASELINE_RATES, emptyCounts, observeSignal } from '../../src/simulate/traffic.js'

const { policy } = defaultPolicy()
const rules = templateMetric(readFileSync('analysis-templates/cluster-analysis-template.yaml', 'utf8'), 'cluster-analysis-template.yaml')
const BUSY = { decisionsPerMinute: 600, jobsPerMinute: 200 }

function run (over: Partial<StageRun> = {}): StageRun {
  return { stage: policy.stages['canary-1']!, weight: 10, rules, traffic: BUSY, canary: BASELINE_RATES, baseline: BASELINE_RATES, window: 'analysis', ...over }
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length
const variance = (xs: number[]): number => { const m = mean(xs); return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1) }

t.test('the same seed gives the same rollouts; another seed others', async (t) => {
  const r = run({ canary: { ...BASELINE_RATES, deny: 0.03 }, stage: policy.stages['canary-2']!, weight: 25, baseline: { ...BASELINE_RATES, overload: 0.005 } })
  const a = simulateStage(r, 12, 7)
  const b = simulateStage(r, 12, 7)
  t.same(a, b, 'seed 7 twice: identical summaries and per-rollout results')
  const c = simulateStage(r, 12, 8)
  t.not(JSON.stringify(c.results.map((x) => x.last.signals)), JSON.stringify(a.results.map((x) => x.last.signals)), 'seed 8 draws other counts')
  // A rollout's draws depend on its seed and index only: the first rollouts of a longer run are the shorter run's.
  t.same(simulateStage(r, 5, 7).results, a.results.slice(0, 5))
  t.not(rolloutSeed(7, 'canary-1', 0), rolloutSeed(7, 'canary-2', 0), 'stages draw independently')
})

t.test('random draws have the means and variances of their distributions', async (t) => {
  const random = rng(42)
  for (const m of [0.5, 6, 29, 60, 1500]) {
    const xs = Array.from({ length: 20_000 }, () => poisson(random, m))
    // Standard error of the mean sqrt(m / 20000): 5 of them is a failure that should never happen.
    t.ok(Math.abs(mean(xs) - m) < 5 * Math.sqrt(m / 20_000), `Poisson(${m}): mean ${mean(xs).toFixed(3)}`)
    t.ok(Math.abs(variance(xs) / m - 1) < 0.06, `Poisson(${m}): variance ${variance(xs).toFixed(2)}`)
    t.ok(xs.every((x) => Number.isInteger(x) && x >= 0), `Poisson(${m}): whole numbers >= 0`)
  }
  const ks = Array.from({ length: 20_000 }, () => binomial(random, 400, 0.02))
  t.ok(Math.abs(mean(ks) - 8) < 5 * Math.sqrt(8 * 0.98 / 20_000), `Binomial(400, 2%): mean ${mean(ks).toFixed(3)}`)
  t.equal(poisson(random, 0), 0)
})

t.test('traffic: each arm gets its weight of the events and its rates of hits', async (t) => {
  const random = rng(3)
  const canary = emptyCounts()
  const baseline = emptyCounts()
  const rates = { ...BASELINE_RATES, overload: 0.05 }
  const minutes = 2000
  for (let i = 0; i < minutes; i++) {
    addTraffic(canary, random, BUSY, 0.1, rates, 1, T0_MS)
    addTraffic(baseline, random, BUSY, 0.9, BASELINE_RATES, 1, T0_MS)
  }
  const near = (x: number, want: number, sd: number, what: string): void => { t.ok(Math.abs(x - want) < 5 * sd, `${what}: ${x} against ${want.toFixed(1)}`) }
  near(canary.decisions, 60 * minutes, Math.sqrt(60 * minutes), 'canary decisions')
  near(baseline.jobs, 180 * minutes, Math.sqrt(180 * minutes), 'baseline jobs')
  near(canary.denies, 0.01 * canary.decisions, Math.sqrt(0.01 * canary.decisions), 'canary denies')
  near(canary.hits.jobFailures, 0.02 * canary.jobs, Math.sqrt(0.02 * canary.jobs), 'canary job failures')
  near(canary.hits.overload, 0.05 * canary.jobs, Math.sqrt(0.05 * canary.jobs), 'canary overload')
  t.equal(baseline.hits.overload, 0, 'no overload where the rate is 0')
})

t.test("observations have the Cordum source's shapes and pass the observations format", async (t) => {
  const stage = policy.stages['canary-2']!
  const r = simulateRollout(run({ stage, weight: 25, canary: { ...BASELINE_RATES, overload: 0.01 }, baseline: { ...BASELINE_RATES, overload: 0.01 } }), 1)
  const overload = r.last.signals.find((s) => s.name === 'overload_rate')
  t.ok(overload !== undefined)
  // Rebuild what the judge was given at that look and check it against docs/observations.md's schema.
  const counts = { canary: emptyCounts(), baseline: emptyCounts() }
  const random = rng(1)
  for (let m = 0; m < 15; m++) {
    addTraffic(counts.canary, random, BUSY, 0.25, { ...BASELINE_RATES, overload: 0.01 }, 1, T0_MS + Math.floor(m / 5) * 300_000)
    addTraffic(counts.baseline, random, BUSY, 0.75, { ...BASELINE_RATES, overload: 0.01 }, 1, T0_MS + Math.floor(m / 5) * 300_000)
  }
  const window = { sinceMs: T0_MS, untilMs: T0_MS + 15 * 60_000, bucketMs: 300_000 }
  const signals = Object.fromEntries(['policy_deny_rate', 'job_failure_rate', 'overload_rate', 'approval_backlog'].map((n) => [n, observeSignal(n, counts, window, () => ({ canary: { pending: 1, oldestAgeSeconds: 30 }, baseline: { pending: 2, oldestAgeSeconds: 60 } }))]))
  const text = JSON.stringify({ window: { since: new Date(window.sinceMs).toISOString(), until: new Date(window.untilMs).toISOString() }, expectedWeight: 25, signals })
  const parsed = parseObservations(text, 'simulated.json', policy)
  const arm = parsed.signals.overload_rate?.canary as { n: number, k: number, buckets: { start: string, n: number, k: number }[] }
  t.same(arm.buckets.map((b) => b.start), ['2026-11-26T09:00:00.000Z', '2026-11-26T09:05:00.000Z', '2026-11-26T09:10:00.000Z'], 'three 5-minute buckets aligned to the epoch')
  t.equal(arm.buckets.reduce((s, b) => s + b.n, 0), arm.n, 'the buckets add up to the arm')
  t.equal(arm.buckets.reduce((s, b) => s + b.k, 0), arm.k)
})

t.test("Argo's rules end the simulated rollouts", async (t) => {
  const bad = simulateRollout(run({ canary: { ...BASELINE_RATES, deny: 0.5 } }), 1)
  t.match(bad, { outcome: 'rolled_back', minutes: 5, measurements: 1, decision: { outcome: 'rolled_back', minutes: 5 } }, 'a canary denying half its decisions is rolled back at the first look')
  t.equal(bad.last.verdict, 'fail')
  const clean = { ...BASELINE_RATES, deny: 0, jobFailures: 0, schemaViolations: 0 }
  const good = simulateRollout(run({ canary: clean, baseline: clean, traffic: { decisionsPerMinute: 60_000, jobsPerMinute: 20_000 } }), 1)
  t.match(good, { outcome: 'promoted', minutes: 15, measurements: 3 }, 'a spotless canary with plenty of traffic is promoted at the third look, the earliest')
  // Little traffic: the schedule runs out (held), and without decideWithinMinutes nothing more is measured.
  const slow = simulateRollout(run({ traffic: { decisionsPerMinute: 6, jobsPerMinute: 2 } }), 1)
  t.match(slow, { outcome: 'held', minutes: 60, measurements: 12, decision: { outcome: 'undecided', minutes: 60 } })
  // Window since the canary started: the earlier stretch's events are in the first look's window.
  const since = simulateRollout(run({ window: 'canary', before: [{ minutes: 60, weight: 10 }], traffic: { decisionsPerMinute: 6, jobsPerMinute: 2 } }), 1)
  t.ok(since.canaryDecisions > slow.canaryDecisions, `window since the canary: ${since.canaryDecisions} canary decisions, since the analysis: ${slow.canaryDecisions}`)
  t.match(since.last.window, { since: '2026-11-26T08:00:00.000Z' })
})

t.test('decideWithinMinutes: a held run goes on until the judge decides', async (t) => {
  // Two measurements at most: never three passes in a row, so a healthy canary is held at 10 minutes.
  const short = { ...rules, count: 2 }
  const r = run({ rules: short, decideWithinMinutes: 24 * 60 })
  const results = simulateStage(r, 5, 3).results
  t.ok(results.some((x) => x.outcome === 'held'), 'held runs to go on with')
  for (const x of results) {
    if (x.outcome === 'held') {
      t.ok(x.decision.minutes > 10, `a held run decides later (${x.decision.minutes} min, ${x.decision.outcome})`)
      t.ok(x.decision.canaryJobs > x.canaryJobs, 'with more events')
    } else {
      t.same(x.decision, { minutes: x.minutes, measurements: x.measurements, canaryDecisions: x.canaryDecisions, canaryJobs: x.canaryJobs, outcome: x.outcome })
    }
  }
  // The first 10 minutes are the same draws with or without going on.
  t.same(simulateStage(run({ rules: short }), 5, 3).results.map((x) => [x.outcome, x.minutes, x.canaryJobs]), results.map((x) => [x.outcome, x.minutes, x.canaryJobs]))
})

t.test('stages the model cannot produce are refused, naming the signal', async (t) => {
  const { policy: withProm } = (await import('../../src/config/load.js')).parseGates(readFileSync('analysis-templates/examples/gates-prometheus.yaml', 'utf8'), 'gates-prometheus.yaml')
  const stage = Object.values(withProm.stages).find((s) => s.signals.some((x) => x.source !== 'cordum'))
  t.ok(stage !== undefined)
  t.throws(() => simulateRollout(run({ stage: stage! }), 1), /reads .*which the simulator does not model/)
  t.throws(() => simulateRollout(run({ rules: { ...rules, count: null } }), 1), /has no count/)
})

t.test('stageRuns: the window rules place the earlier stages and the time before the canary', async (t) => {
  const { stageRuns } = await import('../../src/simulate/report.js')
  const spec = { policy, stages: ['canary-1', 'canary-2'], weights: { 'canary-1': 10, 'canary-2': 25 }, rules, traffic: BUSY, canary: BASELINE_RATES, baseline: BASELINE_RATES, decideWithinMinutes: 0 }
  t.same(stageRuns({ ...spec, window: 'analysis' }).map((r) => r.before), [undefined, undefined])
  // Earlier stages for their quickest promotion (3 passes: 15 minutes).
  t.same(stageRuns({ ...spec, window: 'canary' }).map((r) => r.before), [[], [{ minutes: 15, weight: 10 }]])
  // The service: canary_lifetime_hours (3 h) back from the first measurement (5 min in).
  t.same(stageRuns({ ...spec, window: 'lookback' }).map((r) => r.before), [[{ minutes: 175, weight: 0 }], [{ minutes: 160, weight: 0 }, { minutes: 15, weight: 10 }]])
  const looked = simulateRollout(stageRuns({ ...spec, window: 'lookback' })[0]!, 1)
  t.match(looked.last.window, { since: '2026-11-26T06:05:00.000Z' })
  t.ok(looked.last.reasonCodes.includes('traffic_split_mismatch'), 'three hours of baseline-only traffic put the canary\'s share far under its weight')
})
