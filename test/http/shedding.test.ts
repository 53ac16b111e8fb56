/**
 * Load shedding, deterministic: the in-flight cap (MAX_SCORES_IN_FLIGHT) refuses the score
 * request past it with 503 GATE_ERR_UNAVAILABLE and Retry-After, gives the slot back however a
 * request ends, and never touches probes or /metrics; under event-loop pressure the same holds.
 * The overload under real traffic is test/http/overload.test.ts.
 */
import t from 'tap'
import { readConfig } from '../../src/config/env.js'
import { InFlightLimit, RETRY_AFTER_SECONDS } from '../../src/http/plugins/under-pressure.js'
import { buildServer } from '../../src/http/server.js'
import { gateFor, getJson, scoreUrl } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'
import { request } from 'undici'

t.test('the overload options are read from the environment and refused when wrong', async (t) => {
  t.same(readConfig({}).overload, { maxScoresInFlight: 64, maxEventLoopDelayMs: 1000, maxEventLoopUtilization: 0 })
  t.same(readConfig({ MAX_SCORES_IN_FLIGHT: '8', SHED_EVENT_LOOP_DELAY_MS: '0', SHED_EVENT_LOOP_UTILIZATION: '0.9' }).overload,
    { maxScoresInFlight: 8, maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0.9 })
  t.throws(() => readConfig({ MAX_SCORES_IN_FLIGHT: '-1' }), /^MAX_SCORES_IN_FLIGHT: must be a whole number from 0 to 100000, got '-1'/)
  t.throws(() => readConfig({ MAX_SCORES_IN_FLIGHT: 'many' }), /^MAX_SCORES_IN_FLIGHT: must be a whole number/)
  t.throws(() => readConfig({ SHED_EVENT_LOOP_DELAY_MS: '1.5' }), /^SHED_EVENT_LOOP_DELAY_MS: must be a whole number/)
  t.throws(() => readConfig({ SHED_EVENT_LOOP_UTILIZATION: '98%' }), /^SHED_EVENT_LOOP_UTILIZATION: must be a number from 0 to 1 such as 0.98, got '98%'/)
  t.throws(() => readConfig({ SHED_EVENT_LOOP_UTILIZATION: '1.5' }), /^SHED_EVENT_LOOP_UTILIZATION: must be a number from 0 to 1/)
})

t.test('InFlightLimit admits up to max, refuses the next, and frees a slot on success and on failure', async (t) => {
  const limit = new InFlightLimit(2)
  const gates: Array<() => void> = []
  const held = (): Promise<string> => new Promise((resolve) => gates.push(() => resolve('done')))
  const a = limit.run(held)
  const b = limit.run(async () => { await held(); throw new Error('upstream broke') })
  t.equal(limit.inFlight, 2)
  await t.rejects(limit.run(held), { code: 'GATE_ERR_UNAVAILABLE', message: /evaluating 2 score requests already \(MAX_SCORES_IN_FLIGHT\)/ })
  for (const open of gates) open()
  t.equal(await a, 'done')
  await t.rejects(b, /upstream broke/)
  t.equal(limit.inFlight, 0, 'both slots given back, the failed one too')
  t.equal(await limit.run(async () => 'again'), 'again')
  const unlimited = new InFlightLimit(0)
  const many = Array.from({ length: 500 }, async () => await unlimited.run(async () => await new Promise((r) => setTimeout(r, 5))))
  await Promise.all(many)
  t.pass('0 means no cap: 500 at once admitted')
})

t.test('past MAX_SCORES_IN_FLIGHT score requests get 503 + Retry-After; probes and /metrics still answer', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { env: { MAX_SCORES_IN_FLIGHT: '2' }, now: () => T0 })
  // Every Cordum call waits 400 ms, so the first two score requests hold their slots a while.
  const disarm = sandbox.faults.add({ fault: { kind: 'delay-headers', ms: 400 } })
  const canaries = ['support-agent-healthy', 'support-agent-failing', 'support-agent-deny-spike', 'support-agent-overloaded', 'support-agent-backlogged', 'support-agent-schema-drift']
  const first = canaries.slice(0, 2).map(async (canary) => await getJson(scoreUrl(url, { stage: 'canary-1', canary })))
  await new Promise((r) => setTimeout(r, 100))
  const rest = await Promise.all(canaries.slice(2).map(async (canary) => {
    const res = await request(scoreUrl(url, { stage: 'canary-1', canary }))
    return { status: res.statusCode, retryAfter: res.headers['retry-after'], body: await res.body.json() as any }
  }))
  for (const r of rest) {
    t.equal(r.status, 503, 'shed')
    t.equal(r.retryAfter, String(RETRY_AFTER_SECONDS), 'with Retry-After')
    t.equal(r.body.code, 'GATE_ERR_UNAVAILABLE')
    t.match(r.body.error, /MAX_SCORES_IN_FLIGHT/)
    t.notOk('verdict' in r.body, 'never a verdict')
  }
  t.equal((await getJson(`${url}/healthz`)).status, 200, '/healthz while full')
  const metrics = await request(`${url}/metrics`)
  t.equal(metrics.statusCode, 200, '/metrics while full')
  await metrics.body.text()
  const admitted = await Promise.all(first)
  t.same(admitted.map((r) => r.status), [200, 200], `the two admitted requests are answered: ${JSON.stringify(admitted.map((r) => r.body.error))}`)
  disarm()
  t.equal((await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-healthy' }))).status, 200, 'slots are free again')

  // A request that fails upstream gives its slot back too.
  // (Canaries not scored before, so no cached observation answers for Cordum.)
  sandbox.faults.add({ fault: { kind: 'status', status: 500 } })
  for (const canary of ['support-agent-too-new', 'support-agent-backlogged', 'support-agent-schema-drift']) {
    const failed = await getJson(scoreUrl(url, { stage: 'canary-1', canary }))
    t.equal(failed.status, 503, `upstream fault: 503 (${failed.body.code as string})`)
    t.not(failed.body.code, 'GATE_ERR_UNAVAILABLE', 'an upstream code, not a shed')
  }
  sandbox.faults.clear()
  t.equal((await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-healthy' }))).status, 200, 'after upstream faults the slots are free')
})

t.test('a repeated GET whose answer is reused is not shed: it waits on no evaluation', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { env: { MAX_SCORES_IN_FLIGHT: '1' }, now: () => T0 })
  const answered = scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-healthy' })
  const first = await getJson(answered)
  t.equal(first.status, 200)
  // The one slot is taken by an evaluation whose Cordum calls wait 400 ms each.
  const disarm = sandbox.faults.add({ fault: { kind: 'delay-headers', ms: 400 } })
  const holding = getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-failing' }))
  await new Promise((r) => setTimeout(r, 100))
  const refused = await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-deny-spike' }))
  t.equal(refused.status, 503, 'a new question is shed')
  t.match(refused.body.error, /MAX_SCORES_IN_FLIGHT/)
  const reused = await getJson(answered)
  t.equal(reused.status, 200, 'the repeated URL is answered')
  t.equal(reused.body.decisionId, first.body.decisionId, 'with the answer it had')
  t.equal((await holding).status, 200)
  disarm()
})

t.test('under event-loop pressure scores are shed, probes and /metrics are not', async (t) => {
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', EVIDENCE_URL: 'none', SHED_EVENT_LOOP_UTILIZATION: '0.5' }))
  t.teardown(async () => await gate.app.close())
  await gate.app.ready()
  const until = Date.now() + 900
  while (Date.now() < until) { /* keep the event loop busy for most of a sample */ }
  let res = await gate.app.inject('/api/v1/score?stage=canary-1&canary=support-agent-healthy')
  for (let i = 0; i < 30 && res.statusCode !== 503; i++) {
    await new Promise((r) => setTimeout(r, 50))
    const busy = Date.now() + 40
    while (Date.now() < busy) { /* stay over 50 % */ }
    res = await gate.app.inject('/api/v1/score?stage=canary-1&canary=support-agent-healthy')
  }
  t.equal(res.statusCode, 503, 'score shed')
  t.equal(res.json().code, 'GATE_ERR_UNAVAILABLE')
  t.match(res.json().error, /under pressure \(eventLoop(Utilization|Delay)\)/)
  t.equal(res.headers['retry-after'], String(RETRY_AFTER_SECONDS))
  // Same pressure sample (under-pressure samples once a second): the probes pass.
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const probe = await gate.app.inject(path)
    t.equal(probe.statusCode, 200, `${path} not shed`)
  }
  const again = await gate.app.inject('/api/v1/stages')
  t.equal(again.statusCode, 503, 'other API routes are shed too')
})
