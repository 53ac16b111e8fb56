/**
 * The score carries the evidence and agrees with the verdict (issue 15): a pass scores 95 or
 * more, a hold 75-94.9, a fail under 75; and more hits in the canary never raise it.
 */
import fc from 'fast-check'
import t from 'tap'
import { judge } from '../../src/gate/verdict.js'
import { healthy, obs, stage } from '../helpers/policy.js'
import { assertProperty } from '../helpers/property.js'

const arm = (maxN: number): fc.Arbitrary<{ n: number, k: number }> =>
  fc.integer({ min: 0, max: maxN }).chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 0, max: Math.min(n, Math.ceil(n / 10)) }) }))
const BANDS = { pass: [95, 100], inconclusive: [75, 94.9], fail: [0, 74.9] } as const

t.test('the score lies in its verdict\'s band, whatever the counts', async (t) => {
  const seen = new Set<string>()
  assertProperty(fc.property(arm(4000), arm(20000), arm(4000), arm(20000), fc.constantFrom('canary-1', 'canary-2'), (dc, db, jc, jb, name) => {
    const s = { ...healthy(), policy_deny_rate: { canary: dc, baseline: db }, job_failure_rate: { canary: jc, baseline: jb } }
    const j = judge(stage(name), obs(s))
    const [lo, hi] = BANDS[j.verdict]
    seen.add(j.verdict)
    if (!(j.score >= lo && j.score <= hi)) throw new Error(`${name} ${JSON.stringify({ dc, db, jc, jb })}: ${j.verdict} scored ${j.score}`)
  }), { numRuns: 300 })
  t.same([...seen].sort(), ['fail', 'inconclusive', 'pass'], 'every verdict was reached')
})

t.test('one more canary failure among the same jobs never raises the score', async (t) => {
  assertProperty(fc.property(fc.integer({ min: 50, max: 5000 }), fc.integer({ min: 0, max: 400 }), (n, k) => {
    const at = (hits: number): number => {
      const s = healthy()
      s.job_failure_rate = { canary: { n, k: Math.min(n, hits) }, baseline: { n: 9 * n, k: Math.round(0.02 * 9 * n) } }
      return judge(stage('canary-1'), obs(s)).score
    }
    if (k >= n) return
    if (at(k + 1) > at(k)) throw new Error(`n=${n}: ${k + 1} failures score ${at(k + 1)} > ${k} failures ${at(k)}`)
  }), { numRuns: 200 })
  t.pass('monotone in the effect')
})
