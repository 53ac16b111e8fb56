/**
 * Simulated analysis runs: 2,000 runs of 12 looks each over a growing window, judged at every
 * look as Argo would ask. Seeded, so the figures are reproducible.
 */
import t from 'tap'
import type { SignalObservation } from '../../src/gate/observations.js'
import { judge, type Verdict } from '../../src/gate/verdict.js'
import { binomial, rng } from '../helpers/random.js'
import { obs, stage } from '../helpers/policy.js'

interface Arm { decisionsPerLook: number, denyRate: number, jobsPerLook: number, failureRate: number }
interface Outcome { everFailed: number, failedByEnd: number, passedByEnd: number, everPassed: number, runs: number }

function simulate (seed: number, canary: Arm, baseline: Arm, runs = 2000, looks = 12): Outcome {
  const random = rng(seed)
  const st = stage('canary-1')
  const out: Outcome = { everFailed: 0, failedByEnd: 0, passedByEnd: 0, everPassed: 0, runs }
  for (let r = 0; r < runs; r++) {
    const c = { dn: 0, dk: 0, jn: 0, jk: 0 }
    const b = { dn: 0, dk: 0, jn: 0, jk: 0 }
    let failed = false
    let passed = false
    let last: Verdict = 'inconclusive'
    for (let look = 0; look < looks; look++) {
      for (const [acc, arm] of [[c, canary], [b, baseline]] as const) {
        acc.dn += arm.decisionsPerLook
        acc.dk += binomial(random, arm.decisionsPerLook, arm.denyRate)
        acc.jn += arm.jobsPerLook
        acc.jk += binomial(random, arm.jobsPerLook, arm.failureRate)
      }
      const signals: Record<string, SignalObservation> = {
        policy_deny_rate: { canary: { n: c.dn, k: c.dk }, baseline: { n: b.dn, k: b.dk } },
        job_failure_rate: { canary: { n: c.jn, k: c.jk }, baseline: { n: b.jn, k: b.jk } },
        approval_backlog: { canary: { pending: 1, oldestAgeSeconds: 60 } },
      }
      last = judge(st, obs(signals, { expectedWeight: 10 })).verdict
      if (last === 'fail') failed = true
      if (last === 'pass') passed = true
      // Argo aborts on the first fail: the run is over.
      if (failed) break
    }
    if (failed) out.everFailed++
    if (last === 'fail') out.failedByEnd++
    if (last === 'pass') out.passedByEnd++
    if (passed) out.everPassed++
  }
  return out
}

const pct = (x: number, of: number): string => `${((100 * x) / of).toFixed(1)}%`
// 10% canary weight: the baseline sees nine times the canary's traffic.
const arm = (decisions: number, deny: number, jobs: number, failure: number): Arm => ({ decisionsPerLook: decisions, denyRate: deny, jobsPerLook: jobs, failureRate: failure })
const stable = arm(3600, 0.01, 3150, 0.02)

t.test('no regression: at most 5% of runs ever fail', async (t) => {
  const o = simulate(1, arm(400, 0.01, 350, 0.02), stable)
  t.comment(`no regression (deny 1%, failures 2%): ever failed ${pct(o.everFailed, o.runs)}, passed by the last look ${pct(o.passedByEnd, o.runs)}`)
  t.ok(o.everFailed / o.runs <= 0.05, `${o.everFailed} of ${o.runs} runs failed at some look`)
  // Showing "within 1.5x of a 2% baseline" takes about 4,000 canary jobs, so roughly half the
  // runs are still held (inconclusive, never failed) after 4,200: that is the honest price of
  // a bound valid at every look. At a 1% failure rate the same volume is ample:
  const low = simulate(11, arm(400, 0.01, 350, 0.01), arm(3600, 0.01, 3150, 0.01))
  t.comment(`no regression (deny 1%, failures 1%): ever failed ${pct(low.everFailed, low.runs)}, passed by the last look ${pct(low.passedByEnd, low.runs)}`)
  t.ok(low.everFailed / low.runs <= 0.05, `${low.everFailed} of ${low.runs} runs failed at some look`)
  t.ok(low.passedByEnd / low.runs >= 0.9, `a healthy canary passes by the last look in ${pct(low.passedByEnd, low.runs)} of runs`)
})

t.test('deny rate 8%: at least 95% of runs fail by the last look', async (t) => {
  const o = simulate(2, arm(400, 0.08, 350, 0.02), stable)
  t.comment(`deny 8%: failed ${pct(o.everFailed, o.runs)}, ever passed ${pct(o.everPassed, o.runs)}`)
  t.ok(o.everFailed / o.runs >= 0.95, `${o.everFailed} of ${o.runs} failed`)
  t.equal(o.everPassed, 0, 'no run passed on the way')
})

t.test('error rate 3x baseline: at least 95% of runs fail by the last look', async (t) => {
  const o = simulate(3, arm(400, 0.01, 350, 0.06), stable)
  t.comment(`error rate 3x: failed ${pct(o.everFailed, o.runs)}, ever passed ${pct(o.everPassed, o.runs)}`)
  t.ok(o.everFailed / o.runs >= 0.95, `${o.everFailed} of ${o.runs} failed`)
  t.equal(o.everPassed, 0, 'no run passed on the way')
})

t.test('a canary that never reaches 50 events is never passed', async (t) => {
  // 4 decisions and 3 jobs per look: 48 and 36 events after 12 looks.
  const o = simulate(4, arm(4, 0.01, 3, 0.02), arm(36, 0.01, 27, 0.02))
  t.comment(`too little data: ever passed ${pct(o.everPassed, o.runs)}, ever failed ${pct(o.everFailed, o.runs)}`)
  t.equal(o.everPassed, 0, 'never pass')
  t.ok(o.everFailed / o.runs <= 0.05, 'and healthy-but-small runs are not failed either')
})
