import t from 'tap'
import { main } from '../../src/cli.js'
import { readConfig } from '../../src/config/env.js'
import { buildServer } from '../../src/http/server.js'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { T0 } from '../helpers/sandbox.js'

function io (env: Record<string, string> = {}): { out: string[], err: string[], io: Parameters<typeof main>[1] } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env } }
}

t.test('score prints the judge table from a live gate; --json the ScoreResponse', async (t) => {
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', GATE_API_KEYS: 'cli-test-key-0123456789', EVIDENCE_URL: 'none' }), { now: () => T0, underPressure: false })
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await gate.app.close())
  const url = `http://127.0.0.1:${(gate.app.server.address() as { port: number }).port}`

  const table = io({ GATE_API_KEY: 'cli-test-key-0123456789' })
  t.equal(await main(['score', '--url', url, '--stage', 'canary-2', '--canary', 'support-agent-overloaded', '--baseline', BASELINE_AGENT], table.io), 0)
  const text = table.out.join('')
  t.match(text, /^SIGNAL\s+CANARY\s+BASELINE/)
  t.match(text, /overload_ratio: FIRED/)
  t.match(text, /VERDICT FAIL\s+score 0\s+stage canary-2/)

  const json = io()
  t.equal(await main(['score', '--url', url, '--stage', 'canary-1', '--canary', 'support-agent-healthy', '--baseline', BASELINE_AGENT, '--api-key', 'cli-test-key-0123456789', '--json'], json.io), 0)
  t.equal(JSON.parse(json.out.join('')).verdict, 'pass')

  const denied = io()
  t.equal(await main(['score', '--url', url, '--stage', 'canary-1', '--canary', 'x'], denied.io), 1, 'no key: exit 1')
  t.match(denied.err.join(''), /401: an API key is required.*GATE_ERR_UNAUTHORIZED/)

  const bad = io({ GATE_API_KEY: 'cli-test-key-0123456789' })
  t.equal(await main(['score', '--url', url, '--stage', 'canary-7', '--canary', 'x'], bad.io), 1)
  t.match(bad.err.join(''), /400: stage: unknown stage 'canary-7'/)

  const usage = io()
  t.equal(await main(['score', '--stage', 'canary-1', '--canary', 'x'], usage.io), 2, 'no --url and no GATE_URL: a usage error')
  t.match(usage.err.join(''), /--url \(or GATE_URL\) is required/)
})

t.test('score in a pipeline: GATE_URL and GATE_API_KEY from the environment, --fail-on exit codes, 80 columns', async (t) => {
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', GATE_API_KEYS: 'cli-test-key-0123456789', EVIDENCE_URL: 'none' }), { now: () => T0, underPressure: false })
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await gate.app.close())
  const env = { GATE_URL: `http://127.0.0.1:${(gate.app.server.address() as { port: number }).port}`, GATE_API_KEY: 'cli-test-key-0123456789' }
  const cases: [string, string, string, number][] = [
    ['canary-1', 'support-agent-healthy', 'fail', 0],
    ['canary-1', 'support-agent-too-new', 'fail', 0],
    ['canary-1', 'support-agent-too-new', 'inconclusive', 3],
    ['canary-1', 'support-agent-failing', 'fail', 3],
    ['canary-1', 'support-agent-failing', 'inconclusive', 3],
  ]
  for (const [stage, canary, level, code] of cases) {
    const r = io(env)
    t.equal(await main(['score', '--stage', stage, '--canary', canary, '--baseline', BASELINE_AGENT, '--fail-on', level], r.io), code, `${canary} --fail-on ${level}: exit ${code}`)
    const lines = r.out.join('').split('\n')
    t.ok(lines.every((l) => l.length <= 80), `within 80 columns (longest ${Math.max(...lines.map((l) => l.length))})`)
    if (code === 3) t.match(r.err.join(''), new RegExp(`with --fail-on ${level}: exit 3`))
  }
  const wide = io(env)
  t.equal(await main(['score', '--stage', 'canary-1', '--canary', 'support-agent-failing', '--baseline', BASELINE_AGENT, '--wide'], wide.io), 0, 'no --fail-on: exit 0 whatever the verdict')
  t.match(wide.out.join(''), /^SIGNAL\s+CANARY\s+BASELINE\s+BOUND\s+THRESHOLD\s+STATUS\s+WEIGHT\n/)
  const flagWins = io({ ...env, GATE_URL: 'http://127.0.0.1:1' })
  t.equal(await main(['score', '--url', env.GATE_URL, '--stage', 'canary-1', '--canary', 'support-agent-healthy', '--json'], flagWins.io), 0, '--url wins over GATE_URL')
  const unreachable = io({ ...env, GATE_URL: 'http://127.0.0.1:1' })
  t.equal(await main(['score', '--stage', 'canary-1', '--canary', 'support-agent-healthy', '--fail-on', 'fail'], unreachable.io), 1, 'a gate that cannot be asked is exit 1, never a pass')
})

t.test('score reports an unreachable gate', async (t) => {
  const r = io()
  t.equal(await main(['score', '--url', 'http://127.0.0.1:1', '--stage', 'canary-1', '--canary', 'x'], r.io), 1)
  t.match(r.err.join(''), /cannot reach the gate at http:\/\/127\.0\.0\.1:1/)
})
