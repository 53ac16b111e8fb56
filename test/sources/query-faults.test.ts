/**
 * Upstream faults of the Prometheus source, through the gate's HTTP API: a server that is
 * down, one too slow for the deadline, one refusing the token, one answering something that
 * is not Prometheus. Small stub servers on loopback play the misbehaving upstream; none of
 * these may ever produce a `pass`, and no token may leak into a response or a log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { readConfig } from '../../src/config/env.js'
import { GateError } from '../../src/errors.js'
import { buildServer } from '../../src/http/server.js'
import { freePort } from '../helpers/prometheus.js'

const EXAMPLE = 'analysis-templates/examples/gates-prometheus.yaml'
const NOW = Date.UTC(2026, 10, 26, 12, 0, 30)
const TOKEN = 'prom-token-7f3e9a2c41b8d6e0'

interface Stub { url: string, seen: IncomingMessage[], close: () => Promise<void> }

async function stub (t: { teardown: (fn: () => unknown) => void }, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Stub> {
  const seen: IncomingMessage[] = []
  const server: Server = createServer((req, res) => { seen.push(req); handler(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  t.teardown(close)
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, close }
}

/** Any query: a one-sample vector of `value`. */
function vector (res: ServerResponse, value: string): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [NOW / 1000, value] }] } }))
}

async function gate (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string>, gatesFile = EXAMPLE): Promise<{ url: string, logs: string[] }> {
  const logs: string[] = []
  const g = await buildServer(readConfig({ LOG_LEVEL: 'info', GATES_FILE: gatesFile, ...env }), { now: () => NOW, logStream: { write: (l: string) => { logs.push(l) } }, underPressure: false })
  await g.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await g.app.close())
  return { url: `http://127.0.0.1:${(g.app.server.address() as { port: number }).port}`, logs }
}

async function score (url: string, stage = 'canary-1'): Promise<{ status: number, body: any }> {
  const res = await request(`${url}/api/v1/score?stage=${stage}&canary=abc123&baseline=def456`)
  return { status: res.statusCode, body: await res.body.json() }
}

t.test('Prometheus down: 503 naming the source, not ready, never a verdict', async (t) => {
  const port = await freePort()
  const { url } = await gate(t, { PROMETHEUS_URL: `http://127.0.0.1:${port}` })
  const { status, body } = await score(url)
  t.equal(status, 503)
  t.equal(body.code, 'GATE_ERR_UPSTREAM_UNREACHABLE')
  t.equal(body.source, 'prometheus')
  t.match(body.error, /cannot reach Prometheus for GET \/api\/v1\/query \(http:\/\/127\.0\.0\.1:\d+\): connection refused/)
  const ready = await request(`${url}/readyz`)
  t.equal(ready.statusCode, 503, 'readiness reports the unreachable upstream')
  await ready.body.dump()
})

t.test('Prometheus too slow for the deadline: 503 timeout; a stage may choose inconclusive instead', async (t) => {
  const slow = await stub(t, (req, res) => {
    if (req.url?.startsWith('/-/ready') === true) { res.end('ok'); return }
    setTimeout(() => { if (!res.destroyed) vector(res, '100') }, 5_000)
  })
  const { url } = await gate(t, { PROMETHEUS_URL: slow.url, PROMETHEUS_DEADLINE_MS: '700' })
  const { status, body } = await score(url)
  t.equal(status, 503)
  t.equal(body.code, 'GATE_ERR_UPSTREAM_TIMEOUT')
  t.equal(body.source, 'prometheus')
  t.match(body.error, /Prometheus did not answer GET \/api\/v1\/query within the gate's deadline|sent no response headers in time/)

  const dir = mkdtempSync(join(tmpdir(), 'acg-gates-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const lenient = join(dir, 'gates.yaml')
  const { readFileSync } = await import('node:fs')
  writeFileSync(lenient, readFileSync(EXAMPLE, 'utf8').replace('  stages:\n    canary-1:\n', '  stages:\n    canary-1:\n      on_source_error: inconclusive\n'))
  const { url: url2 } = await gate(t, { PROMETHEUS_URL: slow.url, PROMETHEUS_DEADLINE_MS: '700' }, lenient)
  const held = await score(url2)
  t.equal(held.status, 200, 'on_source_error: inconclusive answers 200')
  t.equal(held.body.verdict, 'inconclusive')
  t.same(held.body.reasonCodes, ['source_unavailable'])
  t.match(held.body.reasons[0], /did not answer .* within the gate's deadline|sent no response headers in time/)
})

t.test('bearer token: sent from a file; a refused token is a 503 that never shows the token', async (t) => {
  const prom = await stub(t, (req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'unauthorized', error: `bad token ${req.headers.authorization ?? ''}` }))
      return
    }
    vector(res, req.url?.includes('histogram_quantile') === true ? '0.2' : req.url?.includes('queue_depth') === true ? '1' : '100')
  })
  const dir = mkdtempSync(join(tmpdir(), 'acg-token-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`)
  const { url } = await gate(t, { PROMETHEUS_URL: prom.url, PROMETHEUS_BEARER_TOKEN_FILE: join(dir, 'token') })
  const ok = await score(url)
  t.equal(ok.status, 200, 'the token from the file is accepted')
  t.ok(prom.seen.length > 0 && prom.seen.every((r) => r.headers.authorization === `Bearer ${TOKEN}`), 'every query carried the bearer token')

  const { url: url2, logs } = await gate(t, { LOG_LEVEL: 'debug', PROMETHEUS_URL: prom.url, PROMETHEUS_BEARER_TOKEN: 'wrong-token-0123456789abcdef' })
  const refused = await score(url2)
  t.equal(refused.status, 503)
  t.equal(refused.body.code, 'GATE_ERR_UPSTREAM_AUTH')
  t.match(refused.body.error, /Prometheus refused the gate's credentials \(401\) for GET \/api\/v1\/query; check PROMETHEUS_BEARER_TOKEN/)
  const everything = JSON.stringify(refused.body) + logs.join('')
  t.notOk(everything.includes('wrong-token-0123456789abcdef'), 'the token is in neither the response nor the logs')
  t.notOk(everything.includes('bad token'), 'the upstream\'s 401 body (which echoes it) is not passed on')
})

t.test('an upstream that is not Prometheus, or answers an error envelope, is a clear 503', async (t) => {
  const cases: [string, (res: ServerResponse) => void, string, RegExp][] = [
    ['HTML page', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'), 'GATE_ERR_UPSTREAM_RESPONSE', /body that is not JSON .* is http:\/\/127\.0\.0\.1:\d+ the Prometheus API\?/],
    ['unknown result type', (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","data":{"resultType":"string","result":[0,"x"]}}'), 'GATE_ERR_UPSTREAM_RESPONSE', /resultType "string" is not scalar, vector or matrix/],
    ['query timeout', (res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}'), 'GATE_ERR_UPSTREAM_TIMEOUT', /Prometheus did not finish the query in time \(503\): timeout: query timed out/],
    ['internal error', (res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"status":"error","errorType":"internal","error":"disk on fire"}'), 'GATE_ERR_UPSTREAM_STATUS', /Prometheus answered 500 for GET \/api\/v1\/query .*: internal: disk on fire/],
  ]
  for (const [what, answer, code, message] of cases) {
    const prom = await stub(t, (_req, res) => answer(res))
    const { url } = await gate(t, { PROMETHEUS_URL: prom.url })
    const { status, body } = await score(url)
    t.equal(status, 503, `${what}: 503`)
    t.equal(body.code, code, `${what}: ${code}`)
    t.match(body.error, message, what)
    await prom.close()
  }
})

t.test('environment: Prometheus and Loki settings are checked and refused naming the variable', async (t) => {
  const refused = (env: Record<string, string>): string => {
    try {
      readConfig(env)
    } catch (err) {
      if (err instanceof GateError) return err.message
      throw err
    }
    return 'accepted'
  }
  t.match(refused({ PROMETHEUS_URL: 'prometheus:9090' }), /^PROMETHEUS_URL: must use http or https/)
  t.match(refused({ PROMETHEUS_URL: 'not a url' }), /^PROMETHEUS_URL: must be an http\(s\) URL/)
  t.match(refused({ PROMETHEUS_URL: 'http://user:pw@prom:9090' }), /^PROMETHEUS_URL: must not carry credentials/)
  t.match(refused({ PROMETHEUS_URL: 'http://prom:9090', PROMETHEUS_BEARER_TOKEN: 'a', PROMETHEUS_BEARER_TOKEN_FILE: '/x' }), /^PROMETHEUS_BEARER_TOKEN_FILE: set either/)
  t.match(refused({ PROMETHEUS_BEARER_TOKEN: 'secret-value' }), /^PROMETHEUS_BEARER_TOKEN: is set but PROMETHEUS_URL is not/)
  t.match(refused({ LOKI_URL: 'http://loki:3100', LOKI_BEARER_TOKEN_FILE: '/nonexistent/token' }), /^LOKI_BEARER_TOKEN_FILE: cannot read \/nonexistent\/token: no such file/)
  t.match(refused({ LOKI_URL: 'http://loki:3100', LOKI_DEADLINE_MS: '10' }), /^LOKI_DEADLINE_MS: must be a whole number from 500 to 60000/)
  t.notMatch(refused({ PROMETHEUS_BEARER_TOKEN: 'secret-value' }), /secret-value/, 'a token never appears in a refusal')
  const c = readConfig({ PROMETHEUS_URL: 'https://prom.example:9090/prefix/', LOKI_URL: 'http://loki:3100', LOKI_TENANT: 'team-a', LOKI_BEARER_TOKEN: 'tok' })
  t.same(c.prometheus, { url: 'https://prom.example:9090/prefix', deadlineMs: 8000 })
  t.same(c.loki, { url: 'http://loki:3100', deadlineMs: 8000, bearerToken: 'tok', tenant: 'team-a' })
})

t.test('every Prometheus query attempt shows in /metrics by endpoint and outcome', async (t) => {
  let calls = 0
  const upstream = await stub(t, (_req, res) => {
    calls++
    // The first attempt fails with a retryable 503, every other one answers.
    if (calls === 1) res.writeHead(503, { 'content-type': 'text/plain' }).end('busy')
    else vector(res, '1')
  })
  const { url } = await gate(t, { PROMETHEUS_URL: upstream.url })
  const { status } = await score(url)
  t.equal(status, 200)
  const metrics = await (await request(`${url}/metrics`)).body.text()
  const count = (outcome: string): number => Number(new RegExp(`^agentcanary_upstream_requests_total\\{source="prometheus",endpoint="/api/v1/query",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0)
  t.equal(count('error_status'), 1, 'the retried 503 attempt is counted')
  t.equal(count('ok'), calls - 1, 'every answered attempt is counted')
  t.ok(calls > 2, `the score needed several queries (${calls})`)
  t.match(metrics, /^agentcanary_upstream_request_duration_seconds_count\{source="prometheus",endpoint="\/api\/v1\/query"/m)
})
