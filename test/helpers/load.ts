/**
 * Load against a gate over real HTTP, for the overload and lifecycle tests and `npm run soak`:
 * a closed loop (N clients, each sends its next request when the last is answered) measures
 * capacity; an open loop (requests start on a schedule whatever the answers) drives a rate
 * the gate cannot keep up with, as Argo's many analysis runs do.
 */
import { Agent, request } from 'undici'

export interface Answer { status: number, ms: number, retryAfter?: string, code?: string, message?: string, decisionId?: string, error?: string }

export interface LoadResult { answers: Answer[], seconds: number }

/**
 * Score URLs over the sandbox scenarios, each for its own window (`until` 10 s apart, going
 * back from `now`), so neither single-flight nor the short observation cache answers them: each
 * costs the Cordum reads a new analysis run's first measurement costs. Every call gives the next.
 */
export function scoreUrls (base: string, now = Date.now()): () => string {
  const canaries = ['support-agent-healthy', 'support-agent-failing', 'support-agent-deny-spike', 'support-agent-overloaded']
  const top = Math.floor(now / 10_000) * 10_000
  let i = 0
  return () => {
    const n = i++
    return `${base}/api/v1/score?${new URLSearchParams({
      stage: 'canary-1',
canary: canaries[n % canaries.length] as string,
baseline: 'support-agent-stable',
rollout: 'support-agent',
namespace: 'load',
revision: `rev-${n}`,
      until: new Date(top - Math.floor(n / canaries.length) * 10_000).toISOString(),
    }).toString()}`
  }
}

export function dispatcher (connections = 512): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 5_000, headersTimeout: 30_000, bodyTimeout: 30_000 })
}

export async function once (url: string, agent: Agent): Promise<Answer> {
  const start = performance.now()
  try {
    const res = await request(url, { dispatcher: agent })
    const text = await res.body.text()
    const answer: Answer = { status: res.statusCode, ms: performance.now() - start }
    const retryAfter = res.headers['retry-after']
    if (typeof retryAfter === 'string') answer.retryAfter = retryAfter
    try {
      const body = JSON.parse(text) as { code?: unknown, error?: unknown, decisionId?: unknown }
      if (typeof body.code === 'string') answer.code = body.code
      if (typeof body.error === 'string') answer.message = body.error
      if (typeof body.decisionId === 'string') answer.decisionId = body.decisionId
    } catch { /* not JSON: counted by status */ }
    return answer
  } catch (err) {
    return { status: 0, ms: performance.now() - start, error: (err as { code?: string }).code ?? (err as Error).message }
  }
}

/** `clients` loops, each sending one request at a time, for `ms`. */
export async function closedLoop (next: () => string, clients: number, ms: number, agent: Agent): Promise<LoadResult> {
  const answers: Answer[] = []
  const start = performance.now()
  const until = start + ms
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < until) answers.push(await once(next(), agent))
  }))
  return { answers, seconds: (performance.now() - start) / 1000 }
}

/** `rate` requests a second for `ms`, started on schedule (in 10 ms ticks) whatever the answers. */
export async function openLoop (next: () => string, rate: number, ms: number, agent: Agent, onTick?: () => void): Promise<LoadResult> {
  const answers: Promise<Answer>[] = []
  const start = performance.now()
  while (performance.now() - start < ms) {
    const due = Math.floor((performance.now() - start) / 1000 * rate)
    while (answers.length < due) answers.push(once(next(), agent))
    onTick?.()
    await new Promise((r) => setTimeout(r, 10))
  }
  const settled = await Promise.all(answers)
  return { answers: settled, seconds: (performance.now() - start) / 1000 }
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] as number
}

/** Counts by status (0: no HTTP answer). */
export function byStatus (answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const a of answers) out[a.status] = (out[a.status] ?? 0) + 1
  return out
}

/** Shed answers by which limit shed them: the in-flight cap, or the event-loop measure that tripped. */
export function shedBy (answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const a of answers) {
    if (a.status !== 503) continue
    const why = /MAX_SCORES_IN_FLIGHT/.test(a.message ?? '') ? 'inFlightCap' : /\((\w+)\)/.exec(a.message ?? '')?.[1] ?? a.code ?? 'other'
    out[why] = (out[why] ?? 0) + 1
  }
  return out
}

/** The gate's resident memory from its own /metrics (process_resident_memory_bytes). */
export async function rssOf (base: string, agent: Agent): Promise<number> {
  const res = await request(`${base}/metrics`, { dispatcher: agent })
  const text = await res.body.text()
  const m = /^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text)
  if (res.statusCode !== 200 || m === null) throw new Error(`no process_resident_memory_bytes in /metrics (status ${res.statusCode})`)
  return Number(m[1])
}

/**
 * Response times the gate itself logged ("request completed", from request to response) for
 * requests to `path` with `status`: the time spent inside the gate, without the load
 * generator's own queueing when both share a busy machine.
 */
export function loggedTimes (lines: string[], path: string, status: number): number[] {
  const paths = new Map<string, string>()
  const times: number[] = []
  for (const line of lines) {
    if (!line.startsWith('{')) continue
    let entry: { msg?: string, reqId?: string, req?: { url?: string }, res?: { statusCode?: number }, responseTime?: number }
    try { entry = JSON.parse(line) } catch { continue }
    if (entry.reqId === undefined) continue
    if (entry.msg === 'incoming request') paths.set(entry.reqId, (entry.req?.url ?? '').split('?')[0] ?? '')
    else if (entry.msg === 'request completed' && entry.res?.statusCode === status && paths.get(entry.reqId) === path && typeof entry.responseTime === 'number') times.push(entry.responseTime)
  }
  return times
}
