/**
 * The fault table (docs/reliability.md "Faults"): every upstream fault of issue 10, injected
 * by the sandbox gateway (or a blackhole port) under a gate on loopback, asked through the
 * gate's HTTP API with the shipped timeouts. Each row is answered for two stages at once:
 * canary-1 keeps the default `on_source_error: error` (503 with a code), canary-2 says
 * `on_source_error: inconclusive` (200 inconclusive). Every answer is never `pass`; a stalled
 * Cordum is given up by the gate's own timers (named in the error), whose deadline is inside
 * Argo's 10 s web timeout; records the gate can still use (extra fields, records stamped
 * after the window) give the same judgement as a clean read. How long the answers take is not
 * asserted here (docs/testing.md "No wall clock"): the `# fault ...` comments print it.
 *
 * The figures printed as `# fault ...` comments are the "measured" column of the table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { readConfig } from '../../src/config/env.js'
import { buildServer } from '../../src/http/server.js'
import type { FaultSpec } from '../../src/sandbox/faults.js'
import type { Sandbox } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT, SANDBOX_TENANT } from '../../src/sandbox/scenarios.js'
import { blackhole } from '../helpers/blackhole.js'
import { timerFrom } from '../helpers/order.js'
import { freePort } from '../helpers/prometheus.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'
import { leaks } from '../helpers/secrets.js'

/** Long, distinctive secrets so a leak anywhere is found by a plain substring scan. */
const CORDUM_KEY = 'cordum-admin-key-7d41c9e08b2f5a63'
const GATE_KEY = 'argo-gate-key-3b9e71f0c2d84a56'
const LENIENT = 'rollout_gates:\n  stages:\n    canary-2:\n      on_source_error: inconclusive\n'
const ARGO_WEB_TIMEOUT_MS = 10_000

interface Teardown { teardown: (fn: () => unknown) => void }
interface Answer { status: number, body: any, text: string, ms: number }

/** Everything the gate said, in logs and in response bodies, for the secret scan. */
const said: string[] = []

async function startGate (t: Teardown, cordumUrl: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'acg-faults-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'gates.yaml'), LENIENT)
  const env = { LOG_LEVEL: 'debug', DATA_DIR: dir, GATES_FILE: join(dir, 'gates.yaml'), CORDUM_URL: cordumUrl, CORDUM_API_KEY: CORDUM_KEY, GATE_API_KEYS: GATE_KEY }
  const gate = await buildServer(readConfig(env), { now: () => T0, logStream: { write: (line: string) => { said.push(line) } }, underPressure: false })
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await gate.app.close())
  return `http://127.0.0.1:${(gate.app.server.address() as { port: number }).port}`
}

async function sandbox (t: Teardown): Promise<Sandbox> {
  return await sandboxFor(t, { keys: [{ key: CORDUM_KEY, role: 'admin', tenant: SANDBOX_TENANT }] })
}

async function score (gate: string, stage: string, canary: string): Promise<Answer> {
  const started = performance.now()
  const res = await request(`${gate}/api/v1/score?${new URLSearchParams({ stage, canary, baseline: BASELINE_AGENT }).toString()}`, { headers: { 'x-api-key': GATE_KEY } })
  const text = await res.body.text()
  const ms = Math.round(performance.now() - started)
  said.push(text)
  return { status: res.statusCode, body: JSON.parse(text), text, ms }
}

function judgement (body: Record<string, unknown>): Record<string, unknown> {
  const { decisionId: _id, reportUrl: _url, ...rest } = body
  return rest
}

/** The two answers for a fault the gate cannot measure through: 503 + code, or inconclusive. */
function failsClosed (t: Test, name: string, strict: Answer, lenient: Answer, code: string, message?: RegExp): void {
  t.equal(strict.status, 503, `${name}: 503 under on_source_error: error`)
  t.equal(strict.body.code, code, `${name}: ${code}`)
  t.equal(strict.body.source, 'cordum', `${name}: names the upstream`)
  t.notOk('verdict' in strict.body, `${name}: no verdict with a 503`)
  if (message !== undefined) t.match(strict.body.error, message, `${name}: says what happened`)
  t.notMatch(strict.text, /\bat .+:\d+:\d+|"stack"/, `${name}: no stack trace in the 5xx body`)
  t.equal(lenient.status, 200, `${name}: 200 under on_source_error: inconclusive`)
  t.equal(lenient.body.verdict, 'inconclusive', `${name}: inconclusive`)
  t.same(lenient.body.reasonCodes, ['source_unavailable'], `${name}: because the source is unavailable`)
  for (const a of [strict, lenient]) t.not(a.body.verdict, 'pass', `${name}: never pass`)
  t.comment(`fault | ${name} | ${strict.status} ${String(strict.body.code)} | ${strict.ms} ms | inconclusive ${lenient.ms} ms`)
}

/** Both stages at once for the canary that passes when Cordum answers well. */
async function both (gate: string): Promise<[Answer, Answer]> {
  return await Promise.all([score(gate, 'canary-1', 'support-agent-healthy'), score(gate, 'canary-2', 'support-agent-healthy')])
}

async function row (t: Test, sb: Sandbox, gate: string, name: string, faults: FaultSpec[], code: string, message?: RegExp): Promise<void> {
  sb.faults.clear()
  for (const f of faults) sb.faults.add(f)
  const [strict, lenient] = await both(gate)
  sb.faults.clear()
  failsClosed(t, name, strict, lenient, code, message)
}

t.test('the healthy canary passes when Cordum answers well (the rows below would pass without their fault)', async (t) => {
  const sb = await sandbox(t)
  const gate = await startGate(t, sb.url)
  const [strict, lenient] = await both(gate)
  t.equal(strict.body.verdict, 'pass')
  t.equal(lenient.body.verdict, 'pass')
})

t.test('the gate\'s deadline for Cordum ends every wait inside Argo\'s 10 s', async (t) => {
  const deadline = readConfig({ CORDUM_URL: 'http://cordum:8081', CORDUM_API_KEY: CORDUM_KEY }).cordum?.deadlineMs
  t.ok(deadline !== undefined && deadline < ARGO_WEB_TIMEOUT_MS, `CORDUM_DEADLINE_MS defaults to ${String(deadline)} ms, under ${ARGO_WEB_TIMEOUT_MS} ms`)
})

t.test('transport faults: connect timeout, refused, headers timeout, stalled body, resets', async (t) => {
  const bh = await blackhole()
  t.teardown(bh.close)
  const dead = await startGate(t, `http://127.0.0.1:${bh.port}`)
  const [s1, l1] = await both(dead)
  failsClosed(t, 'connect timeout (blackhole port)', s1, l1, 'GATE_ERR_UPSTREAM_TIMEOUT', /connect timeout after 2000 ms|within the gate's deadline/)

  const refused = await startGate(t, `http://127.0.0.1:${await freePort()}`)
  const [s2, l2] = await both(refused)
  failsClosed(t, 'connection refused (nothing listens)', s2, l2, 'GATE_ERR_UPSTREAM_UNREACHABLE', /connection refused/)

  const sb = await sandbox(t)
  const gate = await startGate(t, sb.url)
  await row(t, sb, gate, 'headers timeout (9 s before headers)', [{ fault: { kind: 'delay-headers', ms: 9_000 } }], 'GATE_ERR_UPSTREAM_TIMEOUT', /sent no response headers in time/)
  await row(t, sb, gate, 'body stalled mid-stream (9 s)', [{ fault: { kind: 'stall-body', ms: 9_000 } }], 'GATE_ERR_UPSTREAM_TIMEOUT', /body timeout after 4000 ms/)
  await row(t, sb, gate, 'connection reset mid-body', [{ fault: { kind: 'reset-mid-body' } }], 'GATE_ERR_UPSTREAM_RESPONSE', /closed the connection while reading its body/)
  await row(t, sb, gate, 'connection reset before headers', [{ fault: { kind: 'reset-before-headers' } }], 'GATE_ERR_UPSTREAM_UNREACHABLE', /connection (was closed|reset)/)
})

t.test('statuses: 5xx, 429 with and without Retry-After, 401 and 403', async (t) => {
  const sb = await sandbox(t)
  const gate = await startGate(t, sb.url)
  await row(t, sb, gate, '500 from Cordum', [{ fault: { kind: 'status', status: 500 } }], 'GATE_ERR_UPSTREAM_STATUS', /Cordum answered 500/)
  await row(t, sb, gate, '503 from Cordum (retried, then given up)', [{ fault: { kind: 'status', status: 503 } }], 'GATE_ERR_UPSTREAM_STATUS', /Cordum answered 503/)
  await row(t, sb, gate, '429 without Retry-After (retried, then given up)', [{ fault: { kind: 'rate-limit' } }], 'GATE_ERR_UPSTREAM_STATUS', /Cordum answered 429/)
  await row(t, sb, gate, '429 with Retry-After: 30 (beyond the deadline)', [{ fault: { kind: 'rate-limit', retryAfter: '30' } }], 'GATE_ERR_UPSTREAM_STATUS', /retry after 30 s, beyond the gate's deadline/)
  await row(t, sb, gate, '401 from Cordum', [{ fault: { kind: 'auth', status: 401 } }], 'GATE_ERR_UPSTREAM_AUTH', /refused the gate's API key \(401\)/)
  await row(t, sb, gate, '403 from Cordum on every route', [{ fault: { kind: 'auth', status: 403 } }], 'GATE_ERR_UPSTREAM_AUTH', /answered 403/)

  // A 429 asking for 1 s: the gate waits that long, then reads on and judges as usual. (Fresh
  // gates: the score service keeps an observation for 10 s, and its clock stands still here.)
  sb.stats.reset()
  const clean = await score(await startGate(t, sb.url), 'canary-1', 'support-agent-failing')
  t.equal(clean.body.verdict, 'fail')
  const jobReads = sb.stats.count('/api/v1/jobs')
  sb.stats.reset()
  sb.faults.add({ route: '/api/v1/jobs', times: 1, fault: { kind: 'rate-limit', retryAfter: '1' } })
  const gate429 = await startGate(t, sb.url)
  const second = timerFrom(1_000)
  const waited = await score(gate429, 'canary-1', 'support-agent-failing')
  t.equal(waited.status, 200, '429 with Retry-After: 1 is retried')
  t.same(judgement(waited.body), judgement(clean.body), 'and the verdict is the clean read\'s')
  t.ok(second.fired, 'answered only after a 1 s timer set before the question had fired: the retry waited the 1 s asked')
  t.equal(sb.stats.count('/api/v1/jobs'), jobReads + 1, 'the refused read was repeated once')
  t.comment(`fault | 429 with Retry-After: 1 (honoured) | 200 ${String(waited.body.verdict)} | ${waited.ms} ms`)
})

t.test('bodies: malformed, truncated, wrong content type, over the size cap, a looping cursor, missing fields', async (t) => {
  const sb = await sandbox(t)
  const gate = await startGate(t, sb.url)
  await row(t, sb, gate, 'malformed JSON', [{ fault: { kind: 'malformed-json' } }], 'GATE_ERR_UPSTREAM_RESPONSE', /malformed or truncated JSON/)
  await row(t, sb, gate, 'truncated JSON (Content-Length matches)', [{ fault: { kind: 'truncated-json' } }], 'GATE_ERR_UPSTREAM_RESPONSE', /malformed or truncated JSON/)
  await row(t, sb, gate, 'wrong content type (text/html)', [{ fault: { kind: 'content-type', value: 'text/html; charset=utf-8' } }], 'GATE_ERR_UPSTREAM_RESPONSE', /content type 'text\/html; charset=utf-8', expected JSON/)
  await row(t, sb, gate, 'body over the 8 MiB cap (9 MiB)', [{ fault: { kind: 'oversize-body', bytes: 9 * 1024 * 1024 } }], 'GATE_ERR_UPSTREAM_RESPONSE', /more than 8388608 bytes; refusing to read it/)
  await row(t, sb, gate, 'a cursor that loops', [{ fault: { kind: 'repeat-cursor' } }], 'GATE_ERR_UPSTREAM_RESPONSE', /twice; refusing to loop/)
  await row(t, sb, gate, 'missing field: decisions without verdict', [{ route: '/api/v1/governance/decisions', fault: { kind: 'missing-field', field: 'verdict' } }], 'GATE_ERR_UPSTREAM_RESPONSE', /GET \/api\/v1\/governance\/decisions items\[0\] answered with an unexpected body: verdict must be a string, got undefined/)
  await row(t, sb, gate, 'missing field: jobs without updated_at', [{ route: '/api/v1/jobs', fault: { kind: 'missing-field', field: 'updated_at' } }], 'GATE_ERR_UPSTREAM_RESPONSE', /GET \/api\/v1\/jobs items\[0\] answered with an unexpected body: updated_at must be a number, got undefined/)
})

t.test('records the gate can still use: extra fields are ignored, records stamped after the window are not counted', async (t) => {
  const sb = await sandbox(t)
  for (const canary of ['support-agent-deny-spike', 'support-agent-failing']) {
    // A fresh gate for each read: the score service keeps an observation for 10 s.
    const clean = await score(await startGate(t, sb.url), 'canary-1', canary)
    t.equal(clean.body.verdict, 'fail', `${canary} fails on a clean read`)

    sb.faults.add({ fault: { kind: 'extra-fields' } })
    const extra = await score(await startGate(t, sb.url), 'canary-1', canary)
    sb.faults.clear()
    t.equal(extra.status, 200, `${canary}, extra fields: answered`)
    t.same(judgement(extra.body), judgement(clean.body), `${canary}, extra fields: the same judgement as a clean read`)
    t.comment(`fault | extra fields (${canary}) | 200 ${String(extra.body.verdict)} | ${extra.ms} ms`)

    // Twenty harmless copies of every record, stamped an hour after the window's end: counted,
    // they would dilute the deny and failure rates of a failing canary towards a pass.
    sb.faults.add({ fault: { kind: 'future-records', ms: 3_600_000, copies: 20 } })
    sb.stats.reset()
    const future = await score(await startGate(t, sb.url), 'canary-1', canary)
    t.ok(sb.stats.count('/api/v1/governance/decisions') > 0 && sb.stats.count('/api/v1/jobs') > 0, 'read from Cordum, not from a cache')
    sb.faults.clear()
    t.equal(future.status, 200, `${canary}, future records: answered`)
    t.same(judgement(future.body), judgement(clean.body), `${canary}, future records: not counted, the same judgement as a clean read`)
    t.comment(`fault | timestamps after the window (${canary}) | 200 ${String(future.body.verdict)} | ${future.ms} ms`)
  }
})

t.test('nothing the gate said through the table holds a key, and 5xx bodies hold no stack', async (t) => {
  // Runs last (tap runs subtests in order): `said` holds every log line and body above.
  t.ok(said.length > 50, `captured ${said.length} log lines and bodies`)
  t.same(leaks(said, [CORDUM_KEY, GATE_KEY]), [], 'no key in any log line or body')
  t.same(said.filter((s) => /"stack"\s*:/.test(s)).map((s) => s.slice(0, 600)), [], 'no stack field in any log line or body')
})
