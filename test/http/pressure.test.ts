import t from 'tap'
import { readConfig } from '../../src/config/env.js'
import { buildServer } from '../../src/http/server.js'

t.test('under pressure the gate sheds load with 503 GATE_ERR_UNAVAILABLE and Retry-After, never a verdict', async (t) => {
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', EVIDENCE_URL: 'none' }), { underPressure: { maxEventLoopUtilization: 0.5 } })
  t.teardown(async () => await gate.app.close())
  await gate.app.ready()
  const ok = await gate.app.inject('/healthz')
  t.equal(ok.statusCode, 200)
  // Keep the event loop busy for most of a sampling interval (1 s).
  const until = Date.now() + 900
  while (Date.now() < until) { /* busy */ }
  // The next sample (within 1 s) sees the busy loop; ask until the gate reports pressure.
  let res = await gate.app.inject('/api/v1/score?stage=canary-1&canary=support-agent-healthy')
  for (let i = 0; i < 30 && res.statusCode !== 503; i++) {
    await new Promise((r) => setTimeout(r, 50))
    res = await gate.app.inject('/api/v1/score?stage=canary-1&canary=support-agent-healthy')
  }
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'GATE_ERR_UNAVAILABLE')
  t.ok(res.headers['retry-after'] !== undefined, 'Retry-After is set')
  t.notOk('verdict' in res.json())
})
