/**
 * What the score service, the Cordum client and the HTTP app report: each through its real
 * code path (the sandbox over loopback, the app through inject), recorded by a test Telemetry
 * or read back from /metrics.
 */
import t from 'tap'
import { defaultPolicy } from '../../src/config/load.js'
import { readConfig } from '../../src/config/env.js'
import { GateError } from '../../src/errors.js'
import { buildServer } from '../../src/http/server.js'
import { SANDBOX_VIEWER_KEY, type Sandbox } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { CordumClient } from '../../src/sources/cordum/client.js'
import { CordumSource } from '../../src/sources/cordum/source.js'
import { SourceRegistry } from '../../src/sources/registry.js'
import { ScoreService, type DecisionRecorder, type ScoreServiceOptions } from '../../src/service/score.js'
import { parseExposition, value } from '../helpers/exposition.js'
import { call, SANDBOX_ADMIN_KEY, sandboxFor, T0 } from '../helpers/sandbox.js'
import { RecordingTelemetry } from '../helpers/telemetry.js'

const never = new AbortController().signal
const healthy = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }

t.test('the service reports each verdict with its rollout, each error with its code, and how observations were shared', async (t) => {
  const sb = await sandboxFor(t)
  const telemetry = new RecordingTelemetry()
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  // Observation sharing is what this test is about: every request is its own evaluation here.
  const service = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => T0, telemetry, answerTtlMs: 0 })

  const started = performance.now()
  await Promise.all([service.score(healthy, never), service.score(healthy, never), service.score({ ...healthy, namespace: 'shop', rollout: 'support-agent' }, never)])
  await service.score(healthy, never)
  const around = (performance.now() - started) / 1000
  t.same(telemetry.shared.map((s) => s.use), ['fetched', 'coalesced', 'coalesced', 'cached'], 'one fetch, two joined it in flight, one served from the cache')
  t.ok(telemetry.shared.every((s) => s.source === 'cordum'))
  t.equal(telemetry.judgements.length, 4)
  t.same(telemetry.judgements[0]?.subject, { tenant: 'default', rollout: 'support-agent-healthy', stage: 'canary-1' }, 'no rollout named: the canary stands for it; the tenant asked about (the default)')
  t.same(telemetry.judgements.find((j) => j.subject.namespace !== undefined)?.subject, { tenant: 'default', namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' })
  t.equal(telemetry.judgements[0]?.judgement.verdict, 'pass')
  // Not a bound on speed: each duration lies inside the interval measured around the calls (in ms it would be 1000 times that).
  t.ok(telemetry.judgements.every((j) => j.seconds > 0 && j.seconds <= around), `with its duration in seconds, inside the ${around.toFixed(3)} s the calls took`)

  await t.rejects(service.score({ stage: 'canary-9', canary: 'x' }, never))
  await t.rejects(service.score({ stage: 'canary-2', canary: 'a b' }, never))
  sb.faults.add({ fault: { kind: 'status', status: 500 } })
  await t.rejects(service.score({ ...healthy, since: '1h' }, never), { code: 'GATE_ERR_UPSTREAM_STATUS' })
  t.same(telemetry.failures, [
    { stage: undefined, code: 'GATE_ERR_UNKNOWN_STAGE' },
    { stage: 'canary-2', code: 'GATE_ERR_BAD_REQUEST' },
    { stage: 'canary-1', code: 'GATE_ERR_UPSTREAM_STATUS' },
  ], 'an unknown stage is not a label; a known one is')
  t.equal(telemetry.judgements.length, 4, 'errors are not verdicts')
})

t.test('evidence writes are timed and counted around the recorder, failures included', async (t) => {
  const sb = await sandboxFor(t)
  const telemetry = new RecordingTelemetry()
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  let fail = false
  const recorder: DecisionRecorder = { async record () { if (fail) throw new GateError('GATE_ERR_INTERNAL', 'disk full'); return 'dec-1' } }
  const service = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => T0, telemetry, recorder, answerTtlMs: 0 })
  t.equal((await service.score(healthy, never)).decisionId, 'dec-1', 'the recorder still fills decisionId')
  fail = true
  await t.rejects(service.score(healthy, never), { code: 'GATE_ERR_INTERNAL' })
  t.same(telemetry.evidence, ['ok', 'error'])
  t.same(telemetry.failures, [{ stage: 'canary-1', code: 'GATE_ERR_INTERNAL' }], 'a failed write fails the evaluation, and says so')
})

/** A service against a fresh sandbox, with a settable clock and a recorder numbering its records dec-1, dec-2, ... */
async function reusing (
  t: { teardown: (fn: () => unknown) => void }, opts: Partial<ScoreServiceOptions>
): Promise<{ sb: Sandbox, source: CordumSource, telemetry: RecordingTelemetry, service: ScoreService, clock: { now: number }, records: () => number }> {
  const sb = await sandboxFor(t)
  const telemetry = new RecordingTelemetry()
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  const clock = { now: T0 }
  let records = 0
  const recorder: DecisionRecorder = { async record () { records++; return `dec-${records}` } }
  const service = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => clock.now, telemetry, recorder, ...opts })
  return { sb, source, telemetry, service, clock, records: () => records }
}

t.test('an identical question is one evaluation: joined in flight or reused within the TTL, then evaluated again', async (t) => {
  const { sb, telemetry, service, clock, records } = await reusing(t, { answerTtlMs: 5_000 })

  const together = await Promise.all([service.score(healthy, never), service.score(healthy, never), service.score({ ...healthy, topic: '' }, never)])
  t.same(together.map((r) => r.decisionId), ['dec-1', 'dec-1', 'dec-1'], 'three identical questions in flight: one decision record')
  t.equal(together[1], together[0], 'the very same answer')
  clock.now = T0 + 4_000
  t.equal((await service.score(healthy, never)).decisionId, 'dec-1', 'within the TTL (and the same 10 s window): reused')
  t.equal((await service.score({ ...healthy, stage: 'canary-2' }, never)).decisionId, 'dec-2', 'another question is evaluated')
  clock.now = T0 + 9_000
  t.equal((await service.score(healthy, never)).decisionId, 'dec-3', 'after the TTL the question is evaluated again')
  t.same(telemetry.answers, ['fetched', 'coalesced', 'coalesced', 'cached', 'fetched', 'fetched'])
  t.equal(telemetry.judgements.length, 3, 'only evaluations are reported as verdicts')
  t.equal(records(), 3)

  sb.faults.add({ times: 1, fault: { kind: 'status', status: 500 } })
  await t.rejects(service.score({ ...healthy, since: '1h' }, never), { code: 'GATE_ERR_UPSTREAM_STATUS' })
  t.equal((await service.score({ ...healthy, since: '1h' }, never)).decisionId, 'dec-4', 'a failure is never reused: the next ask evaluates')
})

t.test('a request\'s exact text finds its answer again while it is reused, and no longer than its question stays the same', async (t) => {
  // T0 is 09:17:23: its 10 s step (a defaulted `until`) ends at 09:17:30.
  const { sb, source, telemetry, service, clock } = await reusing(t, { answerTtlMs: 60_000, cacheMaxEntries: 2 })
  const fixed = { ...healthy, since: '2026-11-26T08:00:00Z', until: '2026-11-26T09:00:00Z' }

  const first = await service.score(fixed, never, undefined, 'fixed-window')
  t.equal(service.reused('another text'), undefined, 'a text never answered: nothing')
  t.equal(service.reused('fixed-window')?.response, first, 'the very answer score gave, without normalizing again')
  t.equal(service.reused('fixed-window')?.tenant, 'default', 'with its tenant, for the key check')
  t.same(telemetry.answers, ['fetched', 'cached', 'cached'], 'each reuse is counted as one')
  clock.now = T0 + 59_999
  t.equal(service.reused('fixed-window')?.response, first, 'a window of fixed times: reused for the whole TTL')
  clock.now = T0 + 60_000
  t.equal(service.reused('fixed-window'), undefined, 'not past the TTL (score would evaluate again)')

  clock.now = T0
  const defaulted = await service.score(healthy, never, undefined, 'until-defaulted')
  clock.now = T0 + 6_999
  t.equal(service.reused('until-defaulted')?.response, defaulted, 'a defaulted until: reused within its 10 s step')
  clock.now = T0 + 7_000
  t.equal(service.reused('until-defaulted'), undefined, 'and not after it: the same text asks about a later window now')
  t.not((await service.score(healthy, never, undefined, 'until-defaulted')).decisionId, defaulted.decisionId, 'which score evaluates anew')

  await service.score({ ...healthy, stage: 'canary-2' }, never, undefined, 'third')
  await service.score({ ...healthy, stage: 'full' }, never, undefined, 'fourth')
  t.equal(service.reused('until-defaulted'), undefined, 'at most cacheMaxEntries texts are kept: the oldest goes')
  t.ok(service.reused('fourth') !== undefined && service.reused('third') !== undefined)

  sb.faults.add({ times: 1, fault: { kind: 'status', status: 500 } })
  await t.rejects(service.score({ ...healthy, since: '1h' }, never, undefined, 'failed'), { code: 'GATE_ERR_UPSTREAM_STATUS' })
  t.equal(service.reused('failed'), undefined, 'a failure is never found again')
  const noReuse = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => clock.now, answerTtlMs: 0 })
  await noReuse.score(fixed, never, undefined, 'fixed-window')
  t.equal(noReuse.reused('fixed-window'), undefined, 'SCORE_REUSE_SECONDS=0: every request is evaluated')
})

t.test('the Cordum client reports every attempt with the endpoint template and its outcome', async (t) => {
  const sb = await sandboxFor(t)
  const telemetry = new RecordingTelemetry()
  const c = new CordumClient({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY, telemetry, headersTimeoutMs: 300 })
  t.teardown(async () => await c.close())
  const outcomes = (): string[] => telemetry.upstream.splice(0).map((r) => `${r.endpoint} ${r.outcome}`)

  await c.getJson('/api/v1/jobs', { limit: 5, cursor: 123 }, 'default', call())
  t.same(outcomes(), ['/api/v1/jobs ok'], 'the path template, never the query')
  sb.faults.add({ route: '/api/v1/status', times: 2, fault: { kind: 'status', status: 503 } })
  await c.getJson('/api/v1/status', {}, 'default', call())
  t.same(outcomes(), ['/api/v1/status error_status', '/api/v1/status error_status', '/api/v1/status ok'], 'each retry is an attempt')
  sb.faults.add({ route: '/api/v1/status', times: 1, fault: { kind: 'delay-headers', ms: 1_000 } })
  await t.rejects(c.getJson('/api/v1/status', {}, 'default', call()))
  t.same(outcomes(), ['/api/v1/status timeout'])
  sb.faults.add({ route: '/api/v1/status', times: 1, fault: { kind: 'malformed-json' } })
  await t.rejects(c.getJson('/api/v1/status', {}, 'default', call()))
  t.same(outcomes(), ['/api/v1/status bad_response'])
  sb.faults.add({ route: '/api/v1/status', times: 1, fault: { kind: 'auth', status: 401 } })
  await t.rejects(c.getJson('/api/v1/status', {}, 'default', call()))
  t.same(outcomes(), ['/api/v1/status unauthorized'])
  const cancel = new AbortController()
  sb.faults.add({ route: '/api/v1/status', times: 1, fault: { kind: 'delay-headers', ms: 250 } })
  setTimeout(() => cancel.abort(), 50)
  await t.rejects(c.getJson('/api/v1/status', {}, 'default', { signal: cancel.signal, deadline: Date.now() + 5_000 }))
  t.same(outcomes(), ['/api/v1/status cancelled'], 'a caller that went away is not an upstream failure')
  t.ok(telemetry.upstream.every((r) => r.source === 'cordum'))

  const viewer = new CordumClient({ url: sb.url, apiKey: SANDBOX_VIEWER_KEY, telemetry })
  t.teardown(async () => await viewer.close())
  await t.rejects(viewer.getJson('/api/v1/approvals', {}, 'default', call()))
  t.same(outcomes(), ['/api/v1/approvals forbidden'], 'a viewer key on an admin route: forbidden, told apart from a bad key')

  const url = sb.url
  await sb.close()
  const gone = new CordumClient({ url, apiKey: SANDBOX_ADMIN_KEY, telemetry, maxRetries: 1 })
  t.teardown(async () => await gone.close())
  await t.rejects(gone.getJson('/api/v1/status', {}, 'default', call()))
  t.same(outcomes(), ['/api/v1/status unreachable', '/api/v1/status unreachable'])
})

t.test('the app: /metrics needs no key, labels routes by template, counts what the service and sources did', async (t) => {
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', GATE_API_KEYS: 'metrics-test-key-0123456789' }), { underPressure: false })
  t.teardown(async () => await gate.app.close())
  const key = { 'x-api-key': 'metrics-test-key-0123456789' }
  t.equal((await gate.app.inject({ url: '/api/v1/score?stage=canary-1&canary=support-agent-deny-spike&baseline=support-agent-stable&rollout=checkout&namespace=shop', headers: key })).statusCode, 200)
  t.equal((await gate.app.inject({ url: '/api/v1/score?stage=canary-1&canary=x' })).statusCode, 401)
  t.equal((await gate.app.inject({ url: '/no/such/route?secret=1', headers: key })).statusCode, 404)
  const res = await gate.app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200, 'no key needed, like the probes')
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4; charset=utf-8/)
  const s = parseExposition(res.payload)
  t.equal(value(s, 'agentcanary_http_requests_total', { method: 'GET', route: '/api/v1/score', status_code: '200' }), 1, 'the route template, without the query')
  t.equal(value(s, 'agentcanary_http_requests_total', { route: '/api/v1/score', status_code: '401' }), 1)
  t.equal(value(s, 'agentcanary_http_requests_total', { route: 'unmatched', status_code: '404' }), 1, 'unknown paths share one label value')
  t.equal(value(s, 'agentcanary_http_requests_total', { method: 'POST', route: '/api/v1/score', status_code: '200' }), 0, 'routes start at 0, so rate() sees their first requests')
  t.equal(value(s, 'agentcanary_http_requests_total', { method: 'GET', route: '/api/v1/stages', status_code: '200' }), 0)
  t.same(s.filter((x) => x.name === 'agentcanary_http_requests_total' && x.labels.method === 'HEAD'), [], 'no series for the implicit HEAD routes')
  t.equal(value(s, 'agentcanary_verdicts_total', { stage: 'canary-1', verdict: 'fail' }), 1)
  t.equal(value(s, 'agentcanary_triggers_fired_total', { stage: 'canary-1', trigger: 'policy_deny_rate' }), 1)
  t.equal(value(s, 'agentcanary_rollout_verdict', { rollout_namespace: 'shop', rollout: 'checkout', stage: 'canary-1' }), -1)
  t.ok((value(s, 'agentcanary_upstream_requests_total', { source: 'cordum', endpoint: '/api/v1/governance/decisions', outcome: 'ok' }) ?? 0) >= 2, 'the demo sandbox reads are upstream requests')
  t.equal(value(s, 'agentcanary_observation_requests_total', { source: 'cordum', result: 'fetched' }), 1)
  t.notMatch(res.payload, /metrics-test-key|secret=1/, 'no key and no raw URL in the metrics')
})
