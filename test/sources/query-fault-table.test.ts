/**
 * The fault table for Prometheus and Loki (docs/reliability.md "Faults"), through the gate's
 * HTTP API with the shipped Prometheus-and-Loki policy (analysis-templates/examples/
 * gates-prometheus.yaml): one upstream misbehaves while the other answers well. Rows already
 * covered elsewhere are not repeated here: Prometheus down, too slow, not JSON and its error
 * envelopes (query-faults.test.ts), refused, failing and empty queries against a real
 * Prometheus (prometheus-server.test.ts) and Loki's refusals (loki-source.test.ts).
 *
 * Each fault is asked at canary-2 (`on_source_error: error`: 503 with a code) and at full (made
 * `inconclusive` here); never `pass`. A stalled upstream is given up at the gate's deadline,
 * which is inside Argo's 10 s: in order (the request closed before its answer), not in time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { readConfig } from '../../src/config/env.js'
import { buildServer } from '../../src/http/server.js'
import { freePort } from '../helpers/prometheus.js'
import { leaks } from '../helpers/secrets.js'

const NOW = Date.UTC(2026, 10, 26, 12, 0, 30)
const PROM_TOKEN = 'prom-token-table-0e7c5a93b1f2d468'
const LOKI_TOKEN = 'loki-token-table-8a2d4f61c3e9b075'
const ARGO_WEB_TIMEOUT_MS = 10_000

interface Teardown { teardown: (fn: () => unknown) => void }
type Handler = (req: IncomingMessage, res: ServerResponse) => void
interface Answer { status: number, body: any, ms: number }

const said: string[] = []

/** The stages asked: both read Prometheus and Loki; `full` is made lenient below. */
const STRICT = 'canary-2'
const LENIENT = 'full'

/** The example policy with `full` answering `inconclusive` when a source fails. */
function gatesFile (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'acg-qtable-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'gates.yaml')
  const example = readFileSync('analysis-templates/examples/gates-prometheus.yaml', 'utf8')
  const lenient = example.replace('    full:\n', '    full:\n      on_source_error: inconclusive\n')
  if (lenient === example) throw new Error('the example policy changed: stage full not found')
  writeFileSync(file, lenient)
  return file
}

async function stub (t: Teardown, handler: Handler): Promise<string> {
  const server: Server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

function json (res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** A good answer to any instant or range query: values that make every arm healthy. */
const healthy: Handler = (req, res) => {
  const url = new URL(req.url ?? '', 'http://x')
  if (url.pathname.includes('/ready')) { res.end('ok'); return }
  // The example's hits queries all end in `or vector(0)`; events queries do not.
  const query = url.searchParams.get('query') ?? ''
  const value = query.includes('histogram_quantile') ? '0.2' : query.includes('queue_depth') ? '1' : query.includes('or vector(0)') ? '0' : '10000'
  if (url.pathname.includes('query_range')) {
    // Prometheus sends seconds, Loki nanoseconds; both answer in seconds.
    const unit = url.pathname.startsWith('/loki/') ? 1e9 : 1
    const [start, end] = ['start', 'end'].map((k) => Number(url.searchParams.get(k)) / unit) as [number, number]
    const step = Number(url.searchParams.get('step'))
    if (!(step > 0) || (end - start) / step > 10_000) throw new Error(`unexpected range ${url.search}`)
    const values: [number, string][] = []
    for (let at = start; at <= end; at += step) values.push([at, value])
    json(res, { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } })
    return
  }
  json(res, { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [NOW / 1000, value] }] } })
}

async function gate (t: Teardown, prom: string, loki: string): Promise<string> {
  const env = { LOG_LEVEL: 'debug', EVIDENCE_URL: 'none', GATES_FILE: gatesFile(t), PROMETHEUS_URL: prom, PROMETHEUS_BEARER_TOKEN: PROM_TOKEN, LOKI_URL: loki, LOKI_BEARER_TOKEN: LOKI_TOKEN }
  const g = await buildServer(readConfig(env), { now: () => NOW, logStream: { write: (l: string) => { said.push(l) } }, underPressure: false })
  await g.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await g.app.close())
  return `http://127.0.0.1:${(g.app.server.address() as { port: number }).port}`
}

async function score (url: string, stage: string): Promise<Answer> {
  const started = performance.now()
  const res = await request(`${url}/api/v1/score?stage=${stage}&canary=abc123&baseline=def456`)
  const text = await res.body.text()
  said.push(text)
  return { status: res.statusCode, body: JSON.parse(text), ms: Math.round(performance.now() - started) }
}

async function both (url: string): Promise<[Answer, Answer]> {
  return await Promise.all([score(url, STRICT), score(url, LENIENT)])
}

type Expect = { code: string, message: RegExp } | { verdict: 'inconclusive', reason: RegExp }

function check (t: Test, name: string, source: string, [strict, lenient]: [Answer, Answer], expect: Expect): void {
  if ('code' in expect) {
    t.equal(strict.status, 503, `${name}: 503 under on_source_error: error`)
    t.equal(strict.body.code, expect.code, `${name}: ${expect.code}`)
    t.equal(strict.body.source, source, `${name}: names ${source}`)
    t.match(strict.body.error, expect.message, `${name}: says what happened`)
    t.equal(lenient.status, 200, `${name}: 200 under on_source_error: inconclusive`)
    t.equal(lenient.body.verdict, 'inconclusive', `${name}: inconclusive`)
    t.same(lenient.body.reasonCodes, ['source_unavailable'])
  } else {
    // The upstream answered; the signal has no data: both stages judge, short of data.
    for (const a of [strict, lenient]) {
      t.equal(a.status, 200, `${name}: answered`)
      t.equal(a.body.verdict, 'inconclusive', `${name}: inconclusive`)
      t.match(JSON.stringify(a.body.signals), expect.reason, `${name}: says why`)
    }
  }
  for (const a of [strict, lenient]) t.not(a.body.verdict, 'pass', `${name}: never pass`)
  t.comment(`fault | ${name} | ${strict.status} ${String(strict.body.code ?? strict.body.verdict)} | ${strict.ms} ms | ${LENIENT} ${String(lenient.body.verdict)} ${lenient.ms} ms`)
}

/** The faulty upstream: `answer` for queries, healthy readiness. */
function faulty (answer: Handler): Handler {
  return (req, res) => {
    if ((req.url ?? '').includes('/ready')) { res.end('ok'); return }
    answer(req, res)
  }
}

/** The replies of the too-slow row: the gate must close each before it is sent. */
const slowReplies: ServerResponse[] = []

const ROWS: { name: string, answer: Handler, expect: (label: string) => Expect, only?: 'loki' }[] = [
  {
    name: 'too slow (no headers within the deadline)',
    only: 'loki',
    answer: (_req, res) => { slowReplies.push(res); setTimeout(() => { if (!res.destroyed) json(res, {}) }, 12_000) },
    expect: (label) => ({ code: 'GATE_ERR_UPSTREAM_TIMEOUT', message: new RegExp(`${label} (did not answer .* within the gate's deadline|accepted .* but sent no response headers in time)`) }),
  },
  {
    name: 'query error (400 bad_data)',
    only: 'loki',
    answer: (_req, res) => json(res, { status: 'error', errorType: 'bad_data', error: 'parse error at line 1' }, 400),
    // A refused query makes its signal unavailable; a required signal unavailable is inconclusive.
    expect: (label) => ({ verdict: 'inconclusive', reason: new RegExp(`${label} rejected the query \\(400\\): bad_data: parse error at line 1`) }),
  },
  {
    name: '5xx (500 internal)',
    only: 'loki',
    answer: (_req, res) => json(res, { status: 'error', errorType: 'internal', error: 'ingester unavailable' }, 500),
    expect: (label) => ({ code: 'GATE_ERR_UPSTREAM_STATUS', message: new RegExp(`${label} answered 500 for GET .*: internal: ingester unavailable`) }),
  },
  {
    name: 'empty result (no series)',
    only: 'loki',
    answer: (req, res) => json(res, { status: 'success', data: { resultType: (req.url ?? '').includes('query_range') ? 'matrix' : 'vector', result: [] } }),
    expect: (label) => ({ verdict: 'inconclusive', reason: new RegExp(`${label} has no data for the canary arm's events query`) }),
  },
  {
    name: 'malformed JSON',
    only: 'loki',
    answer: (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","data":{"resultType":"vector","result":[{'),
    expect: (label) => ({ code: 'GATE_ERR_UPSTREAM_RESPONSE', message: new RegExp(`${label} API\\?`) }),
  },
  {
    name: 'truncated JSON (Content-Length matches)',
    answer: (_req, res) => {
      const body = '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1'
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
    },
    expect: (label) => ({ code: 'GATE_ERR_UPSTREAM_RESPONSE', message: new RegExp(`a body that is not JSON .* the ${label} API\\?`) }),
  },
  {
    name: 'body over the 8 MiB cap (9 MiB)',
    answer: (_req, res) => {
      const head = Buffer.from('{"status":"success","data":{"resultType":"vector","result":[]}}')
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': head.length + 9 * 1024 * 1024 })
      res.write(head)
      res.end(Buffer.alloc(9 * 1024 * 1024, ' '))
    },
    expect: () => ({ code: 'GATE_ERR_UPSTREAM_RESPONSE', message: /answered with more than 8388608 bytes; refusing to read it/ }),
  },
  {
    name: 'connection reset mid-body',
    answer: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 })
      res.write('{"status":"success","data":')
      setTimeout(() => res.socket?.destroy(), 20)
    },
    expect: (label) => ({ code: 'GATE_ERR_UPSTREAM_RESPONSE', message: new RegExp(`${label} closed the connection while reading its body`) }),
  },
  {
    name: 'token echoed in a 502 error text',
    answer: (req, res) => json(res, { status: 'error', errorType: 'unavailable', error: `upstream refused ${String(req.headers.authorization)}` }, 502),
    expect: (label) => ({ code: 'GATE_ERR_UPSTREAM_STATUS', message: new RegExp(`${label} answered 502 for GET .*: unavailable: upstream refused Bearer \\[redacted\\]`) }),
  },
]

t.test('both upstreams answering well: both stages pass, having read both (each row below would pass without its fault)', async (t) => {
  const asked = { prometheus: new Set<string>(), loki: new Set<string>() }
  let stage = ''
  const counting = (name: 'prometheus' | 'loki'): Handler => (req, res) => { asked[name].add(stage); healthy(req, res) }
  const [prom, loki] = [await stub(t, counting('prometheus')), await stub(t, counting('loki'))]
  for (stage of [STRICT, LENIENT]) {
    // A gate for each: the score service would share one stage's observations with the other.
    const a = await score(await gate(t, prom, loki), stage)
    t.equal(a.body.verdict, 'pass', `${stage}: ${JSON.stringify(a.body.reasons)}`)
    t.ok(asked.prometheus.has(stage) && asked.loki.has(stage), `${stage} reads Prometheus and Loki`)
  }
})

for (const [source, label] of [['prometheus', 'Prometheus'], ['loki', 'Loki']] as const) {
  t.test(`${label} faults`, async (t) => {
    const good = await stub(t, healthy)
    if (source === 'loki') {
      // Loki down: nothing listens on its port.
      const down = await gate(t, good, `http://127.0.0.1:${await freePort()}`)
      check(t, 'Loki down (connection refused)', 'loki', await both(down), { code: 'GATE_ERR_UPSTREAM_UNREACHABLE', message: /cannot reach Loki for GET .*: connection refused/ })
    }
    for (const row of ROWS) {
      if (row.only !== undefined && row.only !== source) continue
      const bad = await stub(t, faulty(row.answer))
      const url = source === 'prometheus' ? await gate(t, bad, good) : await gate(t, good, bad)
      check(t, `${label} ${row.name}`, source, await both(url), row.expect(label))
      if (row.answer === ROWS[0]?.answer) {
        // In order, not in time: the gate closed each request before the upstream answered it.
        const closedUnanswered = await Promise.all(slowReplies.map(async (res) => await new Promise<boolean>((resolve) => {
          if (res.destroyed) resolve(!res.writableFinished)
          else res.once('close', () => resolve(!res.writableFinished))
        })))
        t.ok(closedUnanswered.length > 0 && closedUnanswered.every(Boolean), `${label} ${row.name}: the gate gave up each of its ${closedUnanswered.length} requests before the answer`)
        const deadline = readConfig({ LOKI_URL: 'http://loki:3100' }).loki?.deadlineMs
        t.ok(deadline !== undefined && deadline < ARGO_WEB_TIMEOUT_MS, `LOKI_DEADLINE_MS defaults to ${String(deadline)} ms, under Argo's ${ARGO_WEB_TIMEOUT_MS} ms`)
      }
    }
  })
}

t.test('no token in any log line or body of the table', async (t) => {
  t.ok(said.length > 20, `scanned ${said.length}`)
  t.same(leaks(said, [PROM_TOKEN, LOKI_TOKEN]), [])
})
