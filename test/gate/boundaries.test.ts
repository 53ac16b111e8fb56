// Boundaries of the judge (issue 21), asserted on behaviour and numbers, never on wording:
// the minimum of data points at 49 / 50 / 51 canary events, a boundary crossing exactly at
// ln(1/alpha) (>=, not >), the alpha a rule spends (doubling it changes a decision), and the
// e-values against an independent computation (plain products of likelihood ratios instead of
// the judge's log-sum-exp).
import t from 'tap'
import { decide } from '../../src/gate/rule.js'
import { HARM, canaryShare, healthyMixture, lnMixture, lnRatioEvidence, PASS_RATE, type Mixture } from '../../src/gate/sequential.js'
import { judge } from '../../src/gate/verdict.js'
import { healthy, obs, stage } from '../helpers/policy.js'

/** The mixture likelihood ratio of k hits in n trials at p0, as a plain sum of products. */
function bernoulliLR (n: number, k: number, p0: number, mix: Mixture): number {
  let sum = 0
  mix.points.forEach((c, i) => {
    const p1 = p0 * c
    sum += (mix.weights[i] as number) * Math.pow(p1 / p0, k) * Math.pow((1 - p1) / (1 - p0), n - k)
  })
  return sum
}

/** The comparative test's ratio: the canary's kc of k hits, Binomial(k, theta(rho)), theta1 over theta0. */
function shareLR (nc: number, kc: number, nb: number, kb: number, rho0: number, mix: Mixture): number {
  const t0 = (rho0 * nc) / (rho0 * nc + nb)
  let sum = 0
  mix.points.forEach((c, i) => {
    const t1 = (rho0 * c * nc) / (rho0 * c * nc + nb)
    sum += (mix.weights[i] as number) * Math.pow(t1 / t0, kc) * Math.pow((1 - t1) / (1 - t0), kb)
  })
  return sum
}

t.test('e-values agree with an independent computation', async (t) => {
  for (const [n, k, p0] of [[50, 0, 0.03], [120, 1, 0.03], [200, 9, 0.03], [80, 6, 0.02], [150, 2, 0.05]] as const) {
    for (const [name, mix] of [['pass', PASS_RATE], ['harm', HARM]] as const) {
      const want = Math.log(bernoulliLR(n, k, p0, mix))
      t.ok(Math.abs(lnMixture(n, k, p0, mix) - want) < 1e-9, `${name}: ${k}/${n} at ${p0}: ${lnMixture(n, k, p0, mix)} = ${want}`)
    }
  }
  for (const [nc, kc, nb, kb, rho0] of [[300, 6, 2700, 54, 2], [600, 30, 5400, 108, 2], [250, 1, 750, 4, 1.5], [1000, 10, 9000, 180, 2]] as const) {
    for (const [name, mix] of [['pass', healthyMixture(rho0)], ['harm', HARM]] as const) {
      const want = Math.log(shareLR(nc, kc, nb, kb, rho0, mix))
      t.ok(Math.abs(lnRatioEvidence(nc, kc, nb, kb, rho0, mix) - want) < 1e-9, `${name}: ${kc}/${nc} vs ${kb}/${nb} at rho ${rho0}`)
    }
  }
  t.equal(canaryShare(2, 100, 900), 200 / 1100, 'theta(rho) = rho nc / (rho nc + nb)')
})

t.test('a boundary is crossed at ln(1/alpha) exactly: >=, not >', async (t) => {
  const limit = { floor: 0, maxRate: 0.03 }
  const harmful = { nc: 200, kc: 20, nb: 0, kb: 0 }
  const at = decide(harmful, limit, Number.POSITIVE_INFINITY)
  t.equal(decide(harmful, limit, at.harm).decided, 'harm', 'the harm e-value equal to the cut decides harm')
  t.equal(decide(harmful, limit, at.harm + 1e-9).decided, null, 'just under the cut decides nothing')
  const clean = { nc: 400, kc: 1, nb: 0, kb: 0 }
  const p = decide(clean, limit, Number.POSITIVE_INFINITY)
  t.ok(p.pass > 0 && p.harm < p.pass, 'a clean canary leans to pass')
  t.equal(decide(clean, limit, p.pass).decided, 'pass', 'the pass e-value equal to the cut decides pass')
  t.equal(decide(clean, limit, p.pass + 1e-9).decided, null, 'just under the cut decides nothing')
})

t.test('the alpha a rule spends: doubling it decides earlier', async (t) => {
  const limit = { floor: 0, maxRate: 0.03 }
  // The first n with no hits whose pass evidence reaches ln(1/0.10) but not ln(1/0.05).
  let n = 1
  while (decide({ nc: n, kc: 0, nb: 0, kb: 0 }, limit, Math.log(10)).decided !== 'pass') n++
  t.equal(decide({ nc: n, kc: 0, nb: 0, kb: 0 }, limit, Math.log(20)).decided, null, `at ${n} clean events alpha 0.10 passes and alpha 0.05 does not yet`)
  t.equal(decide({ nc: n - 1, kc: 0, nb: 0, kb: 0 }, limit, Math.log(10)).decided, null, 'and one event fewer, not even alpha 0.10')
  // Through the judge: the same counts under the stage's alpha.
  const s = stage('canary-1')
  let m = 50
  const judged = (events: number, alpha: number): string | undefined => {
    const signals = healthy()
    signals.policy_deny_rate = { canary: { n: events, k: 0 }, baseline: { n: 100 * events, k: events } }
    return judge({ ...s, alpha }, obs(signals)).signals.find((x) => x.name === 'policy_deny_rate')?.status
  }
  while (judged(m, 0.1) !== 'pass' && m < 2000) m++
  t.ok(m < 2000, `a clean deny rate passes at alpha 0.10 after ${m} events`)
  t.not(judged(m, 0.05), 'pass', 'the same counts do not pass at alpha 0.05')
})

t.test('the minimum of data points: 49 events are not judged, 50 and 51 are', async (t) => {
  const s = stage('canary-1')
  t.equal(s.minDataPoints, 50)
  const statusAt = (n: number): string | undefined => {
    const signals = healthy()
    // A deny rate far over its 3% limit: decided as soon as it may be judged.
    signals.policy_deny_rate = { canary: { n, k: Math.round(n * 0.3) }, baseline: { n: 9000, k: 90 } }
    return judge(s, obs(signals)).signals.find((x) => x.name === 'policy_deny_rate')?.status
  }
  t.equal(statusAt(49), 'insufficient', '49 events: insufficient')
  t.equal(statusAt(50), 'fail', '50 events: judged (fails)')
  t.equal(statusAt(51), 'fail', '51 events: judged (fails)')
  const passAt = (n: number): string | undefined => {
    const signals = healthy()
    signals.policy_deny_rate = { canary: { n, k: 0 }, baseline: { n: 9000, k: 90 } }
    return judge({ ...s, alpha: 0.5 }, obs(signals)).signals.find((x) => x.name === 'policy_deny_rate')?.status
  }
  t.equal(passAt(49), 'insufficient', 'a clean canary under the minimum is not passed, however loose alpha is')
  t.equal(passAt(50), 'pass', 'and is passed at the minimum when its evidence is there')
})
