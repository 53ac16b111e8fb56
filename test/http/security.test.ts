/**
 * Security (docs/reliability.md "Security"): gate API keys (required, compared in constant
 * time, bound to tenants on every route that reads tenant data), no credential in any log line
 * or response body (the upstreams' error texts included), no request value that reaches the
 * upstream as anything but an encoded value (host, path, query keys and headers are the gate's
 * own), the request body limit, and 5xx bodies without internals.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { defaultPolicy } from '../../src/config/load.js'
import { readConfig } from '../../src/config/env.js'
import { gateApp } from '../../src/http/app.js'
import { findKey, parseApiKeys } from '../../src/http/auth.js'
import { buildServer } from '../../src/http/server.js'
import type { Sandbox } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT, SANDBOX_TENANT } from '../../src/sandbox/scenarios.js'
import { ScoreService } from '../../src/service/score.js'
import { CordumClient } from '../../src/sources/cordum/client.js'
import { SourceRegistry } from '../../src/sources/registry.js'
import type { SignalSource } from '../../src/sources/source.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'
import { leaks } from '../helpers/secrets.js'

const CORDUM_KEY = 'cordum-admin-key-a93f0e51c7d2b864'
const PROM_TOKEN = 'prom-bearer-token-5c0e8a17f3b2d946'
const ANY_TENANT_KEY = 'argo-any-tenant-key-1f8c3e90a7b2'
const BOUND_KEY = 'team-other-key-64d0b7e2c9f1a358'
const SECRETS = [CORDUM_KEY, PROM_TOKEN, ANY_TENANT_KEY, BOUND_KEY]
const GATES = `rollout_gates:
  stages:
    canary-1:
      on_fail:
        workflow: wf-support-rollback
        input: { rollout: "{{rollout}}" }
`

interface Teardown { teardown: (fn: () => unknown) => void }
interface Reply { status: number, text: string, body: any }

/** Every log line and response body of this file, scanned at the end. */
const said: string[] = []

async function startGate (t: Teardown, env: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'acg-security-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'gates.yaml'), GATES)
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'trace', DATA_DIR: dir, GATES_FILE: join(dir, 'gates.yaml'), GATE_API_KEYS: `${ANY_TENANT_KEY},${BOUND_KEY}:other`, ...env }), { now: () => T0, logStream: { write: (l: string) => { said.push(l) } }, underPressure: false })
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await gate.app.close())
  return `http://127.0.0.1:${(gate.app.server.address() as { port: number }).port}`
}

async function call (url: string, opts: { key?: string, method?: 'GET' | 'POST', body?: string, headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.key !== undefined) headers['x-api-key'] = opts.key
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const res = await request(url, { method: opts.method ?? 'GET', headers, ...(opts.body === undefined ? {} : { body: opts.body }) })
  const text = await res.body.text()
  said.push(text)
  let body: unknown
  try { body = JSON.parse(text) } catch { body = text }
  return { status: res.statusCode, text, body }
}

function q (fields: Record<string, string>): string {
  return new URLSearchParams({ stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT, ...fields }).toString()
}

async function sandbox (t: Teardown): Promise<Sandbox> {
  return await sandboxFor(t, { keys: [{ key: CORDUM_KEY, role: 'admin', tenant: SANDBOX_TENANT }] })
}

t.test('keys are kept and compared as sha256 digests (timingSafeEqual needs equal lengths; see auth.ts findKey)', async (t) => {
  const keys = parseApiKeys('first-key-0123456789abcdef,second-key-0123456789abcdef:t1|t2')
  t.ok(keys.every((k) => k.digest.length === 32), 'each key is a 32-byte digest')
  t.notOk(JSON.stringify(keys).includes('first-key'), 'the parsed keys do not hold the keys')
  t.equal(findKey(keys, 'second-key-0123456789abcdef')?.index, 2)
  // timingSafeEqual throws on buffers of different lengths: these return undefined only
  // because the presented key is hashed to 32 bytes before the comparison.
  for (const presented of ['x', 'first-key-0123456789abcde', 'first-key-0123456789abcdef0', 'k'.repeat(10_000)]) {
    t.equal(findKey(keys, presented), undefined, `a key of ${presented.length} characters is compared and refused`)
  }
})

t.test('a key is required on every route but the probes, /openapi.json and /metrics', async (t) => {
  const sb = await sandbox(t)
  const url = await startGate(t, { CORDUM_URL: sb.url, CORDUM_API_KEY: CORDUM_KEY })
  const guarded = [`/api/v1/score?${q({})}`, '/api/v1/stages', '/api/v1/decisions', '/api/v1/decisions/verify', '/api/v1/decisions/01a21725-30b8-7004-8526-966943fe674e']
  for (const path of guarded) {
    t.match(await call(`${url}${path}`), { status: 401, body: { code: 'GATE_ERR_UNAUTHORIZED' } }, `${path}: 401 without a key`)
    t.match(await call(`${url}${path}`, { key: 'not-a-key-of-this-gate-0123' }), { status: 401, body: { code: 'GATE_ERR_UNAUTHORIZED' } }, `${path}: 401 with a wrong key`)
    t.match(await call(`${url}${path}`, { headers: { authorization: `Bearer ${ANY_TENANT_KEY.slice(0, -1)}` } }), { status: 401 }, `${path}: 401 with a key one character short`)
  }
  t.match(await call(`${url}/api/v1/score`, { method: 'POST', body: JSON.stringify({ stage: 'canary-1', canary: 'x' }) }), { status: 401 }, 'POST score: 401 without a key')
  t.equal((await call(`${url}/api/v1/score?${q({})}`, { headers: { authorization: `Bearer ${ANY_TENANT_KEY}` } })).status, 200, 'Authorization: Bearer works')
  t.equal(sb.stats.count('/api/v1/governance/decisions') > 0, true)
  sb.stats.reset()
  await call(`${url}/api/v1/score?${q({ canary: 'support-agent-failing' })}`)
  t.equal(sb.stats.count(), 0, 'a refused request reads nothing from Cordum')
  for (const open of ['/healthz', '/readyz', '/openapi.json', '/metrics']) t.equal((await call(`${url}${open}`)).status, 200, `${open} needs no key`)
})

t.test('a key bound to tenants gets 403 for another tenant: score, actions, decisions', async (t) => {
  const sb = await sandbox(t)
  const url = await startGate(t, { CORDUM_URL: sb.url, CORDUM_API_KEY: CORDUM_KEY })
  // The failing canary with a rollout: the any-tenant key starts the rollback run (on_fail).
  const failing = q({ canary: 'support-agent-failing', rollout: 'support-agent', namespace: 'prod', revision: 'r1' })
  const own = await call(`${url}/api/v1/score?${failing}`, { key: ANY_TENANT_KEY })
  t.equal(own.body.verdict, 'fail')
  t.equal(sb.actions.runs.size, 1, 'the allowed key\'s fail started one rollback run')

  sb.stats.reset()
  for (const [what, reply] of [
    ['GET score, default tenant', await call(`${url}/api/v1/score?${failing}`, { key: BOUND_KEY })],
    ['GET score, tenant=default', await call(`${url}/api/v1/score?${q({ tenant: SANDBOX_TENANT, canary: 'support-agent-failing', rollout: 'x' })}`, { key: BOUND_KEY })],
    ['POST score with on_fail', await call(`${url}/api/v1/score`, { key: BOUND_KEY, method: 'POST', body: JSON.stringify({ stage: 'canary-1', canary: 'support-agent-failing', tenant: SANDBOX_TENANT, rollout: 'y', namespace: 'prod' }) })],
    ['decisions list of tenant default', await call(`${url}/api/v1/decisions?tenant=${SANDBOX_TENANT}`, { key: BOUND_KEY })],
    ['decisions verify of tenant default', await call(`${url}/api/v1/decisions/verify?tenant=${SANDBOX_TENANT}`, { key: BOUND_KEY })],
  ] as const) {
    t.match(reply, { status: 403, body: { code: 'GATE_ERR_FORBIDDEN', error: `this API key may not read tenant '${SANDBOX_TENANT}'` } }, `${what}: 403`)
  }
  t.equal(sb.stats.count(), 0, 'nothing was read from Cordum for the refused requests')
  t.equal(sb.actions.runs.size, 1, 'and no rollback run was started for them')

  const record = await call(`${url}/api/v1/decisions/${own.body.decisionId as string}`, { key: BOUND_KEY })
  t.match(record, { status: 404, body: { code: 'GATE_ERR_NOT_FOUND' } }, 'another tenant\'s record is reported as absent')
  t.equal((await call(`${url}/api/v1/decisions/${own.body.decisionId as string}`, { key: ANY_TENANT_KEY })).status, 200, 'and is there for a key that may read it')
  const list = await call(`${url}/api/v1/decisions`, { key: BOUND_KEY })
  t.equal(list.status, 200)
  t.same(list.body.items, [], 'a bound key\'s unfiltered list holds only its tenants\' records (none)')
  t.ok((await call(`${url}/api/v1/decisions`, { key: ANY_TENANT_KEY })).body.items.length > 0, 'the any-tenant key sees the record')
})

/** A stand-in Cordum that records each request and answers empty lists. */
async function recordingCordum (t: Teardown): Promise<{ url: string, host: string, seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = []
  const server: Server = createServer((req, res) => {
    seen.push(req)
    res.writeHead(200, { 'content-type': 'application/json' }).end(req.url?.startsWith('/api/v1/status') === true ? '{"build":{"version":"rec"}}' : '{"items":[],"next_cursor":null}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`
  return { url: `http://${host}`, host, seen }
}

/** Values a name may hold (letters, digits and . _ : @ / + -) that look like a path, a URL or a userinfo. */
const HOSTILE = [
  'a/../../api/v1/dlq',
  'x/..',
  'http://evil.example/steal',
  'a@evil.example:80',
  'a+b',
  'a//evil.example/@x',
]

/** Values no name may hold: refused with 400 before anything is sent. */
const REFUSED = ['x&since=2020-01-01T00:00:00Z&agent_id=evil', 'a\r\nX-Injected: 1', 'a?limit=1#frag', '%2e%2e%2f%0d%0a', '../x', 'a b', 'tenant\u0000']

const KNOWN_PATHS = new Set(['/api/v1/status', '/api/v1/governance/decisions', '/api/v1/jobs', '/api/v1/approvals', '/api/v1/dlq/page', '/api/v1/pools'])
const KNOWN_QUERY = new Set(['since', 'until', 'agent_id', 'topic', 'limit', 'cursor', 'include_resolved'])

t.test('request values never change the upstream host, path, query keys or headers (SSRF, injection)', async (t) => {
  const cordum = await recordingCordum(t)
  const url = await startGate(t, { CORDUM_URL: cordum.url, CORDUM_API_KEY: CORDUM_KEY })
  for (const value of HOSTILE) {
    cordum.seen.length = 0
    const reply = await call(`${url}/api/v1/score?${q({ canary: value, baseline: `${value}-b`, topic: value, tenant: value, namespace: value, rollout: value, revision: value })}`, { key: ANY_TENANT_KEY })
    t.equal(reply.status, 200, `${JSON.stringify(value)}: answered (from empty lists) ${reply.status === 200 ? '' : reply.text}`)
    t.not(reply.body.verdict, 'pass')
    t.ok(cordum.seen.length > 0, 'Cordum was asked')
    for (const req of cordum.seen) {
      const u = new URL(req.url ?? '', 'http://x')
      t.equal(req.headers.host, cordum.host, 'the configured host')
      t.ok(KNOWN_PATHS.has(u.pathname), `a known path (${u.pathname})`)
      const keys = [...u.searchParams.keys()]
      t.ok(keys.every((k) => KNOWN_QUERY.has(k)), `only the gate's query keys (${keys.join(',')})`)
      t.equal(new Set(keys).size, keys.length, 'each key once')
      for (const k of ['agent_id', 'topic']) {
        const v = u.searchParams.get(k)
        if (v !== null) t.ok(v === value || v === `${value}-b`, `${k} arrives as the value itself, encoded`)
      }
      t.equal(req.headers['x-injected'], undefined, 'no injected header')
      // (Cordum's version, read for the decision record, is asked as the gate's own tenant.)
      t.equal(req.headers['x-tenant-id'], u.pathname === '/api/v1/status' ? 'default' : value, 'the tenant arrives as its header, unchanged')
      t.equal(req.headers['x-api-key'], CORDUM_KEY)
      t.notOk(req.url?.includes('\r') === true || req.url?.includes('\n') === true || req.url?.includes('#') === true)
    }
  }
  // Values that are not names are refused, naming the field, and never sent.
  cordum.seen.length = 0
  for (const value of REFUSED) {
    for (const field of ['canary', 'baseline', 'tenant', 'topic']) {
      const reply = await call(`${url}/api/v1/score?${q({ [field]: value })}`, { key: ANY_TENANT_KEY })
      t.match(reply, { status: 400, body: { code: 'GATE_ERR_BAD_REQUEST', details: { field } } }, `${field} ${JSON.stringify(value)}: 400 naming the field`)
    }
  }
  t.equal(cordum.seen.length, 0, 'nothing was sent upstream for them')
  // The body's fields are the query's fields: unknown ones (e.g. a URL) are refused.
  const extra = await call(`${url}/api/v1/score`, { key: ANY_TENANT_KEY, method: 'POST', body: JSON.stringify({ stage: 'canary-1', canary: 'a', cordum_url: 'http://evil.example' }) })
  t.match(extra, { status: 400, body: { details: { field: 'cordum_url' } } }, 'an unknown field naming an upstream is refused')
  const extraQuery = await call(`${url}/api/v1/score?${q({ url: 'http://evil.example' })}`, { key: ANY_TENANT_KEY })
  t.match(extraQuery, { status: 400, body: { details: { field: 'url' } } })
  t.equal(cordum.seen.length, 0)
})

t.test('the Cordum client refuses a path with a dot segment, encoded or not, before sending it', async (t) => {
  const cordum = await recordingCordum(t)
  const client = new CordumClient({ url: cordum.url, apiKey: CORDUM_KEY })
  t.teardown(async () => await client.close())
  const ctx = { signal: new AbortController().signal, deadline: Date.now() + 5_000 }
  for (const id of ['..', '.', '%2e%2e', '%2E.', '.%2e']) {
    await t.rejects(client.postJson(`/api/v1/workflow-runs/${id}/rerun`, {}, {}, 'default', ctx, { idempotent: true }), { code: 'GATE_ERR_BAD_REQUEST', message: /a path segment is '\.' or '\.\.'/ }, `workflow-runs/${id}`)
  }
  await client.getJson(`/api/v1/jobs/${encodeURIComponent('a..b')}`, {}, 'default', ctx)
  t.equal(cordum.seen.length, 1, 'only the harmless path was sent')
  t.equal(cordum.seen[0]?.url, '/api/v1/jobs/a..b')
})

t.test('request body limit: over 16 KiB is 413', async (t) => {
  const cordum = await recordingCordum(t)
  const url = await startGate(t, { CORDUM_URL: cordum.url, CORDUM_API_KEY: CORDUM_KEY })
  const big = JSON.stringify({ stage: 'canary-1', canary: 'a', topic: 'x'.repeat(20_000) })
  const reply = await call(`${url}/api/v1/score`, { key: ANY_TENANT_KEY, method: 'POST', body: big })
  t.match(reply, { status: 413, body: { code: 'GATE_ERR_BODY_TOO_LARGE', error: 'body: larger than the 16 KiB the gate accepts' } })
  t.equal(cordum.seen.length, 0, 'nothing was read upstream')
  const small = await call(`${url}/api/v1/score`, { key: ANY_TENANT_KEY, method: 'POST', body: JSON.stringify({ stage: 'canary-1', canary: 'a', topic: 'x'.repeat(200) }) })
  t.equal(small.status, 200, 'a normal body is read')
})

t.test('credentials an upstream echoes in its error text are scrubbed before the gate repeats it', async (t) => {
  const sb = await sandbox(t)
  const url = await startGate(t, { CORDUM_URL: sb.url, CORDUM_API_KEY: CORDUM_KEY })
  for (const status of [500, 401, 403, 400]) {
    sb.faults.add({ fault: { kind: 'echo-credentials', status } })
    const reply = await call(`${url}/api/v1/score?${q({ canary: 'support-agent-failing' })}`, { key: ANY_TENANT_KEY })
    sb.faults.clear()
    t.equal(reply.status, 503, `Cordum ${status}: 503`)
    t.match(reply.body.error, /request with credentials \[redacted\] refused/, `Cordum ${status}: the upstream's text is passed on, without the key`)
  }

  // Prometheus that repeats the bearer token in its error envelope.
  const received: string[] = []
  const escaped = PROM_TOKEN.replace(/-/g, '\\u002d')
  const prom = createServer((req, res) => {
    received.push(String(req.headers.authorization))
    res.writeHead(500, { 'content-type': 'application/json' }).end(`{"status":"error","errorType":"internal","error":"storage failed for ${String(req.headers.authorization)} (escaped: ${escaped})"}`)
  })
  await new Promise<void>((resolve) => prom.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { prom.closeAllConnections(); await new Promise((resolve) => prom.close(resolve)) })
  const promUrl = `http://127.0.0.1:${(prom.address() as { port: number }).port}`
  const pg = await startGate(t, { PROMETHEUS_URL: promUrl, PROMETHEUS_BEARER_TOKEN: PROM_TOKEN, GATES_FILE: 'analysis-templates/examples/gates-prometheus.yaml' })
  const reply = await call(`${pg}/api/v1/score?stage=canary-1&canary=abc&baseline=def`, { key: ANY_TENANT_KEY })
  t.equal(reply.status, 503)
  t.match(reply.body, { code: 'GATE_ERR_UPSTREAM_STATUS', source: 'prometheus' })
  t.match(reply.body.error, /storage failed for Bearer \[redacted\] \(escaped: \[redacted\]\)/, 'the token is cut out, also when the upstream JSON-escapes it')
  t.ok(received.length > 0 && received.every((a) => a === `Bearer ${PROM_TOKEN}`), 'Prometheus got the token (and echoed it)')
})

t.test('5xx bodies carry no stack or internal message', async (t) => {
  const broken: SignalSource = {
    name: 'cordum',
    observe: async () => { throw new TypeError('cannot read \'x\' of undefined at /srv/app/src/secret.ts:12:7') },
    ready: async () => {},
    close: async () => {},
  }
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'trace', stream: { write: (l: string) => { logs.push(l) } } } })
  const service = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([broken]), defaultTenant: 'default', now: () => T0 })
  await app.register(gateApp, { service, defaultTenant: 'default', underPressure: false })
  t.teardown(async () => await app.close())
  const res = await app.inject({ url: `/api/v1/score?${q({})}` })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'internal error', code: 'GATE_ERR_INTERNAL' }, 'only the code: no message, no stack, no path')
  said.push(res.body)
  t.ok(logs.some((l) => l.includes('cannot read')), 'the log keeps the cause for the operator')
})

t.test('no key or token in any log line or response body of this file', async (t: Test) => {
  t.ok(said.length > 100, `scanned ${said.length} log lines and bodies`)
  t.same(leaks(said, SECRETS), [])
})
