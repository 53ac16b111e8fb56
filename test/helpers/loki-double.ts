/**
 * A test double of Loki's HTTP API, for the Loki source's contract tests. It is NOT Grafana
 * Loki: Debian's `loki` package is an unrelated program (MCMC linkage analysis) and Grafana
 * Loki is not installable from this project's registries, so these tests run against this
 * stand-in and say so.
 *
 * It follows Loki's documented API where the gate touches it: `POST /loki/api/v1/push` (JSON
 * streams of [nanosecond timestamp, line]), `GET /loki/api/v1/query` (time in ns) and
 * `/loki/api/v1/query_range` (start, end in ns, step in seconds), `GET /ready`, the
 * `{status, data: {resultType, result}}` envelope with string sample values, plain-text 400s
 * for parse errors, 401 "no org id" when multi-tenant and X-Scope-OrgID is missing, and the
 * rule that a selector needs a matcher that cannot match the empty string.
 *
 * It evaluates the small LogQL subset the gate's examples use, parsed by hand:
 *   [sum(] count_over_time( {l="v", l!="v", l=~"re", l!~"re"} (|= "s" | != "s" | |~ "re" | !~ "re")* [dur] ) [)] [or vector(N)]
 * a bare log selector (answered as log streams), and refuses anything else with a 400.
 * Ranges are (t - d, t]; label regexes are anchored, line regexes are not (as in Loki).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

interface Entry { ns: bigint, line: string }
interface Stream { labels: Record<string, string>, entries: Entry[] }

type Matcher = { name: string, op: '=' | '!=' | '=~' | '!~', value: string }
type LineFilter = { op: '|=' | '!=' | '|~' | '!~', value: string }
interface LogQuery { matchers: Matcher[], filters: LineFilter[] }
type Parsed =
  | { kind: 'log', log: LogQuery }
  | { kind: 'metric', log: LogQuery, rangeNs: bigint, sum: boolean, orVector?: number }

class ParseError extends Error {}

export interface LokiDouble {
  url: string
  /** Requests received, for assertions (path, query parameters, headers). */
  requests: { path: string, params: Record<string, string>, headers: Record<string, string | string[] | undefined> }[]
  close: () => Promise<void>
}

export interface LokiDoubleOptions {
  /** When set, requests must carry X-Scope-OrgID (auth_enabled: true); data is kept per tenant. */
  multiTenant?: boolean
}

const DURATION_NS: Record<string, bigint> = { ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n }

class Lexer {
  i = 0
  constructor (readonly text: string) {}
  ws (): void { while (/\s/.test(this.text[this.i] ?? '')) this.i++ }
  peek (s: string): boolean { this.ws(); return this.text.startsWith(s, this.i) }
  eat (s: string): boolean { if (this.peek(s)) { this.i += s.length; return true } return false }
  expect (s: string): void { if (!this.eat(s)) throw this.error(`expected ${s}`) }
  error (why: string): ParseError { return new ParseError(`parse error at line 1, col ${this.i + 1}: syntax error: ${why}`) }
  ident (): string {
    this.ws()
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.i))
    if (m === null) throw this.error('expected an identifier')
    this.i += m[0].length
    return m[0]
  }

  /** A Go string literal: "..." with escapes, or `raw`. */
  string (): string {
    this.ws()
    const q = this.text[this.i]
    if (q === '`') {
      const end = this.text.indexOf('`', this.i + 1)
      if (end === -1) throw this.error('unterminated raw string')
      const s = this.text.slice(this.i + 1, end)
      this.i = end + 1
      return s
    }
    if (q !== '"') throw this.error('expected a string')
    let out = ''
    for (this.i++; ; this.i++) {
      const c = this.text[this.i]
      if (c === undefined || c === '\n') throw this.error('unterminated string')
      if (c === '"') { this.i++; return out }
      if (c !== '\\') { out += c; continue }
      const e = this.text[++this.i]
      if (e === 'x') {
        const hex = this.text.slice(this.i + 1, this.i + 3)
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw this.error('invalid \\x escape')
        out += String.fromCharCode(parseInt(hex, 16))
        this.i += 2
        continue
      }
      const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' }
      if (e === undefined || simple[e] === undefined) throw this.error(`invalid escape \\${e ?? ''}`)
      out += simple[e]
    }
  }
}

function parseLog (lx: Lexer): LogQuery {
  lx.expect('{')
  const matchers: Matcher[] = []
  do {
    const name = lx.ident()
    const op = (['=~', '!~', '!=', '='] as const).find((o) => lx.eat(o))
    if (op === undefined) throw lx.error('expected a label matcher operator')
    matchers.push({ name, op, value: lx.string() })
  } while (lx.eat(','))
  lx.expect('}')
  if (!matchers.some((m) => !matches(m, ''))) {
    throw new ParseError('parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will')
  }
  const filters: LineFilter[] = []
  for (;;) {
    const op = (['|=', '!=', '|~', '!~'] as const).find((o) => lx.eat(o))
    if (op === undefined) break
    filters.push({ op, value: lx.string() })
  }
  return { matchers, filters }
}

export function parseLogQL (text: string): Parsed {
  const lx = new Lexer(text)
  let parsed: Parsed
  if (lx.peek('{')) {
    parsed = { kind: 'log', log: parseLog(lx) }
  } else {
    const sum = lx.eat('sum')
    if (sum) lx.expect('(')
    if (lx.ident() !== 'count_over_time') throw lx.error('this test double evaluates only count_over_time')
    lx.expect('(')
    const log = parseLog(lx)
    lx.expect('[')
    lx.ws()
    const m = /^(\d+)(ms|s|m|h|d)/.exec(text.slice(lx.i))
    if (m === null) throw lx.error('expected a duration')
    lx.i += m[0].length
    lx.expect(']')
    lx.expect(')')
    if (sum) lx.expect(')')
    parsed = { kind: 'metric', log, rangeNs: BigInt(m[1] as string) * (DURATION_NS[m[2] as string] as bigint), sum }
    if (lx.eat('or')) {
      if (lx.ident() !== 'vector') throw lx.error('expected vector(...) after or')
      lx.expect('(')
      lx.ws()
      const n = /^\d+(\.\d+)?/.exec(text.slice(lx.i))
      if (n === null) throw lx.error('expected a number')
      lx.i += n[0].length
      lx.expect(')')
      parsed.orVector = Number(n[0])
    }
  }
  lx.ws()
  if (lx.i !== text.length) throw lx.error(`unexpected ${JSON.stringify(text.slice(lx.i, lx.i + 10))}`)
  return parsed
}

function matches (m: Matcher, value: string): boolean {
  switch (m.op) {
    case '=': return value === m.value
    case '!=': return value !== m.value
    case '=~': return new RegExp(`^(?:${m.value})$`, 's').test(value)
    case '!~': return !new RegExp(`^(?:${m.value})$`, 's').test(value)
  }
}

function passes (f: LineFilter, line: string): boolean {
  switch (f.op) {
    case '|=': return line.includes(f.value)
    case '!=': return !line.includes(f.value)
    case '|~': return new RegExp(f.value, 's').test(line)
    case '!~': return !new RegExp(f.value, 's').test(line)
  }
}

function selected (streams: Stream[], q: LogQuery): Stream[] {
  return streams
    .filter((s) => q.matchers.every((m) => matches(m, s.labels[m.name] ?? '')))
    .map((s) => ({ labels: s.labels, entries: s.entries.filter((e) => q.filters.every((f) => passes(f, e.line))) }))
}

/** count_over_time at `t` (ns) per stream, summed if asked: the samples, possibly none. */
function evaluate (p: Extract<Parsed, { kind: 'metric' }>, streams: Stream[], t: bigint): { labels: Record<string, string>, value: number }[] {
  const per = streams
    .map((s) => ({ labels: s.labels, value: s.entries.filter((e) => e.ns > t - p.rangeNs && e.ns <= t).length }))
    .filter((x) => x.value > 0)
  let out = p.sum ? (per.length === 0 ? [] : [{ labels: {}, value: per.reduce((a, x) => a + x.value, 0) }]) : per
  if (out.length === 0 && p.orVector !== undefined) out = [{ labels: {}, value: p.orVector }]
  return out
}

function ns (raw: string | null, name: string): bigint {
  if (raw === null || !/^\d+$/.test(raw)) throw new ParseError(`invalid ${name}: expected a unix timestamp in nanoseconds, got ${raw}`)
  return BigInt(raw)
}

export async function startLokiDouble (opts: LokiDoubleOptions = {}): Promise<LokiDouble> {
  const tenants = new Map<string, Stream[]>()
  const requests: LokiDouble['requests'] = []
  const text = (res: ServerResponse, status: number, body: string): void => { res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${body}\n`) }
  const json = (res: ServerResponse, body: unknown): void => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://loki')
    requests.push({ path: url.pathname, params: Object.fromEntries(url.searchParams), headers: req.headers })
    if (url.pathname === '/ready') return text(res, 200, 'ready')
    const header = req.headers['x-scope-orgid']
    const tenant = typeof header === 'string' && header !== '' ? header : opts.multiTenant === true ? undefined : 'fake'
    if (tenant === undefined) return text(res, 401, 'no org id')
    const streams = tenants.get(tenant) ?? []
    tenants.set(tenant, streams)
    if (url.pathname === '/loki/api/v1/push' && req.method === 'POST') {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { streams: { stream: Record<string, string>, values: [string, string][] }[] }
      for (const s of body.streams) {
        const key = JSON.stringify(Object.entries(s.stream).sort())
        let stream = streams.find((x) => JSON.stringify(Object.entries(x.labels).sort()) === key)
        if (stream === undefined) { stream = { labels: s.stream, entries: [] }; streams.push(stream) }
        for (const [t, line] of s.values) stream.entries.push({ ns: BigInt(t), line })
      }
      res.writeHead(204).end()
      return
    }
    const range = url.pathname === '/loki/api/v1/query_range'
    if (url.pathname !== '/loki/api/v1/query' && !range) return text(res, 404, '404 page not found')
    try {
      const p = parseLogQL(url.searchParams.get('query') ?? '')
      if (p.kind === 'log') {
        const result = selected(streams, p.log).filter((s) => s.entries.length > 0).map((s) => ({ stream: s.labels, values: s.entries.slice(0, 100).map((e) => [String(e.ns), e.line]) }))
        return json(res, { status: 'success', data: { resultType: 'streams', result } })
      }
      const chosen = selected(streams, p.log)
      if (!range) {
        const t = ns(url.searchParams.get('time'), 'time')
        const result = evaluate(p, chosen, t).map((s) => ({ metric: s.labels, value: [Number(t / 1_000_000n) / 1000, String(s.value)] }))
        return json(res, { status: 'success', data: { resultType: 'vector', result } })
      }
      const start = ns(url.searchParams.get('start'), 'start')
      const end = ns(url.searchParams.get('end'), 'end')
      const stepNs = BigInt(Math.round(Number(url.searchParams.get('step')) * 1e9))
      if (stepNs <= 0n) throw new ParseError('invalid step: zero or negative query resolution step widths are not accepted')
      const series = new Map<string, { metric: Record<string, string>, values: [number, string][] }>()
      for (let t = start; t <= end; t += stepNs) {
        for (const s of evaluate(p, chosen, t)) {
          const key = JSON.stringify(s.labels)
          const entry = series.get(key) ?? { metric: s.labels, values: [] }
          entry.values.push([Number(t / 1_000_000n) / 1000, String(s.value)])
          series.set(key, entry)
        }
      }
      return json(res, { status: 'success', data: { resultType: 'matrix', result: [...series.values()] } })
    } catch (err) {
      if (err instanceof ParseError) return text(res, 400, err.message)
      throw err
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => text(res, 500, err.message))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Pushes one stream through the push API, in batches as Promtail would. */
export async function pushLogs (url: string, stream: { labels: Record<string, string>, values: [string, string][] }, tenant?: string): Promise<void> {
  for (let i = 0; i < stream.values.length; i += 5000) {
    const res = await fetch(`${url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(tenant === undefined ? {} : { 'x-scope-orgid': tenant }) },
      body: JSON.stringify({ streams: [{ stream: stream.labels, values: stream.values.slice(i, i + 5000) }] }),
    })
    if (res.status !== 204) throw new Error(`push answered ${res.status}: ${await res.text()}`)
  }
}
