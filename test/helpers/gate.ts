/** A gate (buildServer) on a loopback port, against a sandbox, with its own DATA_DIR and gates file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { readConfig } from '../../src/config/env.js'
import { buildServer, type GateServer } from '../../src/http/server.js'
import { SANDBOX_ADMIN_KEY, type Sandbox } from '../../src/sandbox/gateway.js'

interface Teardown { teardown: (fn: () => unknown) => void }

export interface RunningGate { gate: GateServer, url: string, dataDir: string }

export async function gateFor (t: Teardown, sandbox: Sandbox, opts: { gates?: string, env?: Record<string, string>, now?: () => number } = {}): Promise<RunningGate> {
  const dataDir = mkdtempSync(join(tmpdir(), 'acg-gate-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: Record<string, string> = { LOG_LEVEL: 'silent', DATA_DIR: dataDir, CORDUM_URL: sandbox.url, CORDUM_API_KEY: SANDBOX_ADMIN_KEY, ...opts.env }
  if (opts.gates !== undefined) {
    const file = join(dataDir, 'gates.yaml')
    writeFileSync(file, opts.gates)
    env.GATES_FILE = file
  }
  const gate = await buildServer(readConfig(env), { ...(opts.now === undefined ? {} : { now: opts.now }), underPressure: false })
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await gate.app.close())
  const { port } = gate.app.server.address() as { port: number }
  return { gate, url: `http://127.0.0.1:${port}`, dataDir }
}

export async function getJson (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await request(url, { headers })
  return { status: res.statusCode, body: await res.body.json() }
}

export async function postJson (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.statusCode, body: await res.body.json() }
}

export function scoreUrl (base: string, q: Record<string, string>): string {
  return `${base}/api/v1/score?${new URLSearchParams(q).toString()}`
}
