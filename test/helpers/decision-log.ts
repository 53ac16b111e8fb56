/**
 * A small stand-in for Cordum's decision-log route over real loopback HTTP, with exactly the
 * semantics the slicing relies on (cordum core/controlplane/gateway/handlers_governance.go and
 * the Redis decision-log store): `since` and `until` inclusive, in milliseconds (RFC 3339 or
 * unix ms); newest first, ties by record id descending; an opaque cursor "after (t, id)";
 * next_cursor only when more records follow; timestamps sent as RFC 3339 with whole seconds,
 * as Cordum formats them. Tests control the data, and see every request: how many, which
 * window, how many were open at once, bytes sent; and can make chosen requests fail or wait.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Decision { t: number, id: string, agent: string, verdict: 'allow' | 'deny', topic?: string }

export interface SeenRequest { since: number, until: number, agent: string, cursor: string }

export interface DecisionLogOptions {
  /** Largest page the server gives, whatever `limit` asks (Cordum's is 500; smaller exercises paging). */
  maxLimit?: number
  /** Wait this long before answering each request. */
  delayMs?: number
  /** Answer 500 to requests this returns true for. */
  fail?: (r: SeenRequest) => boolean
}

export interface DecisionLog {
  url: string
  data: Decision[]
  requests: SeenRequest[]
  /** Requests open at once, at most, since the last reset. */
  maxInFlight: number
  inFlight: number
  /** Response body bytes sent since the last reset. */
  bytes: number
  /** Requests whose client went away before the answer was sent. */
  abandoned: number
  opts: DecisionLogOptions
  reset: () => void
  close: () => Promise<void>
}

function time (raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined
  if (/^\d+$/.test(raw)) return Number(raw)
  const t = Date.parse(raw)
  if (Number.isNaN(t)) throw new Error(`bad time ${raw}`)
  return t
}

/** Newest first; equal times by id descending, as Cordum's ZREVRANGEBYSCORE orders members. */
function newestFirst (a: Decision, b: Decision): number {
  return b.t - a.t || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

export async function decisionLog (data: Decision[], opts: DecisionLogOptions = {}): Promise<DecisionLog> {
  const log: DecisionLog = {
    url: '',
    data,
    requests: [],
    maxInFlight: 0,
    inFlight: 0,
    bytes: 0,
    abandoned: 0,
    opts,
    reset () {
      log.requests = []
      log.maxInFlight = log.inFlight
      log.bytes = 0
      log.abandoned = 0
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== '/api/v1/governance/decisions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
      return
    }
    const q = url.searchParams
    const until = time(q.get('until')) ?? Date.now()
    const since = time(q.get('since')) ?? until - 24 * 3600_000
    const seen: SeenRequest = { since, until, agent: q.get('agent_id') ?? '', cursor: q.get('cursor') ?? '' }
    log.requests.push(seen)
    log.inFlight++
    log.maxInFlight = Math.max(log.maxInFlight, log.inFlight)
    let gone = false
    res.on('close', () => { if (!res.writableFinished) gone = true })
    try {
      if (opts.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, opts.delayMs))
      if (gone) { log.abandoned++; return }
      if (opts.fail?.(seen) === true) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"injected","code":"INTERNAL","status":500}')
        return
      }
      const limit = Math.min(Number(q.get('limit') ?? 50), opts.maxLimit ?? 500)
      let after: { t: number, id: string } | undefined
      if (seen.cursor !== '') {
        const [t, id] = Buffer.from(seen.cursor, 'base64url').toString('utf8').split(':')
        after = { t: Number(t), id: id ?? '' }
      }
      const topic = q.get('topic') ?? ''
      const rows = log.data.filter((d) => d.t >= since && d.t <= until && (seen.agent === '' || d.agent === seen.agent) && (topic === '' || d.topic === topic) &&
        (after === undefined || d.t < after.t || (d.t === after.t && d.id < after.id))).sort(newestFirst)
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      const body = JSON.stringify({
        items: page.map((d) => ({ job_id: d.id, topic: d.topic ?? 'job.test', verdict: d.verdict, agent_id: d.agent, timestamp: new Date(Math.floor(d.t / 1000) * 1000).toISOString().replace('.000Z', 'Z') })),
        ...(rows.length > limit && last !== undefined ? { next_cursor: Buffer.from(`${last.t}:${last.id}`).toString('base64url') } : {}),
      })
      log.bytes += Buffer.byteLength(body)
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    } finally {
      log.inFlight--
    }
  }
  const server = createServer((req, res) => {
    answer(req, res).catch((err: unknown) => { res.destroy(err as Error) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  log.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return log
}

/** Decisions of `agent` with t in [since, until] (inclusive), counted straight from the data. */
export function expected (data: Decision[], agent: string, since: number, until: number): { decisions: number, denies: number } {
  const inside = data.filter((d) => d.agent === agent && d.t >= since && d.t <= until)
  return { decisions: inside.length, denies: inside.filter((d) => d.verdict === 'deny').length }
}
