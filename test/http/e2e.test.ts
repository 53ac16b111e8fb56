/**
 * End to end: the gate and a sandbox gateway on ephemeral loopback ports, talking real HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'
import { request } from 'undici'
import { readConfig } from '../../src/config/env.js'
import { buildServer, type GateServer } from '../../src/http/server.js'
import { SANDBOX_ADMIN_KEY, type Sandbox } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT, SCENARIOS } from '../../src/sandbox/scenarios.js'
import { parseExposition, value } from '../helpers/exposition.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

interface Running { gate: GateServer, url: string, logs: string[] }

function withoutId (body: Record<string, unknown>): Record<string, unknown> {
  const { decisionId: _id, reportUrl: _url, ...rest } = body
  return rest
}

async function startGate (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string>): Promise<Running> {
  const logs: string[] = []
  const dataDir = mkdtempSync(join(tmpdir(), 'acg-e2e-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'info', DATA_DIR: dataDir, ...env }), { now: () => T0, logStream: { write: (line: string) => { logs.push(line) } }, underPressure: false })
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await gate.app.close())
  const { port } = gate.app.server.address() as { port: number }
  return { gate, url: `http://127.0.0.1:${port}`, logs }
}

async function call (url: string, init: { method?: 'GET' | 'POST', body?: unknown, headers?: Record<string, string> } = {}): Promise<{ status: number, body: any, headers: Record<string, unknown> }> {
  const res = await request(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  return { status: res.statusCode, body: await res.body.json(), headers: res.headers }
}

async function gateOnSandbox (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}): Promise<Running & { sandbox: Sandbox }> {
  const sandbox = await sandboxFor(t)
  const running = await startGate(t, { CORDUM_URL: sandbox.url, CORDUM_API_KEY: SANDBOX_ADMIN_KEY, ...env })
  return { ...running, sandbox }
}

t.test('every scenario gives its documented verdict through GET and POST', async (t) => {
  const { url, gate } = await gateOnSandbox(t)
  for (const s of SCENARIOS) {
    for (const e of s.expect) {
      const q = { stage: e.stage, canary: s.agentId, baseline: BASELINE_AGENT }
      const viaGet = await call(`${url}/api/v1/score?${new URLSearchParams(q).toString()}`)
      const viaPost = await call(`${url}/api/v1/score`, { method: 'POST', body: q })
      t.equal(viaGet.status, 200, `${s.agentId} ${e.stage}: 200 whatever the verdict`)
      t.equal(viaGet.body.verdict, e.verdict, `${s.agentId} at ${e.stage}: ${e.verdict}`)
      const why = e.verdict === 'fail' ? viaGet.body.triggers.filter((x: any) => x.fired).map((x: any) => x.name) : viaGet.body.reasonCodes
      t.ok(why.includes(e.because), `${s.agentId} at ${e.stage}: because ${e.because}`)
      // The same question through GET and POST within SCORE_REUSE_SECONDS: one evaluation, one record.
      t.match(viaGet.body.decisionId, /^[0-9a-f-]{36}$/, 'the answer names its decision record')
      t.equal(viaGet.body.reportUrl, `${url}/decisions/${viaGet.body.decisionId as string}`, 'and links its page (PUBLIC_URL unset: the address asked)')
      t.equal(viaPost.body.decisionId, viaGet.body.decisionId, 'the same question is one decision, whichever way it is asked')
      t.same(withoutId(viaPost.body), withoutId(viaGet.body), 'POST answers the same as GET')
      // The response schema drops nothing the judge said.
      t.same(withoutId(viaGet.body), withoutId(JSON.parse(JSON.stringify(await gate.service.score(q, new AbortController().signal)))), 'the body is the whole ScoreResponse')
    }
  }
})

t.test('a repeated GET gets its answer before its query is parsed again: the same bytes and record, counted, logged once', async (t) => {
  const { url, gate, logs } = await gateOnSandbox(t)
  let normalized = 0
  const normalize = gate.service.normalize.bind(gate.service)
  gate.service.normalize = (...args) => { normalized++; return normalize(...args) }
  const scored = (): number => logs.filter((l) => JSON.parse(l).msg === 'scored').length
  const text = async (u: string): Promise<{ status: number, text: string }> => {
    const res = await request(u)
    return { status: res.statusCode, text: await res.body.text() }
  }
  const u = `${url}/api/v1/score?stage=canary-1&canary=support-agent-healthy&baseline=${BASELINE_AGENT}`
  const first = await text(u)
  t.equal(first.status, 200)
  t.equal(normalized, 1)
  t.equal(scored(), 1, 'an evaluation logs one scored line')
  const line = JSON.parse(logs.find((l) => JSON.parse(l).msg === 'scored') as string)
  t.match(line, { level: 30, tenant: 'default', canary: 'support-agent-healthy', stage: 'canary-1', verdict: 'pass', reasonCodes: ['score_pass'], decisionId: JSON.parse(first.text).decisionId }, 'the scored line says which decision, why, and its record')
  const again = await text(u)
  t.equal(again.text, first.text, 'the same answer, byte for byte (decisionId included)')
  t.equal(normalized, 1, 'not normalized again: answered from the URL')
  t.equal(scored(), 1, 'and not logged as scored again at info (debug only)')
  const reordered = await text(`${url}/api/v1/score?baseline=${BASELINE_AGENT}&canary=support-agent-healthy&stage=canary-1`)
  t.equal(reordered.text, first.text, 'another URL of the same question: the same answer')
  t.equal(normalized, 2, 'found by its normalized question')
  const posted = await call(`${url}/api/v1/score`, { method: 'POST', body: { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT } })
  t.equal(JSON.stringify(posted.body), first.text, 'so is a POST')
  t.equal(normalized, 3, 'a body is always parsed and validated')
  t.equal(scored(), 1, 'one scored line for one evaluation')
  const metrics = parseExposition(await (await request(`${url}/metrics`)).body.text())
  t.equal(value(metrics, 'agentcanary_score_answers_total', { result: 'fetched' }), 1, 'one evaluation')
  t.equal(value(metrics, 'agentcanary_score_answers_total', { result: 'cached' }), 3, 'three reused answers, the repeated URL among them')
  t.equal(value(metrics, 'agentcanary_http_requests_total', { route: '/api/v1/score', method: 'GET', status_code: '200' }), 3, 'every GET is in the request metrics, the repeated one too')
  const bad = await text(`${url}/api/v1/score?stage=canary-1&canary=a%20b`)
  t.equal(bad.status, 400)
  t.equal((await text(`${url}/api/v1/score?stage=canary-1&canary=a%20b`)).status, 400, 'a refused URL is refused again (errors are never remembered)')
})

t.test('reportUrl names PUBLIC_URL; the scored line names the rollout, its namespace and the reason codes', async (t) => {
  const { url, logs } = await gateOnSandbox(t, { PUBLIC_URL: 'https://canary-gate.example.com/gate/' })
  const q = { stage: 'canary-1', canary: 'support-agent-deny-spike', baseline: BASELINE_AGENT, namespace: 'shop', rollout: 'support-agent', revision: '3' }
  const viaGet = await call(`${url}/api/v1/score?${new URLSearchParams(q).toString()}`)
  t.equal(viaGet.body.reportUrl, `https://canary-gate.example.com/gate/decisions/${viaGet.body.decisionId as string}`, 'PUBLIC_URL (trailing slash dropped) + /decisions/{id}')
  const again = await call(`${url}/api/v1/score`, { method: 'POST', body: q, headers: { host: 'elsewhere.example:9999' } })
  t.equal(again.body.reportUrl, viaGet.body.reportUrl, 'whatever Host the request names')
  const lines = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'scored')
  t.equal(lines.length, 1, 'one evaluation, one scored line at info')
  t.match(lines[0], { tenant: 'default', namespace: 'shop', rollout: 'support-agent', canary: 'support-agent-deny-spike', stage: 'canary-1', verdict: 'fail', score: 0, reasonCodes: ['trigger_fired'], decisionId: viaGet.body.decisionId })
})

t.test('?view=argo: the answer in one line Argo shows, the same decision as the full answer', async (t) => {
  const { url } = await gateOnSandbox(t)
  for (const s of SCENARIOS) {
    for (const e of s.expect) {
      const q = { stage: e.stage, canary: s.agentId, baseline: BASELINE_AGENT }
      const full = await call(`${url}/api/v1/score?${new URLSearchParams(q).toString()}`)
      const res = await request(`${url}/api/v1/score?view=argo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q) })
      const text = await res.body.text()
      t.match(res.headers['content-type'], /^application\/json/, 'JSON, so Argo v1.9.1 evaluates the conditions (#4535)')
      const line = JSON.parse(text)
      t.equal(line, `${e.verdict}: score ${full.body.score as number} at ${e.stage} | ${(full.body.reasons[0] as string).slice(0, 239)}${(full.body.reasons[0] as string).length > 240 ? '…' : ''} | ${full.body.reportUrl as string}`, `${s.agentId} at ${e.stage}: verdict, score, top reason, link`)
      t.ok(Buffer.byteLength(text) < 400, `${Buffer.byteLength(text)} bytes`)
    }
  }
  const get = `${url}/api/v1/score?stage=canary-1&canary=support-agent-deny-spike&baseline=${BASELINE_AGENT}&view=argo`
  const first = await (await request(get)).body.text()
  t.equal(await (await request(get)).body.text(), first, 'a repeated GET of the view gets the same line')
  t.match(JSON.parse(first), /^fail: score 0 at canary-1 \| rollback trigger policy_deny_rate: /)
  t.match(await call(`${url}/api/v1/score?stage=canary-1&canary=x&view=short`), { status: 400, body: { details: { field: 'view' }, error: /^view: must be argo/ } })
  t.match(await call(`${url}/api/v1/score?view=full`, { method: 'POST', body: { stage: 'canary-1', canary: 'x' } }), { status: 400, body: { details: { field: 'view' } } })
})

t.test('empty optional fields mean "not given" (Argo args cannot be absent, only empty)', async (t) => {
  const { url } = await gateOnSandbox(t)
  const q = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }
  const plain = await call(`${url}/api/v1/score`, { method: 'POST', body: q })
  const empties = await call(`${url}/api/v1/score`, { method: 'POST', body: { ...q, topic: '', tenant: '', namespace: '', rollout: '', revision: '', since: '', until: '' } })
  t.equal(empties.status, 200)
  const judgement = ({ decisionId, ...rest }: Record<string, unknown>): Record<string, unknown> => rest
  t.same(judgement(empties.body), judgement(plain.body), 'the same judgement')
  const noBaseline = await call(`${url}/api/v1/score`, { method: 'POST', body: { ...q, baseline: '' } })
  t.equal(noBaseline.status, 200, 'an empty baseline is no baseline')
  t.ok(noBaseline.body.reasons.some((r: string) => /no baseline events: ratios are judged against the floor/.test(r)))
})

t.test('/openapi.json is a valid OpenAPI 3 document describing every route', async (t) => {
  const { url } = await gateOnSandbox(t)
  const { status, body } = await call(`${url}/openapi.json`)
  t.equal(status, 200)
  const result = await new Validator().validate(body)
  t.ok(result.valid, `valid OpenAPI ${String(body.openapi)}${result.valid ? '' : `: ${JSON.stringify(result.errors).slice(0, 600)}`}`)
  t.ok(body.paths['/api/v1/score'].get !== undefined && body.paths['/api/v1/score'].post !== undefined)
  for (const code of ['200', '400', '503']) t.ok(body.paths['/api/v1/score'].get.responses[code]?.content !== undefined, `score documents ${code}`)
  for (const path of ['/api/v1/stages', '/healthz', '/readyz']) t.ok(body.paths[path]?.get?.responses['200'] !== undefined, `${path} documented`)
})

t.test('bad input: 400 naming the field', async (t) => {
  const { url } = await gateOnSandbox(t)
  const cases: [string, string][] = [
    ['?stage=canary-1', 'canary'],
    ['?canary=a', 'stage'],
    ['?stage=canary-1&canary=a&stagee=x', 'stagee'],
    ['?stage=canary-9&canary=a', 'stage'],
    ['?stage=canary-1&canary=a&since=yesterday', 'since'],
    ['?stage=canary-1&canary=a&weight=lots', 'weight'],
  ]
  for (const [qs, field] of cases) {
    const r = await call(`${url}/api/v1/score${qs}`)
    t.equal(r.status, 400, qs)
    t.equal(r.body.details?.field, field, `${qs} names ${field}`)
    t.match(r.body.error, new RegExp(`^${field}: `))
    t.match(r.body.code, /^GATE_ERR_(BAD_REQUEST|UNKNOWN_STAGE)$/)
  }
  const post = await call(`${url}/api/v1/score`, { method: 'POST', body: { stage: 'canary-1' } })
  t.equal(post.body.details.field, 'canary')
  const notJson = await request(`${url}/api/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stage":' })
  t.equal(notJson.statusCode, 400)
  t.match(await notJson.body.json(), { code: 'GATE_ERR_BAD_REQUEST', details: { field: 'body' } })
  const missing = await call(`${url}/api/v2/score`)
  t.same(missing, { status: 404, body: { error: 'no route GET /api/v2/score', code: 'GATE_ERR_NOT_FOUND' }, headers: missing.headers })
})

t.test('upstream failure: 503 with code and source, never a pass', async (t) => {
  const { url, sandbox } = await gateOnSandbox(t)
  const q = `${url}/api/v1/score?stage=canary-1&canary=support-agent-healthy&baseline=${BASELINE_AGENT}`
  sandbox.faults.add({ fault: { kind: 'status', status: 502 } })
  const r = await call(q)
  t.equal(r.status, 503)
  t.equal(r.body.code, 'GATE_ERR_UPSTREAM_STATUS')
  t.equal(r.body.source, 'cordum')
  t.notOk('verdict' in r.body)
  t.notMatch(JSON.stringify(r.body), /at .*\.ts:\d+|stack/i, 'no stack in a 5xx body')
  const ready = await call(`${url}/readyz`)
  t.equal(ready.status, 503)
  t.equal(ready.body.status, 'not_ready')
  sandbox.faults.clear()
  t.equal((await call(q)).body.verdict, 'pass', 'and a pass once Cordum answers again')
  t.equal((await call(`${url}/readyz`)).status, 200)
  await sandbox.close()
  const down = await call(`${url}/api/v1/score?stage=canary-1&canary=support-agent-failing`)
  t.match(down, { status: 503, body: { code: 'GATE_ERR_UPSTREAM_UNREACHABLE', source: 'cordum' } })
})

t.test('GATE_API_KEYS: 401 without a valid key, 403 for a tenant the key may not read; secrets never logged', async (t) => {
  const gateKey = 'ops-team-key-0123456789'
  const boundKey = 'tenant-b-key-0123456789'
  const { url, logs } = await gateOnSandbox(t, { GATE_API_KEYS: `${gateKey},${boundKey}:tenant-b|tenant-c` })
  const q = `${url}/api/v1/score?stage=canary-1&canary=support-agent-healthy&baseline=${BASELINE_AGENT}`
  t.match(await call(q), { status: 401, body: { code: 'GATE_ERR_UNAUTHORIZED' } })
  t.match(await call(q, { headers: { 'x-api-key': 'wrong-key-0123456789abc' } }), { status: 401 })
  t.match(await call(q, { headers: { 'x-api-key': gateKey } }), { status: 200, body: { verdict: 'pass' } })
  t.match(await call(q, { headers: { authorization: `Bearer ${gateKey}` } }), { status: 200 })
  t.match(await call(q, { headers: { 'x-api-key': boundKey } }), { status: 403, body: { code: 'GATE_ERR_FORBIDDEN' } }, 'bound to other tenants')
  t.match(await call(`${q}&tenant=tenant-b`, { headers: { 'x-api-key': boundKey } }), { status: 403, body: { code: 'GATE_ERR_FORBIDDEN', error: /^tenant: Cordum/ } }, 'allowed by the gate; the sandbox key is not tenant-b\'s: a 4xx Argo does not retry for ever')
  t.equal((await call(`${url}/healthz`)).status, 200, 'probes need no key')
  t.equal((await call(`${url}/openapi.json`)).status, 200)
  t.equal((await call(`${url}/api/v1/stages`)).status, 401)
  const all = logs.join('')
  for (const secret of [gateKey, boundKey, SANDBOX_ADMIN_KEY]) t.notOk(all.includes(secret), 'a key never appears in the logs')
})

t.test('demo mode: no CORDUM_URL starts the sandbox in-process and says so first', async (t) => {
  const { url, logs, gate } = await startGate(t, {})
  t.ok(gate.sandbox !== undefined)
  const first = JSON.parse(logs[0] as string) as { msg: string }
  t.match(first.msg, /^demo mode: CORDUM_URL is not set/)
  t.ok(logs.some((l) => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(l)), 'the standard listening line')
  const r = await call(`${url}/api/v1/score?stage=canary-1&canary=support-agent-deny-spike&baseline=${BASELINE_AGENT}`)
  t.equal(r.body.verdict, 'fail')
  const stages = await call(`${url}/api/v1/stages`)
  t.same(stages.body.stages.map((s: any) => s.name), ['shadow', 'canary-1', 'canary-2', 'full'])
  t.match(stages.body.policy, { file: '<defaults>', canaryLifetimeHours: 3, metricIntervalHours: 1, alpha: 0.05 })
  const canary2 = stages.body.stages[2]
  t.match(canary2.signals[0], { name: 'policy_deny_rate', threshold: '<= 3.0%' })
  t.same(canary2.triggers.map((x: any) => `${x.name}: ${x.rule}`), [
    'policy_deny_rate: <= 3.0%',
    'error_rate_ratio: <= 2x baseline (floor 2.0%)',
    'approval_backlog: <= 25 pending, oldest <= 30m',
    'overload_ratio: <= 1.5x baseline (floor 0.5%)',
  ])
  t.same(await call(`${url}/readyz`).then((x) => x.body.status), 'ready')
})
