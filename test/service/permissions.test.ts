/**
 * The Cordum permission check: what a refused read costs each stage (pure), that the map of
 * reads agrees with what the Cordum source really reads (a viewer key against the sandbox
 * leaves exactly the mapped signals unavailable), the gate as a user meets it (one warning per
 * refused read before it listens, /readyz ready with `degraded`), the re-checks, and the
 * role table of docs/cordum.md.
 */
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { readConfig } from '../../src/config/env.js'
import { defaultPolicy, parseGates } from '../../src/config/load.js'
import { GateError } from '../../src/errors.js'
import { buildServer } from '../../src/http/server.js'
import { SANDBOX_ADMIN_KEY, SANDBOX_VIEWER_KEY } from '../../src/sandbox/gateway.js'
import { CORDUM_READS, readsFor, type Refusal } from '../../src/sources/cordum/permissions.js'
import { CordumSource } from '../../src/sources/cordum/source.js'
import { cordumSignals, degradation, describe, PermissionCheck } from '../../src/service/permissions.js'
import { policy, request, sandboxFor, specs, T0 } from '../helpers/sandbox.js'

const read = (endpoint: string): Refusal => ({ read: CORDUM_READS.find((r) => r.endpoint === endpoint) as Refusal['read'], reason: 'forbidden: requires role admin' })

t.test('what a refused read costs each stage of the default policy', async (t) => {
  t.same(cordumSignals(policy), ['approval_backlog', 'job_failure_rate', 'overload_rate', 'policy_deny_rate', 'schema_violation_rate'])
  const approvals = degradation(policy, read('/api/v1/approvals'))
  t.match(approvals, { endpoint: 'GET /api/v1/approvals', role: 'admin', permission: 'jobs.approve', signals: ['approval_backlog'], blockedStages: ['canary-1', 'canary-2', 'full'], weakenedStages: [] },
    'every live stage has the approval_backlog trigger: none can pass')
  const dlq = degradation(policy, read('/api/v1/dlq/page'))
  t.same(dlq.signals, ['overload_rate', 'schema_violation_rate'])
  t.same(dlq.blockedStages, ['shadow', 'canary-2', 'full'], 'the shadow stage\'s schema trigger, the live stages\' overload ratio')
  t.equal(describe(approvals),
    'Cordum refuses the gate\'s key GET /api/v1/approvals, which needs role admin (permission jobs.approve): approval_backlog is unavailable, so stages canary-1, canary-2 and full cannot pass (inconclusive at best). Give CORDUM_API_KEY role admin in Cordum, or read this signal from Prometheus (docs/sources.md)')

  // canary-1 without its backlog trigger: there the backlog is only an optional, scored signal.
  const optional = parseGates(`rollout_gates:
  stages:
    canary-1:
      triggers:
        approval_backlog: { enabled: false }
`, 'optional.yaml').policy
  const weak = degradation(optional, read('/api/v1/approvals'))
  t.same(weak.weakenedStages, ['canary-1'], 'an optional signal only weakens the stage')
  t.same(weak.blockedStages, ['canary-2', 'full'])
  t.match(describe(weak), /stage canary-1 scores without it/)
})

t.test('the map of reads is what the Cordum source reads: a viewer key loses exactly the mapped signals', async (t) => {
  const sb = await sandboxFor(t)
  const names = cordumSignals(policy)
  for (const key of [SANDBOX_VIEWER_KEY, SANDBOX_ADMIN_KEY]) {
    const source = new CordumSource({ url: sb.url, apiKey: key, now: () => T0 })
    t.teardown(async () => await source.close())
    const refused = await source.refusedReads(names, AbortSignal.timeout(5_000))
    const lost = new Set(refused.flatMap((r) => r.read.signals))
    const observed = await source.observe(request('support-agent-healthy'), specs(...names), AbortSignal.timeout(8_000))
    const unavailable = names.filter((n) => observed[n]?.unavailable !== undefined)
    t.same(unavailable, names.filter((n) => lost.has(n)), `${key}: the signals the source reports unavailable (${unavailable.join(', ') || 'none'}) are the ones the refused reads map to`)
    if (key === SANDBOX_VIEWER_KEY) t.same(refused.map((r) => r.read.endpoint), ['/api/v1/approvals', '/api/v1/dlq/page'], 'a viewer may read the jobs list and the decision log only')
    else t.same(refused, [], 'an admin may read everything')
  }
  t.same(readsFor(['policy_deny_rate']).map((r) => r.endpoint), ['/api/v1/governance/decisions'], 'only the reads the signals need are probed')
})

async function gateWith (t: Test, key: string): Promise<{ said: () => any[], gate: Awaited<ReturnType<typeof buildServer>> }> {
  const sb = await sandboxFor(t)
  const lines: string[] = []
  const gate = await buildServer(readConfig({ CORDUM_URL: sb.url, CORDUM_API_KEY: key, LOG_LEVEL: 'info', EVIDENCE_URL: 'none' }), { now: () => T0, logStream: { write: (l: string) => { lines.push(l) } }, underPressure: false })
  t.teardown(async () => await gate.app.close())
  return { gate, said: () => lines.map((l) => JSON.parse(l)) }
}

t.test('a viewer key: one warning per refused read, and /readyz ready but degraded, naming them', async (t) => {
  const { gate, said } = await gateWith(t, SANDBOX_VIEWER_KEY)
  t.ok(gate.permissions !== undefined, 'a gate reading Cordum checks its key')
  t.same((await gate.app.inject({ url: '/readyz' })).json().degraded, undefined, 'nothing is claimed before the check')
  await gate.permissions?.run()
  const warnings = said().filter((l) => l.level === 40)
  t.same(warnings.map((w) => w.endpoint), ['GET /api/v1/approvals', 'GET /api/v1/dlq/page'], 'one warning per refused read')
  for (const w of warnings) t.match(w.msg, /^Cordum refuses the gate's key GET \S+, which needs role admin \(permission [a-z.]+\): .+ unavailable, so stages .+ cannot pass \(inconclusive at best\)\. Give CORDUM_API_KEY role admin/)
  t.notOk(said().some((l) => JSON.stringify(l).includes(SANDBOX_VIEWER_KEY)), 'the key itself is never logged')
  const ready = await gate.app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200, 'ready: the gate answers (never a pass it cannot back)')
  const body = ready.json()
  t.equal(body.status, 'ready')
  t.same(body.degraded.map((d: { endpoint: string, role: string, signals: string[] }) => [d.endpoint, d.role, d.signals]), [
    ['GET /api/v1/approvals', 'admin', ['approval_backlog']],
    ['GET /api/v1/dlq/page', 'admin', ['overload_rate', 'schema_violation_rate']],
  ])
  const score = await gate.app.inject({ url: '/api/v1/score?stage=canary-1&canary=support-agent-healthy&baseline=support-agent-stable' })
  t.match(score.json(), { verdict: 'inconclusive', reasonCodes: ['source_unavailable'] }, 'as the warning said: canary-1 cannot pass')

  await gate.permissions?.run()
  t.equal(said().filter((l) => l.level === 40).length, 2, 'a re-check that finds the same says nothing again')
})

t.test('an admin key: no warning, one line saying so, /readyz without degraded', async (t) => {
  const { gate, said } = await gateWith(t, SANDBOX_ADMIN_KEY)
  await gate.permissions?.run()
  t.same(said().filter((l) => l.level >= 40), [])
  t.ok(said().some((l) => l.msg === 'the Cordum key may read everything the gates policy needs'))
  t.notOk('degraded' in (await gate.app.inject({ url: '/readyz' })).json())
})

t.test('re-checks: a role granted clears the warning; Cordum down at start is tried again, said once', async (t) => {
  const logged: { level: string, obj: any, msg: string }[] = []
  const log = Object.fromEntries(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((level) => [level, (obj: any, msg: string) => { logged.push({ level, obj, msg }) }])) as any
  const answers: (Refusal[] | Error)[] = [new GateError('GATE_ERR_UPSTREAM_UNREACHABLE', 'Cordum is unreachable'), new GateError('GATE_ERR_UPSTREAM_UNREACHABLE', 'Cordum is unreachable'), [read('/api/v1/approvals')], []]
  const check = new PermissionCheck({ policy, log, probe: async () => { const a = answers.shift() as Refusal[] | Error; if (a instanceof Error) throw a; return a } })
  t.teardown(() => check.stop())
  await check.run()
  await check.run()
  t.same(logged.map((l) => l.level), ['warn', 'debug'], 'unreachable: said once as a warning, then quietly')
  t.equal(check.degraded, undefined, 'nothing known yet')
  await check.run()
  t.same(check.degraded?.map((d) => d.endpoint), ['GET /api/v1/approvals'])
  await check.run()
  t.same(check.degraded, [], 'granted in Cordum: no longer degraded')
  t.match(logged.at(-1), { level: 'info', msg: /now lets the gate's key read GET \/api\/v1\/approvals: approval_backlog can be measured again/ })
})

t.test('a policy that reads nothing from Cordum checks nothing', async (t) => {
  const prom = parseGates(readFileSync(new URL('../../analysis-templates/examples/gates-prometheus.yaml', import.meta.url), 'utf8'), 'gates-prometheus.yaml').policy
  t.same(cordumSignals(prom), [])
  let asked = 0
  const check = new PermissionCheck({ policy: prom, log: defaultLog(), probe: async () => { asked++; return [] } })
  await check.run()
  t.equal(asked, 0)
})

t.test('docs/cordum.md says which role each signal needs, as the map does', async (t) => {
  const readme = readFileSync(new URL('../../docs/cordum.md', import.meta.url), 'utf8')
  const order = ['viewer', 'admin']
  for (const signal of cordumSignals(defaultPolicy().policy)) {
    const reads = readsFor([signal])
    const role = reads.map((r) => r.role).sort((a, b) => order.indexOf(b) - order.indexOf(a))[0]
    const row = new RegExp(`^\\| \`${signal}\` \\| (.+) \\| \`(\\w+)\` \\|$`, 'm').exec(readme)
    t.ok(row !== null, `${signal} has a row in docs/cordum.md's role table`)
    t.equal(row?.[2], role, `${signal}: role ${String(role)}`)
    for (const r of reads) t.match(row?.[1], `\`GET ${r.endpoint}\` (\`${r.permission}\`)`, `${signal}: names ${r.endpoint} and ${r.permission}`)
  }
})

function defaultLog (): any {
  return Object.fromEntries(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((level) => [level, () => {}]))
}
