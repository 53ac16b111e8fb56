/**
 * A stand-in for Cordum's `GET /api/v1/jobs` over real loopback HTTP with its cap: the recent
 * index holds the newest `cap` jobs of all tenants by `updated_at`; a request reads `limit`
 * rows of it at or before `cursor` (microseconds), newest first, and filters the caller's
 * tenant afterwards, as Cordum does. Jobs come from a deterministic traffic model and a clock
 * the test advances: each job is RUNNING from its submission and reaches its terminal state
 * `runMs` later, so its `updated_at` moves once.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Traffic {
  tenant: string
  agent: string
  /** Jobs a minute. */
  perMinute: number
  /** Every Nth job fails (0: none). */
  failEvery?: number
  /** From when (ms); default the model's start. */
  fromMs?: number
}

export interface JobsList {
  url: string
  now: number
  requests: number
  close: () => Promise<void>
}

export interface ModelJob { id: string, tenant: string, agent: string, submittedMs: number, endMs: number, fails: boolean }

/** Every job of the traffic submitted in [startMs, untilMs]. */
export function jobsOf (traffic: Traffic[], startMs: number, untilMs: number): ModelJob[] {
  const out: ModelJob[] = []
  traffic.forEach((tr, a) => {
    const period = 60_000 / tr.perMinute
    const from = tr.fromMs ?? startMs
    for (let i = 0; ; i++) {
      const s = Math.round(from + i * period + (a * 137) % period)
      if (s > untilMs) break
      out.push({ id: `${tr.agent}-${i}`, tenant: tr.tenant, agent: tr.agent, submittedMs: s, endMs: s + 30_000, fails: tr.failEvery !== undefined && tr.failEvery > 0 && i % tr.failEvery === 0 })
    }
  })
  return out
}

/** A job's state and updated_at (ms) at `now`. */
export function stateAt (j: ModelJob, now: number): { state: string, updatedMs: number } {
  return now < j.endMs ? { state: 'RUNNING', updatedMs: j.submittedMs } : { state: j.fails ? 'FAILED' : 'SUCCEEDED', updatedMs: j.endMs }
}

export async function jobsList (traffic: Traffic[], startMs: number, opts: { cap?: number, maxLimit?: number, delayMs?: number } = {}): Promise<JobsList> {
  const cap = opts.cap ?? 1000
  const all = jobsOf(traffic, startMs, startMs + 6 * 3_600_000).sort((a, b) => a.submittedMs - b.submittedMs)
  // The index at one clock reading, built once: only the last hour's jobs can be among the newest.
  let built: { now: number, index: Array<{ j: ModelJob, state: string, updatedMs: number }> } | undefined
  const indexAt = (now: number): Array<{ j: ModelJob, state: string, updatedMs: number }> => {
    if (built?.now === now) return built.index
    const recent = all.filter((j) => j.submittedMs <= now && j.submittedMs >= now - 3_600_000)
    const index = recent.map((j) => ({ j, ...stateAt(j, now) })).sort((a, b) => b.updatedMs - a.updatedMs || (a.j.id < b.j.id ? 1 : -1)).slice(0, cap)
    built = { now, index }
    return index
  }
  const server = createServer((req, res) => {
    if (opts.delayMs === undefined) answer(req, res)
    else setTimeout(() => answer(req, res), opts.delayMs)
  })
  const answer = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    list.requests++
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== '/api/v1/jobs') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
      return
    }
    const tenant = String(req.headers['x-tenant-id'] ?? 'default')
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 50), opts.maxLimit ?? 500)
    const cursor = Number(url.searchParams.get('cursor') ?? list.now * 1000)
    const rows = indexAt(list.now).filter((r) => r.updatedMs * 1000 <= cursor).slice(0, limit)
    const items = rows.filter((r) => r.j.tenant === tenant).map((r) => ({ id: r.j.id, state: r.state, updated_at: r.updatedMs * 1000, agent_id: r.j.agent, tenant: r.j.tenant, topic: 'job.support.reply', attempts: 0 }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items, next_cursor: rows.length === limit ? (rows[rows.length - 1] as { updatedMs: number }).updatedMs * 1000 - 1 : null }))
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const list: JobsList = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    now: startMs,
    requests: 0,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return list
}

/** Terminal jobs of an agent whose final updated_at lies in [sinceMs, untilMs] at `now`: what a perfect count sees. */
export function truth (traffic: Traffic[], startMs: number, agent: string, sinceMs: number, untilMs: number, now: number): { done: number, failed: number } {
  const jobs = jobsOf(traffic, startMs, now).filter((j) => j.agent === agent).map((j) => stateAt(j, now)).filter((s) => s.state !== 'RUNNING' && s.updatedMs >= sinceMs && s.updatedMs <= untilMs)
  return { done: jobs.length, failed: jobs.filter((s) => s.state === 'FAILED').length }
}
