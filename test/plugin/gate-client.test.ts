/**
 * The plugin's HTTP client for POST /api/v1/score (undici 7) against a real loopback server:
 * each way the gate can fail is an upstream GateError with source "gate", never a verdict.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { GateClient } from '../../src/plugin/gate-client.js'
import { failure } from '../helpers/failure.js'

const KEY = 'k-123-secret'

async function server (handle: (body: string, res: ServerResponse, headers: Record<string, unknown>) => void): Promise<{ url: URL, close: () => Promise<void>, srv: Server }> {
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { handle(body, res, req.headers) })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  return { url: new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/api/v1/score`), srv, close: () => new Promise((resolve) => { srv.closeAllConnections(); srv.close(() => { resolve() }) }) }
}

const json = (res: ServerResponse, status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(typeof body === 'string' ? body : JSON.stringify(body)) }

t.test('a 200 ScoreResponse is parsed; the request is JSON with the API key header', async (t) => {
  let seen: { body: string, headers: Record<string, unknown> } | undefined
  const s = await server((body, res, headers) => { seen = { body, headers }; json(res, 200, { verdict: 'pass', score: 97, stage: 'canary-1', summary: 'PASS', reasons: ['a'], decisionId: 'd1', signals: [] }) })
  t.teardown(s.close)
  const client = new GateClient()
  t.teardown(() => client.close())
  const v = await client.score(s.url, { stage: 'canary-1', canary: 'c' }, { apiKey: KEY, timeoutMs: 2000 })
  t.strictSame(v, { verdict: 'pass', score: 97, summary: 'PASS', reasons: ['a'], decisionId: 'd1', stage: 'canary-1' })
  t.strictSame(JSON.parse(seen?.body ?? ''), { stage: 'canary-1', canary: 'c' })
  t.equal(seen?.headers['x-api-key'], KEY)
  t.equal(seen?.headers['content-type'], 'application/json')
})

t.test('every failure is an upstream GateError naming what went wrong', async (t) => {
  const answers: Record<string, (res: ServerResponse) => void> = {
    '/503': (res) => json(res, 503, { error: 'cordum timed out', code: 'GATE_ERR_UPSTREAM_TIMEOUT', source: 'cordum' }),
    '/401': (res) => json(res, 401, { error: 'bad key', code: 'GATE_ERR_UNAUTHORIZED' }),
    '/html': (res) => { res.writeHead(502); res.end('<html>bad gateway</html>') },
    '/notjson': (res) => json(res, 200, 'pass'),
    '/string': (res) => json(res, 200, '"pass"'),
    '/verdict': (res) => json(res, 200, { verdict: 'PASS', score: 97, summary: 's' }),
    '/score': (res) => json(res, 200, { verdict: 'pass', score: 101, summary: 's' }),
    '/reasons': (res) => json(res, 200, { verdict: 'pass', score: 1, summary: 's', reasons: [1] }),
    '/huge': (res) => json(res, 200, { verdict: 'pass', score: 1, summary: 'x'.repeat(2 << 20) }),
    '/slow': (res) => { setTimeout(() => { json(res, 200, { verdict: 'pass', score: 100, summary: 'late' }) }, 1500).unref() },
    '/stall': (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"verdict":') /* never ends */ },
  }
  const s = await server((_b, res) => { (answers[(res.req.url ?? '').replace('/api/v1/score', '')] ?? answers['/503'])!(res) })
  t.teardown(s.close)
  const client = new GateClient()
  t.teardown(() => client.close())
  const at = (path: string): URL => new URL(`${s.url.origin}${path}`)
  const expect: Array<[string, string, RegExp]> = [
    ['/503', 'GATE_ERR_UPSTREAM_STATUS', /gate answered HTTP 503: cordum timed out \(GATE_ERR_UPSTREAM_TIMEOUT\)/],
    ['/401', 'GATE_ERR_UPSTREAM_AUTH', /refused the plugin's API key with HTTP 401: bad key/],
    ['/html', 'GATE_ERR_UPSTREAM_STATUS', /gate answered HTTP 502 \(/],
    ['/notjson', 'GATE_ERR_UPSTREAM_RESPONSE', /invalid body from .*: not JSON$/],
    ['/string', 'GATE_ERR_UPSTREAM_RESPONSE', /not a JSON object/],
    ['/verdict', 'GATE_ERR_UPSTREAM_RESPONSE', /verdict is "PASS"/],
    ['/score', 'GATE_ERR_UPSTREAM_RESPONSE', /score is 101/],
    ['/reasons', 'GATE_ERR_UPSTREAM_RESPONSE', /reasons is not a list of strings/],
    ['/huge', 'GATE_ERR_UPSTREAM_RESPONSE', /over 1048576 bytes/],
    ['/slow', 'GATE_ERR_UPSTREAM_TIMEOUT', /did not answer within 0.3s/],
    ['/stall', 'GATE_ERR_UPSTREAM_TIMEOUT', /did not finish its answer within 0.3s/],
  ]
  for (const [path, code, message] of expect) {
    const err = await failure(client.score(at(path), { stage: 's', canary: 'c' }, { apiKey: KEY, timeoutMs: 300 }))
    t.equal(err.code, code, `${path}: ${code}`)
    t.equal(err.source, 'gate')
    t.match(err.message, message)
    t.notOk(err.message.includes(KEY), `${path}: key not in the message`)
  }

  await s.close()
  const fresh = new GateClient() // no pooled connection: a plain refused connect
  t.teardown(() => fresh.close())
  const gone = await failure(fresh.score(s.url, { stage: 's', canary: 'c' }, { timeoutMs: 1000 }))
  t.equal(gone.code, 'GATE_ERR_UPSTREAM_UNREACHABLE')
  t.match(gone.message, /gate unreachable at http:\/\/127\.0\.0\.1:\d+\/api\/v1\/score: connect ECONNREFUSED/)
  const stale = await failure(client.score(s.url, { stage: 's', canary: 'c' }, { timeoutMs: 1000 }))
  t.equal(stale.code, 'GATE_ERR_UPSTREAM_UNREACHABLE', 'a pooled connection the gate closed: also unreachable, never a verdict')
})
