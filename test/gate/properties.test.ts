import fc from 'fast-check'
import t from 'tap'
import type { SignalObservation } from '../../src/gate/observations.js'
import { rateBound } from '../../src/gate/stats.js'
import { judge, type Verdict } from '../../src/gate/verdict.js'
import { obs, stage } from '../helpers/policy.js'

const counts = fc.integer({ min: 0, max: 5000 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n })))
const alpha = fc.double({ min: 0.001, max: 0.5, noNaN: true })

t.test('bounds lie in [0, 1] around the estimate', async (t) => {
  fc.assert(fc.property(counts, alpha, ([n, k], a) => {
    const b = rateBound(n, k, a)
    return b.lower >= 0 && b.upper <= 1 && b.lower <= b.rate && b.rate <= b.upper
  }), { numRuns: 2000 })
  t.pass('2000 random (n, k, alpha)')
})

t.test('more hits move both bounds up; more events with the same hits move them down', async (t) => {
  fc.assert(fc.property(counts.filter(([n, k]) => k < n), alpha, ([n, k], a) => {
    const b = rateBound(n, k, a)
    const moreHits = rateBound(n, k + 1, a)
    const moreEvents = rateBound(n + 1, k, a)
    return moreHits.lower >= b.lower && moreHits.upper >= b.upper &&
      moreEvents.lower <= b.lower && moreEvents.upper <= b.upper
  }), { numRuns: 2000 })
  t.pass('2000 random (n, k, alpha)')
})

t.test('four times the data at the same rate gives a narrower bound', async (t) => {
  fc.assert(fc.property(counts.filter(([n]) => n > 0), alpha, ([n, k], a) => {
    const b = rateBound(n, k, a)
    const more = rateBound(4 * n, 4 * k, a)
    return more.upper - more.lower < b.upper - b.lower
  }), { numRuns: 1000 })
  t.pass('1000 random (n, k, alpha)')
})

// Random observations for every signal the default stages read.
const rateArm = counts.map(([n, k]) => ({ n, k }))
const bucketed = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 8 }).chain((ks) =>
  fc.integer({ min: 0, max: 400 }).map((extra) => {
    const buckets = ks.map((k, i) => ({ start: new Date(Date.UTC(2026, 10, 26, 10, 5 * i)).toISOString(), n: k + 40, k }))
    const n = buckets.reduce((s, b) => s + b.n, 0) + extra
    return { n, k: ks.reduce((a, b) => a + b, 0), buckets }
  }))
const backlog = fc.record({ pending: fc.integer({ min: 0, max: 40 }), oldestAgeSeconds: fc.integer({ min: 0, max: 4000 }) })
const observations = fc.record({
  policy_deny_rate: fc.record({ canary: rateArm, baseline: rateArm }),
  job_failure_rate: fc.record({ canary: rateArm, baseline: fc.option(rateArm, { nil: undefined }) }),
  overload_rate: fc.record({ canary: bucketed, baseline: rateArm }),
  approval_backlog: fc.record({ canary: backlog }),
}).map((o) => JSON.parse(JSON.stringify(o)) as Record<string, SignalObservation>)

const RANK: Record<Verdict, number> = { fail: 0, inconclusive: 1, pass: 2 }

/** The canary gets worse on one signal: more hits (same events), a larger backlog, more overload. */
function worsen (o: Record<string, SignalObservation>, which: number, amount: number): Record<string, SignalObservation> {
  const w = structuredClone(o)
  const names = ['policy_deny_rate', 'job_failure_rate', 'overload_rate', 'approval_backlog']
  const name = names[which % names.length] as string
  const c = w[name]?.canary as unknown as Record<string, number> & { buckets?: { n: number, k: number }[] }
  if (name === 'approval_backlog') {
    c.pending = (c.pending ?? 0) + amount
    c.oldestAgeSeconds = (c.oldestAgeSeconds ?? 0) + amount * 60
  } else if (c.buckets !== undefined && c.buckets.length > 0) {
    const b = c.buckets[amount % c.buckets.length] as { n: number, k: number }
    const add = Math.min(amount, b.n - b.k)
    b.k += add
    c.k = (c.k ?? 0) + add
  } else {
    c.k = Math.min(c.n ?? 0, (c.k ?? 0) + amount)
  }
  return w
}

t.test('the verdict never improves when the canary gets worse', async (t) => {
  for (const name of ['canary-1', 'canary-2', 'full']) {
    const st = stage(name)
    fc.assert(fc.property(observations, fc.nat(3), fc.integer({ min: 1, max: 400 }), fc.option(fc.integer({ min: 1, max: 99 }), { nil: undefined }), (o, which, amount, weight) => {
      const before = judge(st, obs(o, weight === undefined ? {} : { expectedWeight: weight }))
      const after = judge(st, obs(worsen(o, which, amount), weight === undefined ? {} : { expectedWeight: weight }))
      return RANK[after.verdict] <= RANK[before.verdict] && after.score <= before.score
    }), { numRuns: 700 })
    t.pass(`${name}: 700 random observations, each made worse on one signal`)
  }
})

t.test('verdicts agree with their evidence', async (t) => {
  const st = stage('canary-2')
  fc.assert(fc.property(observations, (o) => {
    const j = judge(st, obs(o))
    const fired = j.triggers.some((x) => x.fired)
    if (j.score < 0 || j.score > 100) return false
    if (j.verdict === 'pass') {
      return !fired && j.score >= 95 && j.signals.every((s) => !s.required || (s.status !== 'insufficient' && s.status !== 'unavailable')) && j.dataPoints.min >= 50
    }
    if (j.verdict === 'fail') return fired ? j.score === 0 : j.signals.some((s) => s.status === 'fail')
    return !fired
  }), { numRuns: 2000 })
  t.pass('2000 random observations')
})
