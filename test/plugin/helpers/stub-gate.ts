/**
 * A stub of the gate's score endpoint (POST /api/v1/score) for the plugin tests and bench: it
 * answers by the canary's name, the way the sandbox names its agents
 * (`support-agent-<hash>`), and records every request it got.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest { url: string, headers: IncomingHttpHeaders, body: Record<string, unknown> }

export const STUB_API_KEY = 'test-key-not-logged'

/** What the stub says per canary; the go host's scenarios use these hashes. */
export const STUB_ANSWERS: Record<string, { status: number, body: unknown, delayMs?: number }> = {
  'support-agent-healthy': {
    status: 200,
    body: { verdict: 'pass', score: 97, stage: 'canary-1', summary: 'PASS score 97: all 3 signals within limits', reasons: ['policy deny rate 0.4% within 3.0%', 'job failure rate 1.1% within 2.0%', 'approval backlog 2 pending', 'fourth reason not shown'], decisionId: 'dec-healthy', reportUrl: 'https://canary-gate.example/decisions/dec-healthy' },
  },
  'support-agent-too-new': {
    status: 200,
    body: { verdict: 'inconclusive', score: 50, stage: 'canary-1', summary: 'INCONCLUSIVE: 12 of 50 data points', reasons: ['insufficient data: 12 decisions, need 50'], decisionId: 'dec-too-new' },
  },
  'support-agent-deny-spike': {
    status: 200,
    body: { verdict: 'fail', score: 0, stage: 'canary-1', summary: 'FAIL: policy deny rate trigger fired', reasons: ['policy deny rate 8.1% (27/333, bound 3.7%-14.8%) exceeds 3.0%'], decisionId: 'dec-deny', reportUrl: 'https://canary-gate.example/decisions/dec-deny' },
  },
  'support-agent-broken': { status: 500, body: { error: 'cordum unreachable', code: 'GATE_ERR_UPSTREAM_UNREACHABLE', source: 'cordum' } },
  'support-agent-slow': { status: 200, delayMs: 2500, body: { verdict: 'pass', score: 100, summary: 'too late', reasons: [] } },
  'support-agent-garbage': { status: 200, body: { verdict: 'maybe', score: 42, summary: 'not a verdict' } },
  'support-agent-locked': { status: 200, body: { verdict: 'pass', score: 99, summary: 'never seen: wrong key' } },
}

export interface StubGate {
  url: string
  requests: RecordedRequest[]
  close: () => Promise<void>
}

export async function startStubGate (): Promise<StubGate> {
  const requests: RecordedRequest[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let body: Record<string, unknown> = {}
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> } catch { /* recorded as empty */ }
      requests.push({ url: req.url ?? '', headers: req.headers, body })
      const send = (status: number, payload: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(payload))
      }
      if (req.method !== 'POST' || req.url !== '/api/v1/score') return send(404, { error: 'not found', code: 'GATE_ERR_NOT_FOUND' })
      const canary = String(body.canary)
      const key = canary === 'support-agent-locked' ? 'another-key' : STUB_API_KEY
      if (req.headers['x-api-key'] !== key) return send(401, { error: 'missing or unknown API key', code: 'GATE_ERR_UNAUTHORIZED' })
      const answer = STUB_ANSWERS[canary] ?? { status: 400, body: { error: `unknown canary ${canary}`, code: 'GATE_ERR_BAD_REQUEST' } }
      const reply = (): void => { if (!res.destroyed) send(answer.status, answer.body) }
      if (answer.delayMs !== undefined) setTimeout(reply, answer.delayMs).unref()
      else reply()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }),
  }
}
