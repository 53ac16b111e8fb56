/**
 * Contract tests of the Cordum client against the sandbox over real loopback HTTP: paging,
 * the jobs cap, timeouts at each phase, retries, bad bodies and auth, each mapped to the
 * project's error codes.
 */
import t from 'tap'
import { GateError } from '../../src/errors.js'
import { SANDBOX_VIEWER_KEY } from '../../src/sandbox/gateway.js'
import { AGENTS } from '../../src/sandbox/scenarios.js'
import { lastJobAt, submittedAt } from '../../src/sandbox/model.js'
import { CordumClient, parseRetryAfter, type CordumClientOptions } from '../../src/sources/cordum/client.js'
import { countDecisions, countJobs } from '../../src/sources/cordum/feeds.js'
import { listPage, parseJob } from '../../src/sources/cordum/wire.js'
import { CordumSource } from '../../src/sources/cordum/source.js'
import { blackhole } from '../helpers/blackhole.js'
import { decisionLog } from '../helpers/decision-log.js'
import { eventually, timerFrom } from '../helpers/order.js'
import { call, request, SANDBOX_ADMIN_KEY, sandboxFor, specs, T0 } from '../helpers/sandbox.js'
import { failure } from '../helpers/failure.js'

function client (t: { teardown: (fn: () => unknown) => void }, url: string, opts: Partial<CordumClientOptions> = {}): CordumClient {
  const c = new CordumClient({ url, apiKey: SANDBOX_ADMIN_KEY, ...opts })
  t.teardown(async () => await c.close())
  return c
}

/** Decisions of one agent with t in [since, until], straight from the model's arithmetic. */
function expectedDecisions (agentId: string, since: number, until: number): number {
  const a = AGENTS.find((x) => x.agentId === agentId)
  if (a === undefined) throw new Error(agentId)
  let first = lastJobAt(a, since)
  if (submittedAt(a, first) < since) first++
  return lastJobAt(a, until) - first + 1
}

t.test('walks every page of the decision log and counts each decision once', async (t) => {
  const sb = await sandboxFor(t)
  const c = client(t, sb.url)
  const req = request('support-agent-healthy')
  const big = await countDecisions(c, req, 'support-agent-healthy', call(), 500)
  const pagesBig = sb.stats.count('/api/v1/governance/decisions')
  sb.stats.reset()
  const small = await countDecisions(c, req, 'support-agent-healthy', call(), 37)
  const pagesSmall = sb.stats.count('/api/v1/governance/decisions')
  const expected = expectedDecisions('support-agent-healthy', req.since.getTime(), req.until.getTime())
  t.equal(big.decisions, expected, 'all decisions in the window, by the model')
  t.same(small, big, 'page size does not change the counts')
  t.equal(pagesBig, Math.ceil(expected / 500) + (expected % 500 === 0 ? 1 : 0), 'pages of 500')
  t.ok(pagesSmall >= Math.ceil(expected / 37), `many small pages (${pagesSmall})`)
  t.ok(big.denies > 0 && big.denies < big.decisions * 0.02, `denies counted (${big.denies})`)
})

t.test('a growing window grows the counts; the same window gives the same counts', async (t) => {
  const sb = await sandboxFor(t)
  const c = client(t, sb.url)
  const short = await countDecisions(c, request('support-agent-deny-spike', { since: new Date(T0 - 3600_000) }), 'support-agent-deny-spike', call())
  const long = await countDecisions(c, request('support-agent-deny-spike'), 'support-agent-deny-spike', call())
  const again = await countDecisions(c, request('support-agent-deny-spike'), 'support-agent-deny-spike', call())
  t.ok(long.decisions > short.decisions && long.denies >= short.denies, 'longer window, more decisions')
  t.same(again, long)
})

t.test('the jobs list: Cordum\'s 1000-job cap is detected and the covered part reported', async (t) => {
  const sb = await sandboxFor(t)
  const c = client(t, sb.url)
  const capped = await countJobs(c, request('support-agent-healthy'), ['support-agent-healthy'], undefined, call())
  t.ok(capped.truncated, 'a 3 h window is cut by the cap')
  t.ok(capped.coveredFromMs > T0 - 3 * 3600_000 && capped.coveredFromMs < T0 - 10 * 60_000, `coverage starts inside the window (${new Date(capped.coveredFromMs).toISOString()})`)
  t.ok(capped.seen < 1000, `only this tenant's jobs are counted (${capped.seen})`)
  const arm = capped.arms.get('support-agent-healthy')
  t.ok(arm !== undefined && arm.succeeded > 400, 'the healthy canary has most of the capped list')
  const inside = await countJobs(c, request('support-agent-healthy', { since: new Date(T0 - 10 * 60_000) }), ['support-agent-healthy'], undefined, call())
  t.notOk(inside.truncated, 'a 10 minute window fits under the cap')
  t.equal(inside.coveredFromMs, T0 - 10 * 60_000)

  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  const obs = await source.observe(request('support-agent-healthy'), specs('job_failure_rate'), new AbortController().signal)
  t.match(obs.job_failure_rate?.notes?.join(' '), /keeps only the 1000 most recent jobs/, 'the cap is said next to the verdict')
})

t.test('a cursor that repeats is refused instead of looping', async (t) => {
  const sb = await sandboxFor(t)
  const c = client(t, sb.url)
  sb.faults.add({ route: '/api/v1/governance/decisions', fault: { kind: 'repeat-cursor' } })
  const err = await failure(countDecisions(c, request('support-agent-healthy'), 'support-agent-healthy', call(), 100))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_RESPONSE')
  t.match(err.message, /cursor .* twice/)
  t.equal(sb.stats.count('/api/v1/governance/decisions'), 2, 'stopped at the first repeat')
  sb.faults.clear()
  sb.faults.add({ route: '/api/v1/jobs', fault: { kind: 'repeat-cursor' } })
  const jobs = await failure(countJobs(c, request('support-agent-healthy'), ['support-agent-healthy'], undefined, call()))
  t.equal(jobs.code, 'GATE_ERR_UPSTREAM_RESPONSE', 'the jobs walk (own cursors) is guarded too')
})

t.test('timeouts at connect, headers and body map to GATE_ERR_UPSTREAM_TIMEOUT', async (t) => {
  const bh = await blackhole()
  t.teardown(bh.close)
  const dead = client(t, `http://127.0.0.1:${bh.port}`, { connectTimeoutMs: 300, maxRetries: 0 })
  const connectErr = await failure(dead.getJson('/api/v1/status', {}, 'default', call(5_000)))
  t.equal(connectErr.code, 'GATE_ERR_UPSTREAM_TIMEOUT')
  t.match(connectErr.message, /connect timeout/)
  t.equal(connectErr.source, 'cordum')

  const sb = await sandboxFor(t)
  const c = client(t, sb.url, { headersTimeoutMs: 300, bodyTimeoutMs: 300 })
  sb.faults.add({ route: '/api/v1/status', times: 1, fault: { kind: 'delay-headers', ms: 1_500 } })
  const headersErr = await failure(c.getJson('/api/v1/status', {}, 'default', call()))
  t.equal(headersErr.code, 'GATE_ERR_UPSTREAM_TIMEOUT')
  t.match(headersErr.message, /no response headers/)

  sb.faults.add({ route: '/api/v1/jobs', times: 1, fault: { kind: 'stall-body', ms: 1_500 } })
  const bodyErr = await failure(c.getJson('/api/v1/jobs', { limit: 50 }, 'default', call()))
  t.equal(bodyErr.code, 'GATE_ERR_UPSTREAM_TIMEOUT')
  t.match(bodyErr.message, /body timeout/)
})

t.test('the overall deadline bounds every page and retry; the caller can cancel', async (t) => {
  // A decision log that answers each request 2 s late and counts those its client abandoned first.
  const slowLog = await decisionLog([], { delayMs: 2_000 })
  t.teardown(slowLog.close)
  const source = new CordumSource({ url: slowLog.url, apiKey: SANDBOX_ADMIN_KEY, deadlineMs: 400 })
  t.teardown(async () => await source.close())
  const err = await failure(source.observe(request('support-agent-healthy'), specs('policy_deny_rate'), new AbortController().signal))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_TIMEOUT')
  await eventually(() => slowLog.inFlight === 0)
  t.ok(slowLog.requests.length > 0, `${slowLog.requests.length} requests went out`)
  t.equal(slowLog.abandoned, slowLog.requests.length, 'each one was given up before its slow answer came: at the deadline, not after the answer')

  // The caller cancels while a request is in flight (the slow log holds it 2 s, well inside a
  // 10 s deadline): cancelled at that moment, not after a timer that a fast answer could beat.
  const caller = new AbortController()
  const source2 = new CordumSource({ url: slowLog.url, apiKey: SANDBOX_ADMIN_KEY, deadlineMs: 10_000 })
  t.teardown(async () => await source2.close())
  const before = slowLog.requests.length
  const pending = source2.observe(request('support-agent-healthy'), specs('policy_deny_rate'), caller.signal)
  await eventually(() => slowLog.inFlight > 0 && slowLog.requests.length > before)
  caller.abort()
  const cancelled = await failure(pending)
  t.equal(cancelled.code, 'GATE_ERR_UNAVAILABLE')
})

t.test('429: Retry-After within the deadline is honoured; beyond it, the gate gives up at once', async (t) => {
  const sb = await sandboxFor(t)
  const c = client(t, sb.url)
  sb.faults.add({ route: '/api/v1/status', times: 1, fault: { kind: 'rate-limit', retryAfter: '1' } })
  const second = timerFrom(1_000)
  const body = await c.getJson('/api/v1/status', {}, 'default', call()) as { build?: unknown }
  t.ok(body.build !== undefined, 'answered after the wait')
  t.ok(second.fired, 'only after a 1 s timer set before the first request had fired: it waited the second Cordum asked for')
  t.equal(sb.stats.count('/api/v1/status'), 2)

  sb.stats.reset()
  sb.faults.add({ route: '/api/v1/status', fault: { kind: 'rate-limit', retryAfter: '30' } })
  const err = await failure(c.getJson('/api/v1/status', {}, 'default', call(3_000)))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_STATUS')
  t.match(err.message, /429.*retry after 30 s, beyond the gate's deadline/)
  t.equal(sb.stats.count('/api/v1/status'), 1, 'no pointless retry')
  sb.faults.clear()

  sb.stats.reset()
  sb.faults.add({ route: '/api/v1/status', times: 1, fault: { kind: 'rate-limit' } })
  await c.getJson('/api/v1/status', {}, 'default', call())
  t.equal(sb.stats.count('/api/v1/status'), 2, 'without Retry-After: one backoff and a retry')
  t.equal(parseRetryAfter(new Date(Date.now() + 5_000).toUTCString()) !== undefined, true, 'HTTP-date form parses')
})

t.test('5xx: 502/503/504 are retried a bounded number of times, other statuses are not', async (t) => {
  const sb = await sandboxFor(t)
  const c = client(t, sb.url)
  sb.faults.add({ route: '/api/v1/status', times: 2, fault: { kind: 'status', status: 503 } })
  await c.getJson('/api/v1/status', {}, 'default', call())
  t.equal(sb.stats.count('/api/v1/status'), 3, 'two 503s, then success')

  sb.stats.reset()
  sb.faults.add({ route: '/api/v1/status', fault: { kind: 'status', status: 502 } })
  const err = await failure(c.getJson('/api/v1/status', {}, 'default', call()))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_STATUS')
  t.match(err.message, /Cordum answered 502 for GET \/api\/v1\/status.*internal error/)
  t.equal(sb.stats.count('/api/v1/status'), 3, 'first try and 2 retries')
  sb.faults.clear()

  sb.stats.reset()
  sb.faults.add({ route: '/api/v1/status', fault: { kind: 'status', status: 500 } })
  await failure(c.getJson('/api/v1/status', {}, 'default', call()))
  t.equal(sb.stats.count('/api/v1/status'), 1, '500 is not retried')
})

t.test('bodies the gate cannot use: malformed, truncated, cut off, not JSON', async (t) => {
  const sb = await sandboxFor(t)
  const c = client(t, sb.url)
  const cases = [
    { fault: { kind: 'malformed-json' as const }, message: /malformed or truncated JSON/ },
    { fault: { kind: 'truncated-json' as const }, message: /malformed or truncated JSON/ },
    { fault: { kind: 'reset-mid-body' as const }, message: /cut off/ },
    { fault: { kind: 'content-type' as const, value: 'text/html' }, message: /content type 'text\/html', expected JSON/ },
  ]
  for (const c0 of cases) {
    sb.faults.clear()
    sb.faults.add({ route: '/api/v1/jobs', fault: c0.fault })
    const err = await failure(c.getJson('/api/v1/jobs', { limit: 50 }, 'default', call()))
    t.equal(err.code, 'GATE_ERR_UPSTREAM_RESPONSE', c0.fault.kind)
    t.match(err.message, c0.message, c0.fault.kind)
  }
  sb.faults.clear()
  const clean = await c.getJson('/api/v1/jobs', { limit: 50 }, 'default', call())
  sb.stats.reset()
  sb.faults.add({ route: '/api/v1/jobs', times: 1, fault: { kind: 'reset-mid-body' } })
  const body = await c.getJson('/api/v1/jobs', { limit: 50 }, 'default', call())
  t.same(body, clean, 'a reset mid-body is retried')
  t.equal(sb.stats.count('/api/v1/jobs'), 2)
})

t.test('wrong shapes are refused naming the field', async (t) => {
  const what = 'GET /api/v1/jobs'
  const shape = (body: unknown): string => {
    try {
      listPage(body, what, parseJob, 'number')
    } catch (err) {
      t.equal((err as GateError).code, 'GATE_ERR_UPSTREAM_RESPONSE')
      return (err as Error).message
    }
    return 'accepted'
  }
  t.match(shape([]), /expected an object with items/)
  t.match(shape({ items: 'x' }), /items must be a list/)
  t.match(shape({ items: [{ id: 'a', state: 'SUCCEEDED', updated_at: '2026' }] }), /items\[0\] .*updated_at must be a number/)
  t.match(shape({ items: [], next_cursor: 'abc' }), /next_cursor must be an integer/)
  t.equal(shape({ items: [{ id: 'a', state: 'SUCCEEDED', updated_at: 1 }], next_cursor: null }), 'accepted')
})

t.test('401 fails the source; 403 on an admin route makes only those signals unavailable', async (t) => {
  const sb = await sandboxFor(t)
  const bad = new CordumSource({ url: sb.url, apiKey: 'not-a-sandbox-key-123' })
  t.teardown(async () => await bad.close())
  const err = await failure(bad.observe(request('support-agent-healthy'), specs('policy_deny_rate'), new AbortController().signal))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_AUTH')
  t.match(err.message, /401/)
  t.notMatch(err.message, /not-a-sandbox-key/, 'the key is never in the message')

  const viewer = new CordumSource({ url: sb.url, apiKey: SANDBOX_VIEWER_KEY })
  t.teardown(async () => await viewer.close())
  const obs = await viewer.observe(request('support-agent-healthy'), specs('policy_deny_rate', 'job_failure_rate', 'approval_backlog', 'overload_rate', 'schema_violation_rate'), new AbortController().signal)
  t.ok(obs.policy_deny_rate?.canary !== undefined, 'decisions: viewer may read')
  t.ok(obs.job_failure_rate?.canary !== undefined, 'jobs: viewer may read')
  for (const name of ['approval_backlog', 'overload_rate', 'schema_violation_rate']) {
    t.equal(obs[name]?.unavailable?.code, 'GATE_ERR_UPSTREAM_AUTH', `${name} unavailable`)
    t.match(obs[name]?.unavailable?.reason, /403/, `${name} says why`)
  }

  sb.faults.add({ route: '/api/v1/jobs', times: 1, fault: { kind: 'auth', status: 403 } })
  const admin = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await admin.close())
  const partial = await admin.observe(request('support-agent-healthy'), specs('policy_deny_rate', 'job_failure_rate'), new AbortController().signal)
  t.equal(partial.job_failure_rate?.unavailable?.code, 'GATE_ERR_UPSTREAM_AUTH', 'the refused list makes its signal unavailable')
  t.ok(partial.policy_deny_rate?.canary !== undefined, 'the others are still measured')

  // Refused everywhere (a tenant the key does not belong to): the source as a whole fails, as
  // the request's fault (a 4xx naming the tenant), not as an upstream failure.
  const wrongTenant = await failure(admin.observe(request('support-agent-healthy', { tenant: 'other' }), specs('policy_deny_rate', 'job_failure_rate'), new AbortController().signal))
  t.equal(wrongTenant.code, 'GATE_ERR_FORBIDDEN')
  t.match(wrongTenant.message, /403/)
})

t.test('an unreachable gateway is GATE_ERR_UPSTREAM_UNREACHABLE', async (t) => {
  const sb = await sandboxFor(t)
  const url = sb.url
  await sb.close()
  const c = client(t, url, { maxRetries: 1 })
  const err = await failure(c.getJson('/api/v1/status', {}, 'default', call()))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_UNREACHABLE')
  t.match(err.message, /connection refused/)
})

t.test('an empty decision log is reported as such, not as a 0% deny rate', async (t) => {
  const sb = await sandboxFor(t, { now: () => T0 })
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  // Before the sandbox's agents existed (phase offsets are after the epoch, so 1970 is empty).
  const early = request('support-agent-healthy', { since: new Date(100), until: new Date(900) })
  const obs = await source.observe(early, specs('policy_deny_rate'), new AbortController().signal)
  t.same(obs.policy_deny_rate?.canary, { n: 0, k: 0 })
  t.match(obs.policy_deny_rate?.notes?.join(' '), /decision log is empty/)
  const unknown = await source.observe(request('someone-else'), specs('policy_deny_rate'), new AbortController().signal)
  t.match(unknown.policy_deny_rate?.notes?.join(' '), /none with agent_id 'someone-else'/)
})
