/**
 * The judge's part of the actions, pure: check signals (the policy-simulation catalog) fire
 * their trigger on any failed check, and a stage that requires an approval passes only when
 * the signals pass and a person approved.
 */
import t from 'tap'
import { parseGates } from '../../src/config/load.js'
import { parseObservations } from '../../src/sources/observations-file.js'
import { GateError } from '../../src/errors.js'
import type { CheckResult } from '../../src/gate/observations.js'
import { judge } from '../../src/gate/verdict.js'
import { healthy, obs } from '../helpers/policy.js'

const { policy } = parseGates(`rollout_gates:
  policy_simulation:
    scenarios:
      - { name: refund-denied, request: { topic: job.support.refund }, expect: deny }
  stages:
    canary-2:
      approval: {}
`, 'g.yaml')
const shadow = policy.stages.shadow as NonNullable<typeof policy.stages.shadow>
const canary2 = policy.stages['canary-2'] as NonNullable<typeof policy.stages['canary-2']>

const shadowSignals = (checks: CheckResult[]): ReturnType<typeof healthy> => ({
  policy_deny_rate: { canary: { n: 4000, k: 20 }, baseline: { n: 36000, k: 200 } },
  schema_violation_rate: { canary: { n: 4000, k: 0 }, baseline: { n: 36000, k: 20 } },
  job_failure_rate: { canary: { n: 3600, k: 40 }, baseline: { n: 32400, k: 380 } },
  policy_simulation: { canary: { total: checks.length, failed: checks.filter((c) => !c.ok).length, checks } },
})

t.test('check signals: the catalog adds a required signal and a hard trigger to its stages', async (t) => {
  t.ok(shadow.signals.some((s) => s.name === 'policy_simulation' && s.kind === 'check' && s.required))
  t.ok(shadow.triggers.some((x) => x.name === 'policy_simulation'))
  t.notOk(canary2.triggers.some((x) => x.name === 'policy_simulation'), 'only the catalog\'s stages')
  const ok = judge(shadow, obs(shadowSignals([{ name: 'refund-denied', ok: true, expected: 'deny', actual: 'deny' }])))
  t.equal(ok.verdict, 'pass')
  const bad = judge(shadow, obs(shadowSignals([{ name: 'refund-denied', ok: false, expected: 'deny', actual: 'allow', detail: 'rule allow-all' }])))
  t.equal(bad.verdict, 'fail')
  t.equal(bad.score, 0)
  t.match(bad.triggers.find((x) => x.name === 'policy_simulation'), { fired: true, evidence: 'policy simulation: 1 of 1 checks failed: refund-denied: expected deny, got allow (rule allow-all)' })
  const none = judge(shadow, obs(shadowSignals([])))
  t.equal(none.verdict, 'inconclusive', 'no checks run: never a pass')
  const missing = shadowSignals([])
  delete (missing as Record<string, unknown>).policy_simulation
  t.equal(judge(shadow, obs(missing)).verdict, 'inconclusive', 'no observation of the catalog: never a pass')
  t.notOk(parseGates('rollout_gates: {}\n', 'd.yaml').policy.signals.policy_simulation, 'without a catalog the default policy is unchanged')
})

t.test('approval: required, pending, approved, rejected; never asked of a failing canary', async (t) => {
  const good = healthy()
  const required = judge(canary2, obs(good))
  t.equal(required.verdict, 'inconclusive')
  t.same(required.reasonCodes, ['approval_required'])
  const pending = judge(canary2, obs(good, { approval: { status: 'pending', ref: 'appr-1', jobId: 'job-1' } }))
  t.equal(pending.verdict, 'inconclusive')
  t.same(pending.reasonCodes, ['approval_pending'])
  t.match(pending.reasons[0], /approval ref appr-1, job job-1/)
  t.match(pending.approval, { status: 'pending', ref: 'appr-1' })
  const approved = judge(canary2, obs(good, { approval: { status: 'approved', jobId: 'job-1' } }))
  t.equal(approved.verdict, 'pass')
  t.same(approved.reasonCodes, ['score_pass', 'approval_granted'])
  const rejected = judge(canary2, obs(good, { approval: { status: 'rejected', jobId: 'job-1', reason: 'not today' } }))
  t.equal(rejected.verdict, 'fail')
  t.match(rejected.reasons[0], /rejected the promotion .*not today/)
  const spike = healthy()
  spike.policy_deny_rate = { canary: { n: 4000, k: 400 }, baseline: { n: 36000, k: 200 } }
  const failing = judge(canary2, obs(spike, { approval: { status: 'approved' } }))
  t.equal(failing.verdict, 'fail', 'an approval never overrides a failing judgement')
  t.notOk(failing.reasonCodes.includes('approval_granted'))
  t.equal(judge(policy.stages['canary-1'] as typeof canary2, obs(good)).verdict, 'pass', 'a stage without approval is unaffected')
})

t.test('recorded observations carry check arms and approvals, checked like the rest', async (t) => {
  const text = JSON.stringify(obs(shadowSignals([{ name: 'refund-denied', ok: false, expected: 'deny', actual: 'allow' }]), { approval: { status: 'approved' } }))
  const parsed = parseObservations(text, 'o.json', policy)
  t.equal(judge(shadow, parsed).verdict, 'fail')
  const wrong = text.replace('"failed":1', '"failed":0')
  try {
    parseObservations(wrong, 'o.json', policy)
    t.fail('expected a refusal')
  } catch (err) {
    t.match((err as GateError).message, /signals.policy_simulation.canary.failed: failed \(0\) must equal the number of checks with ok: false/)
  }
})
