/**
 * The commands as a user runs them: `sandbox` and `serve` as separate processes talking over
 * loopback, configured by environment, stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

interface Proc { child: ChildProcess, lines: string[], exited: Promise<number | null> }

function run (args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let buffer = ''
  child.stdout?.on('data', (d: Buffer) => {
    buffer += String(d)
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts)
  })
  child.stderr?.on('data', (d: Buffer) => lines.push(`stderr: ${String(d)}`))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, lines, exited }
}

async function waitFor (p: Proc, pattern: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    for (const line of p.lines) {
      const m = pattern.exec(line)
      if (m !== null) return m
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no line matching ${String(pattern)} in:\n${p.lines.join('\n')}`)
}

async function stop (p: Proc): Promise<number | null> {
  p.child.kill('SIGTERM')
  return await p.exited
}

t.test('serve against a separately started sandbox, with keys on both sides', async (t) => {
  const sandbox = run(['sandbox', '--port', '0'], {})
  t.teardown(() => { sandbox.child.kill('SIGKILL') })
  const [, sandboxUrl] = await waitFor(sandbox, /Cordum sandbox listening at (http:\/\/\S+)/) as [string, string]
  const gate = run(['serve'], { PORT: '0', HOST: '127.0.0.1', CORDUM_URL: sandboxUrl, CORDUM_API_KEY: 'sandbox-admin-key', GATE_API_KEYS: 'process-test-key-0123456789', LOG_LEVEL: 'info', EVIDENCE_URL: 'none' })
  t.teardown(() => { gate.child.kill('SIGKILL') })
  const [, gateUrl] = await waitFor(gate, /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/) as [string, string]
  t.notMatch(gate.lines[0], /demo mode/, 'not demo mode when CORDUM_URL is set')
  t.ok(gate.lines.some((l) => l.includes('the Cordum key may read everything the gates policy needs')), 'an admin key: said once, no warning')
  const res = await request(`${gateUrl}/api/v1/score?stage=canary-1&canary=support-agent-failing&baseline=support-agent-stable`, { headers: { 'x-api-key': 'process-test-key-0123456789' } })
  const body = await res.body.json() as { verdict: string, triggers: { name: string, fired: boolean }[] }
  t.equal(res.statusCode, 200)
  t.equal(body.verdict, 'fail')
  t.ok(body.triggers.some((x) => x.name === 'error_rate_ratio' && x.fired))
  t.equal(await stop(gate), 0, 'serve exits 0 on SIGTERM')
  t.ok(gate.lines.some((l) => /"msg":"closing"/.test(l)), 'and says it is closing')
  t.notOk(gate.lines.join('\n').includes('process-test-key-0123456789') || gate.lines.join('\n').includes('sandbox-admin-key'), 'no key in the logs')
  t.equal(await stop(sandbox), 0, 'sandbox exits 0 on SIGTERM')
})

t.test('serve with a Cordum viewer key, as docs/cordum.md shows: one warning per refused read before it listens, /readyz degraded', async (t) => {
  const sandbox = run(['sandbox', '--port', '0'], {})
  t.teardown(() => { sandbox.child.kill('SIGKILL') })
  const [, sandboxUrl] = await waitFor(sandbox, /Cordum sandbox listening at (http:\/\/\S+)/) as [string, string]
  const gate = run(['serve'], { PORT: '0', HOST: '127.0.0.1', CORDUM_URL: sandboxUrl, CORDUM_API_KEY: 'sandbox-viewer-key', LOG_LEVEL: 'info', EVIDENCE_URL: 'none' })
  t.teardown(() => { gate.child.kill('SIGKILL') })
  const [, gateUrl] = await waitFor(gate, /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/) as [string, string]
  const listening = gate.lines.findIndex((l) => l.includes('Server listening'))
  const warnings = gate.lines.slice(0, listening).map((l) => JSON.parse(l) as { level: number, endpoint?: string, msg: string }).filter((l) => l.level === 40)
  t.same(warnings.map((w) => w.endpoint), ['GET /api/v1/approvals', 'GET /api/v1/dlq/page'], 'one warning per refused read, before the address')
  t.match(warnings[0]?.msg, /needs role admin .*approval_backlog is unavailable, so stages canary-1, canary-2 and full cannot pass/)
  const ready = await request(`${gateUrl}/readyz`)
  const body = await ready.body.json() as { status: string, degraded: { endpoint: string }[] }
  t.equal(ready.statusCode, 200)
  t.same([body.status, body.degraded.map((d) => d.endpoint)], ['ready', ['GET /api/v1/approvals', 'GET /api/v1/dlq/page']], 'ready, and degraded naming them')
  t.notOk(gate.lines.join('\n').includes('sandbox-viewer-key'), 'no key in the logs')
  t.equal(await stop(gate), 0)
  t.equal(await stop(sandbox), 0)
})

t.test('npm start without CORDUM_URL: demo mode, said on the first log line', async (t) => {
  const gate = run(['serve'], { PORT: '0', HOST: '127.0.0.1', CORDUM_URL: '', LOG_LEVEL: 'info', EVIDENCE_URL: 'none' })
  t.teardown(() => { gate.child.kill('SIGKILL') })
  const [, gateUrl] = await waitFor(gate, /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/) as [string, string]
  t.match(JSON.parse(gate.lines[0] as string), { msg: /^demo mode/ })
  const res = await request(`${gateUrl}/api/v1/score?stage=canary-1&canary=support-agent-too-new&baseline=support-agent-stable`)
  t.match(await res.body.json(), { verdict: 'inconclusive', reasonCodes: ['insufficient_data'] })
  t.equal(await stop(gate), 0)
})

t.test('serve refuses a bad environment with the variable named', async (t) => {
  const gate = run(['serve'], { PORT: 'eighty' })
  t.equal(await gate.exited, 1)
  t.match(gate.lines.join('\n'), /PORT: must be a whole number/)
})
