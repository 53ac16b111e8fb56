/**
 * Cordum actions through the whole gate (HTTP, score service, actions, sandbox over loopback):
 * a fail starts exactly one rollback run however often and however concurrently it is asked;
 * an approval holds, passes or fails the stage; the shadow stage fails a candidate whose policy
 * simulation disagrees with the catalog.
 */
import t from 'tap'
import { parseGates } from '../../src/config/load.js'
import { GateError } from '../../src/errors.js'
import { field, parseDecision } from '../../src/actions/simulation.js'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { SANDBOX_ADMIN_KEY } from '../../src/sandbox/gateway.js'
import { gateFor, getJson, postJson, scoreUrl } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

const ROLLBACK = `rollout_gates:
  stages:
    canary-1:
      on_fail:
        workflow: wf-support-rollback
        input: { rollout: "{{rollout}}", revision: "{{revision}}" }
    canary-2:
      approval: { topic: job.gate.promotion }
    full:
      on_fail: { workflow: wf-support-rollback, dry_run: true }
`

// These tests ask the same question again and again to prove that repeated evaluations (Argo's
// retries, gate replicas) start one run and see approvals change: each request is evaluated.
const EVERY_REQUEST = { SCORE_REUSE_SECONDS: '0' }

const failing = { stage: 'canary-1', canary: 'support-agent-failing', baseline: BASELINE_AGENT, rollout: 'support-agent', namespace: 'prod', revision: 'rev-7' }

t.test('a fail starts exactly one rollback run: repeats, concurrent requests and 409s all get the same run id', async (t) => {
  const sandbox = await sandboxFor(t, { runCreateDelayMs: 150 })
  const { url } = await gateFor(t, sandbox, { gates: ROLLBACK, now: () => T0, env: EVERY_REQUEST })
  const answers = await Promise.all(Array.from({ length: 12 }, async () => await getJson(scoreUrl(url, failing))))
  t.ok(answers.every((a) => a.status === 200 && a.body.verdict === 'fail'), 'every answer is 200 fail')
  const runIds = new Set(answers.map((a) => a.body.actions.rollback.runId))
  t.equal(runIds.size, 1, `one run id in every answer (${[...runIds].join(', ')})`)
  t.equal(sandbox.actions.runs.size, 1, 'Cordum has exactly one run')
  t.ok(answers.some((a) => (a.body.actions.rollback.conflicts ?? 0) > 0), 'some requests met 409 RUN_IDEMPOTENCY_CONFLICT and waited for the run')
  const keys = new Set(answers.map((a) => a.body.actions.rollback.idempotencyKey))
  t.equal(keys.size, 1, 'one Idempotency-Key for the analysis')
  const run = [...sandbox.actions.runs.values()][0]
  t.match(run, { workflow_id: 'wf-support-rollback', dry_run: false, input: { rollout: 'support-agent', revision: 'rev-7' } }, 'the run got the templated input')

  const again = await getJson(scoreUrl(url, failing))
  t.equal(again.body.actions.rollback.runId, [...runIds][0], 'a later repeat replays the same run')
  t.equal(sandbox.actions.runs.size, 1)

  await getJson(scoreUrl(url, { ...failing, revision: 'rev-8' }))
  t.equal(sandbox.actions.runs.size, 2, 'a new revision is a new analysis: a second run')
  const dry = await getJson(scoreUrl(url, { ...failing, stage: 'full', canary: 'support-agent-failing' }))
  t.equal(dry.body.verdict, 'fail', 'the failing canary fails at full too')
  t.equal(sandbox.actions.runs.get(dry.body.actions.rollback.runId)?.dry_run, true, 'dry_run: true starts a dry run')
  const anonymous = await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-failing', baseline: BASELINE_AGENT }))
  t.match(anonymous.body.actions.rollback, { status: 'skipped', reason: /names no rollout/ }, 'no rollout named: no action, and the reason says why')

  const pass = await getJson(scoreUrl(url, { ...failing, canary: 'support-agent-healthy', revision: 'rev-9' }))
  t.equal(pass.body.verdict, 'pass')
  t.equal(pass.body.actions, undefined, 'a pass takes no action')

  const record = await getJson(`${url}/api/v1/decisions/${again.body.decisionId as string}`)
  t.equal(record.body.actions.rollback.runId, [...runIds][0], 'the run id is in the evidence')
})

t.test('rerun from a step, with the same key semantics', async (t) => {
  const sandbox = await sandboxFor(t, { runCreateDelayMs: 20 })
  const first = await postJson(`${sandbox.url}/api/v1/workflows/wf-support-rollback/runs`, { release: 'v1' }, { 'x-api-key': SANDBOX_ADMIN_KEY })
  const { url } = await gateFor(t, sandbox, {
    now: () => T0,
    env: EVERY_REQUEST,
    gates: `rollout_gates:\n  stages:\n    canary-1:\n      on_fail: { rerun: { run: "${first.body.run_id as string}", from_step: restore-stable } }\n`,
  })
  const a = await getJson(scoreUrl(url, failing))
  const b = await getJson(scoreUrl(url, failing))
  t.match(a.body.actions.rollback, { status: 'started', mode: 'rerun', rerunOf: first.body.run_id, fromStep: 'restore-stable' })
  t.equal(b.body.actions.rollback.runId, a.body.actions.rollback.runId, 'the repeat gets the same rerun')
  t.match(sandbox.actions.runs.get(a.body.actions.rollback.runId), { rerun_of: first.body.run_id, rerun_step: 'restore-stable' })
  t.equal(sandbox.actions.runs.size, 2, 'the original run and one rerun')
})

t.test('approval: held while pending, passes once approved, fails when rejected; never asked for a failing canary', async (t) => {
  const sandbox = await sandboxFor(t, { runCreateDelayMs: 20 })
  const { url } = await gateFor(t, sandbox, { gates: ROLLBACK, now: () => T0, env: EVERY_REQUEST })
  const q = { stage: 'canary-2', canary: 'support-agent-healthy', baseline: BASELINE_AGENT, rollout: 'support-agent', revision: 'rev-1' }
  const pending = await getJson(scoreUrl(url, q))
  t.equal(pending.body.verdict, 'inconclusive', 'pending: inconclusive (Argo pauses)')
  t.same(pending.body.reasonCodes, ['approval_pending'])
  t.match(pending.body.approval, { status: 'pending', ref: /^appr-/, jobId: /^sbx-sub-/ })
  t.match(pending.body.reasons[0], new RegExp(`waiting for a human.*approval ref ${pending.body.approval.ref as string}`), 'the reason names the approval ref')
  const again = await getJson(scoreUrl(url, q))
  t.equal(again.body.approval.jobId, pending.body.approval.jobId, 'asking again reuses the promotion job (body idempotency_key)')
  t.equal(sandbox.actions.jobs.size, 1, 'one promotion job in Cordum')
  const approved = await postJson(`${sandbox.url}/api/v1/approvals/${pending.body.approval.jobId as string}/approve`, { reason: 'dashboards look fine' }, { 'x-api-key': SANDBOX_ADMIN_KEY })
  t.equal(approved.status, 200)
  const pass = await getJson(scoreUrl(url, q))
  t.equal(pass.body.verdict, 'pass', 'approved: pass')
  t.same(pass.body.reasonCodes, ['score_pass', 'approval_granted'])

  const q2 = { ...q, revision: 'rev-2' }
  const held = await getJson(scoreUrl(url, q2))
  await postJson(`${sandbox.url}/api/v1/approvals/${held.body.approval.jobId as string}/reject`, { reason: 'not during the sale' }, { 'x-api-key': SANDBOX_ADMIN_KEY })
  const rejected = await getJson(scoreUrl(url, q2))
  t.equal(rejected.body.verdict, 'fail', 'rejected: fail')
  t.same(rejected.body.reasonCodes, ['approval_rejected'])
  t.match(rejected.body.reasons[0], /rejected the promotion.*not during the sale/)

  const bad = await getJson(scoreUrl(url, { ...q, canary: 'support-agent-overloaded', revision: 'rev-3' }))
  t.equal(bad.body.verdict, 'fail')
  t.equal(bad.body.approval, undefined, 'a failing canary is not put to a human')
  t.equal(sandbox.actions.jobs.size, 2, 'no promotion job for it')

  const anonymous = await getJson(scoreUrl(url, { stage: 'canary-2', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }))
  t.equal(anonymous.body.verdict, 'inconclusive', 'no rollout named: no approval can be keyed, so the stage holds')
  t.same(anonymous.body.reasonCodes, ['approval_required'])
})

const CATALOG = (extra: string): string => `rollout_gates:
  policy_simulation:
${extra}    scenarios:
      - name: refund-over-limit-is-denied
        request: { topic: job.support.refund, risk_tags: [over-limit], labels: { agent_id: "{{canary}}" } }
        expect: deny
      - name: large-refund-needs-a-human
        request: { topic: job.support.refund, risk_tags: [high-value] }
        expect: require_approval
      - name: ordinary-reply-is-allowed
        request: { topic: job.support.reply }
        expect: allow
`

t.test('shadow stage: the catalog agrees with the live policy; a candidate bundle that disagrees fails it', async (t) => {
  const sandbox = await sandboxFor(t)
  const shadow = { stage: 'shadow', canary: 'support-agent-healthy', baseline: BASELINE_AGENT, rollout: 'support-agent', revision: 'rev-1' }
  const live = await gateFor(t, sandbox, { gates: CATALOG(''), now: () => T0 })
  const ok = await getJson(scoreUrl(live.url, shadow))
  t.equal(ok.body.verdict, 'pass', 'the live policy gives every expected decision')
  t.match(ok.body.triggers.find((x: any) => x.name === 'policy_simulation'), { fired: false, evaluated: true, evidence: /all 3 checks/ })
  t.match(ok.body.signals.find((s: any) => s.name === 'policy_simulation'), { kind: 'check', status: 'pass', canary: { total: 3, failed: 0 } })
  const calls = sandbox.stats.count('/api/v1/policy/simulate')
  t.equal(calls, 3, 'one simulate call per scenario')
  await getJson(scoreUrl(live.url, shadow))
  t.equal(sandbox.stats.count('/api/v1/policy/simulate'), calls, 'the result is cached for the same bundle and catalog')

  const candidate = await gateFor(t, sandbox, { gates: CATALOG('    bundle: sandbox-policy-2\n'), now: () => T0 })
  const bad = await getJson(scoreUrl(candidate.url, shadow))
  t.equal(bad.body.verdict, 'fail', 'the candidate bundle fails the shadow stage')
  t.same(bad.body.reasonCodes, ['trigger_fired'])
  const trigger = bad.body.triggers.find((x: any) => x.name === 'policy_simulation')
  t.match(trigger, { fired: true, evidence: /1 of 3 checks failed: refund-over-limit-is-denied: expected deny, got allow \(rule allow-refund-over-limit/ }, 'per-scenario evidence')
  t.equal(sandbox.stats.count('/api/v1/policy/bundles/sandbox-policy-2/simulate'), 3, 'asked through the bundle simulate route')
  const record = await getJson(`${candidate.url}/api/v1/decisions/${bad.body.decisionId as string}`)
  t.match(record.body.observations.signals.policy_simulation.canary.checks, [{ name: 'refund-over-limit-is-denied', ok: false, expected: 'deny', actual: 'allow' }, { ok: true }, { ok: true }], 'the evidence keeps every scenario')

  const dry = await gateFor(t, sandbox, { gates: 'rollout_gates:\n  policy_simulation:\n    workflows: [wf-support-release, wf-support-release-refunds]\n', now: () => T0 })
  const wf = await getJson(scoreUrl(dry.url, shadow))
  t.equal(wf.body.verdict, 'fail', 'a workflow whose dry-run has a DENY step fails the stage')
  t.match(wf.body.triggers.find((x: any) => x.name === 'policy_simulation').evidence, /workflow wf-support-release-refunds dry-run: expected no DENY or ERROR step, got smoke test: large refund: DENY/)

  sandbox.faults.add({ route: '/api/v1/policy/simulate', fault: { kind: 'status', status: 500 } })
  const fresh = await gateFor(t, sandbox, { gates: CATALOG('    cache_seconds: 0\n'), now: () => T0 })
  const down = await getJson(scoreUrl(fresh.url, shadow))
  t.equal(down.status, 503, 'simulation failing upstream: 503, never a pass')
  t.equal(down.body.code, 'GATE_ERR_UPSTREAM_STATUS')
})

t.test('decisions of both key casings and prefixes', async (t) => {
  t.equal(parseDecision('DECISION_TYPE_DENY'), 'deny')
  t.equal(parseDecision('DECISION_TYPE_REQUIRE_HUMAN'), 'require_approval')
  t.equal(parseDecision('REQUIRE_APPROVAL'), 'require_approval')
  t.equal(parseDecision('allow'), 'allow')
  t.equal(parseDecision('DECISION_TYPE_ALLOW_WITH_CONSTRAINTS'), 'allow_with_constraints')
  t.equal(parseDecision('DECISION_TYPE_UNSPECIFIED'), 'unknown')
  t.equal(parseDecision(3), 'unknown')
  t.equal(field({ ruleId: 'a' }, 'ruleId'), 'a')
  t.equal(field({ rule_id: 'b' }, 'ruleId'), 'b')
  t.equal(field({ stepName: 's' }, 'stepName'), 's')
})

t.test('gates policy: actions are checked with located errors', async (t) => {
  const refuse = (yaml: string): string[] => {
    try {
      parseGates(yaml, 'g.yaml')
    } catch (err) {
      return ((err as GateError).details as { line: number, path: string, message: string }[]).map((e) => `${e.line}:${e.path}: ${e.message}`)
    }
    throw new Error('expected a refusal')
  }
  t.match(refuse('rollout_gates:\n  stages:\n    canary-1:\n      on_fail: { workflow: wf, rerun: { run: r, from_step: s } }\n'), ['4:rollout_gates.stages.canary-1.on_fail: on_fail needs exactly one of workflow (start a run) or rerun (rerun a run from a step)'])
  t.match(refuse('rollout_gates:\n  stages:\n    canary-1:\n      on_fail: { workflow: wf, input: { x: "{{revison}}" } }\n'), [/4:rollout_gates.stages.canary-1.on_fail.input.x: unknown placeholder '\{\{revison\}\}'; did you mean '\{\{revision\}\}'/])
  t.match(refuse('rollout_gates:\n  policy_simulation:\n    stages: [shadoww]\n    workflows: [w]\n'), [/rollout_gates.policy_simulation.stages.0: unknown stage 'shadoww'; did you mean 'shadow'/])
  t.match(refuse('rollout_gates:\n  policy_simulation:\n    scenarios:\n      - { name: a, request: { topic: support.reply }, expect: allow }\n'), [/rollout_gates.policy_simulation.scenarios.0.request.topic: must match pattern/])
  t.match(refuse('rollout_gates:\n  policy_simulation:\n    scenarios:\n      - { name: a, request: { topic: job.a }, expect: alow }\n'), [/expect: must be one of/])
  t.match(refuse('rollout_gates:\n  policy_simulation: {}\n'), [/policy_simulation needs scenarios or workflows/])
  t.match(refuse('rollout_gates:\n  stages:\n    canary-2:\n      approval: { topic: promotion }\n'), [/approval.topic: must match pattern/])
  const ok = parseGates(ROLLBACK, 'g.yaml').policy
  t.match(ok.stages['canary-1']?.onFail, { mode: 'run', workflow: 'wf-support-rollback', dryRun: false })
  t.match(ok.stages['canary-2']?.approval, { topic: 'job.gate.promotion', riskTags: ['promotion'] })
})
