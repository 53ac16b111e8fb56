// Fixed-horizon sample sizes (src/simulate/horizon.ts): the normal approximations, checked
// against known values and, by simulation, against the power they promise.
import t from 'tap'
import { defaultPolicy } from '../../src/config/load.js'
import { fixedHorizon, normalQuantile, oneSampleN, twoProportionN } from '../../src/simulate/horizon.js'
import { binomial, rng } from '../../src/simulate/random.js'
import { BASELINE_RATES } from '../../src/simulate/traffic.js'

t.test('normal quantiles', async (t) => {
  t.ok(Math.abs(normalQuantile(0.95) - 1.6448536) < 1e-6)
  t.ok(Math.abs(normalQuantile(0.8) - 0.8416212) < 1e-6)
  t.ok(Math.abs(normalQuantile(0.001) + 3.0902323) < 1e-6, 'lower tail')
  t.ok(Math.abs(normalQuantile(0.999) - 3.0902323) < 1e-6, 'upper tail')
  t.throws(() => normalQuantile(1), /p in \(0, 1\)/)
})

t.test("one-sample: about 400 jobs to tell 2% from 4% at alpha 5%, power 80% (issue 15's audit)", async (t) => {
  const n = oneSampleN(0.04, 0.02, 0.05)
  t.ok(n > 380 && n < 400, `n = ${n.toFixed(1)}`)
  t.equal(oneSampleN(0.02, 0.02, 0.05), Infinity, 'no sample tells a rate from itself')
  t.ok(oneSampleN(0.01, 0.03, 0.05) < oneSampleN(0.02, 0.03, 0.05), 'further from the limit, fewer events')
})

t.test('the one-sample size has the power it promises (simulated z-tests)', async (t) => {
  const random = rng(11)
  for (const [p, limit] of [[0.04, 0.02], [0.05, 0.03], [0.01, 0.03]] as const) {
    const n = Math.ceil(oneSampleN(p, limit, 0.05))
    const z = normalQuantile(0.95)
    let rejected = 0
    const runs = 4000
    for (let i = 0; i < runs; i++) {
      const k = binomial(random, n, p)
      const stat = (k / n - limit) / Math.sqrt(limit * (1 - limit) / n)
      if (p > limit ? stat > z : stat < -z) rejected++
    }
    const power = rejected / runs
    t.ok(power > 0.74 && power < 0.87, `${p} against ${limit} at n = ${n}: power ${power.toFixed(3)} (0.8 promised; the normal approximation is rough at small rates)`)
  }
})

t.test('two-proportion: the baseline\'s own noise adds events, less the more baseline there is', async (t) => {
  const one = oneSampleN(0.02, 0.03, 0.05)
  const nine = twoProportionN(0.02, 0.02, 1.5, 9, 0.05)
  const huge = twoProportionN(0.02, 0.02, 1.5, 1e9, 0.05)
  t.ok(nine > one, `kappa 9: ${nine.toFixed(0)} > one-sample ${one.toFixed(0)}`)
  t.ok(Math.abs(huge - one) / one < 1e-6, 'an infinite baseline is a known rate: the one-sample size')
  t.ok(twoProportionN(0.02, 0.02, 1.5, 3, 0.05) > nine, 'a smaller baseline arm, more canary events')
})

t.test('fixedHorizon: the largest pass test promotes, the smallest fail test rolls back', async (t) => {
  const { policy } = defaultPolicy()
  const stage = policy.stages['canary-1']!
  const healthy = fixedHorizon(stage, BASELINE_RATES, BASELINE_RATES, 10)
  t.equal(healthy.decision, 'promote')
  t.ok(healthy.rules.every((r) => r.direction === 'pass'))
  t.equal(healthy.deciding?.n, Math.max(...healthy.rules.filter((r) => r.rule.startsWith('signal')).map((r) => r.n)), 'the slowest required pass decides')
  const deny = fixedHorizon(stage, { ...BASELINE_RATES, deny: 0.05 }, BASELINE_RATES, 10)
  t.equal(deny.decision, 'roll back')
  t.match(deny.deciding, { stream: 'decisions', direction: 'fail', rate: 0.05 })
  t.equal(deny.deciding?.n, Math.min(...deny.rules.filter((r) => r.direction === 'fail').map((r) => r.n)), 'the quickest failing rule decides')
})
