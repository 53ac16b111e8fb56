import t from 'tap'
import { defaultPolicy, parseGates } from '../../src/config/load.js'
import { decisionTimes, healthyRate, policyWarnings, timeToPass } from '../../src/gate/policy-check.js'

t.test('a ratio whose floor puts it at or over the absolute limit never binds: warned once per place', async (t) => {
  t.same(policyWarnings(defaultPolicy().policy), [], 'the shipped defaults have none')
  const { policy } = parseGates(`rollout_gates:
  signals:
    policy_deny_rate: { max_ratio: 1.5, floor: 0.02 }
  stages:
    canary-2:
      signals:
        job_failure_rate: { max_rate: 0.05, max_ratio: 3, floor: 0.02 }
      triggers:
        odd: { signal: overload_rate, max_rate: 0.01, max_ratio: 2, floor: 0.004 }
`, 'check.yaml')
  const w = policyWarnings(policy)
  t.equal(w.length, 2, w.join('\n'))
  t.match(w[0], /^signal policy_deny_rate: max_ratio 1\.5x x floor 2\.0% = 3\.0% is at or above max_rate 3\.0%/)
  t.match(w[1], /^stage canary-2, signal job_failure_rate: max_ratio 3x x floor 2\.0% = 6\.0% is at or above max_rate 5\.0%/)
  t.ok(!w.some((x) => /trigger odd/.test(x)), '2 x 0.4% = 0.8% is under 1%: the ratio can bind')
  const binding = parseGates('rollout_gates:\n  signals:\n    policy_deny_rate: { max_ratio: 1.4, floor: 0.02 }\n', 'ok.yaml').policy
  t.same(policyWarnings(binding), [], '1.4 x 2% = 2.8% binds under 3%')
})

t.test('time for a healthy canary to pass: monotone in traffic, and exactly the first minute the rule passes', async (t) => {
  const stage = defaultPolicy().policy.stages['canary-1']
  if (stage === undefined) throw new Error('canary-1')
  t.equal(healthyRate({ maxRatio: 2, floor: 0.02 }), 0.02, 'a comparative rule: both arms at the floor')
  t.equal(healthyRate({ maxRate: 0.03 }), 0.01, 'an absolute rule: a third of the limit')
  const busy = decisionTimes(stage, 600, 200, 10)
  const quiet = decisionTimes(stage, 60, 20, 10)
  t.same(busy.map((x) => [x.signal, x.stream]), [['policy_deny_rate', 'decisions'], ['job_failure_rate', 'jobs']])
  busy.forEach((b, i) => t.ok((b.minutes as number) < (quiet[i]?.minutes as number), `${b.signal}: ${b.minutes} min busy, ${quiet[i]?.minutes} quiet`))
  const limit = { maxRatio: 2, floor: 0.02 }
  const at = timeToPass(limit, 0.02, 20, 180, 0.05, 50)
  if (at === null) throw new Error('passes')
  t.equal(at.events, 20 * at.minutes)
  t.same(timeToPass(limit, 0.02, 20, 180, 0.05, 20 * at.minutes + 1)?.minutes, at.minutes + 1, 'the minimum events can hold it back a minute')
  t.equal(timeToPass({ maxRate: 0.03, floor: 0 }, 0.035, 20, 180, 0.05, 50), null, 'a canary over an absolute margin never passes')
  t.same(decisionTimes(stage, 600, 200, 10, { job_failure_rate: 0 })[1]?.rate, 0, '--rates overrides the assumption')
})
