/**
 * The sandbox's data: a deterministic function of absolute time. Agent a submits job j at
 * phase + j * period; everything about the job (policy verdict, approval wait, requeues, run
 * time, outcome) comes from a seeded hash of (a, j), and its state is read at `now`. So any
 * window gives consistent counts, a growing window only grows, and two processes agree.
 */
import { AGENTS, type AgentProfile } from './scenarios.js'

export type Verdict = 'allow' | 'deny' | 'require_approval'

export interface Job {
  agentIndex: number
  agent: AgentProfile
  j: number
  id: string
  submittedMs: number
  verdict: Verdict
  state: string
  updatedMs: number
  attempts: number
  /** Failure reason code (DLQ reason_code) for failed/denied jobs. */
  reasonCode?: string
  /** When the failure entered the DLQ. */
  dlqMs?: number
  approvalResolvedMs?: number
}

const REQUEUE_EVERY_MS = 20_000

/** A 32-bit mix (murmur3 finalizer) of three integers, mapped to [0, 1). */
export function hash01 (a: number, b: number, c: number): number {
  let h = Math.imul(a + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b, 0xc2b2ae35) ^ Math.imul(c + 0x27d4eb2f, 0x165667b1)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296
}

/** The longest a job can take from submission to its last update, per agent. */
export function maxLagMs (a: AgentProfile): number {
  const approval = a.approval > 0 ? a.approvalDelayMs[1] : 0
  return approval + 200_000 + 40_000 + 1_000
}

export function jobId (agentIndex: number, j: number): string {
  return `sbx-${agentIndex}-${j}`
}

export function parseJobId (id: string): { agentIndex: number, j: number } | undefined {
  const m = /^sbx-(\d+)-(\d+)$/.exec(id)
  if (m === null) return undefined
  const agentIndex = Number(m[1])
  const j = Number(m[2])
  return AGENTS[agentIndex] === undefined ? undefined : { agentIndex, j }
}

export function submittedAt (a: AgentProfile, j: number): number {
  return a.phaseMs + j * a.periodMs
}

/** Index of the last job submitted at or before t (may be -1). */
export function lastJobAt (a: AgentProfile, t: number): number {
  return Math.floor((t - a.phaseMs) / a.periodMs)
}

/** Job j of agent a as it stands at `now`; undefined before it is submitted. */
export function jobAt (agentIndex: number, j: number, now: number): Job | undefined {
  const a = AGENTS[agentIndex] as AgentProfile
  const t = submittedAt(a, j)
  if (j < 0 || t > now) return undefined
  const u = (salt: number): number => hash01(agentIndex, j, salt)
  const v = u(0)
  const verdict: Verdict = v < a.deny ? 'deny' : v < a.deny + a.approval ? 'require_approval' : 'allow'
  const job: Job = { agentIndex, agent: a, j, id: jobId(agentIndex, j), submittedMs: t, verdict, state: 'PENDING', updatedMs: t, attempts: 0 }
  if (verdict === 'deny') {
    return { ...job, state: 'DENIED', reasonCode: 'safety_denied', dlqMs: t }
  }
  let start = t
  if (verdict === 'require_approval') {
    const resolved = t + Math.round(a.approvalDelayMs[0] + u(1) * (a.approvalDelayMs[1] - a.approvalDelayMs[0]))
    job.approvalResolvedMs = resolved
    if (now < resolved) return { ...job, state: 'APPROVAL_REQUIRED' }
    start = resolved
  }
  let runStart = start
  job.attempts = 1
  if (u(2) < a.requeue) {
    // Held back by a retryable scheduling error (pool_overloaded): requeued every 20 s.
    const hold = 40_000 + Math.round(u(3) * 160_000)
    if (now < start + hold) {
      const requeues = Math.floor((now - start) / REQUEUE_EVERY_MS)
      return { ...job, state: 'PENDING', attempts: 1 + requeues, updatedMs: start + requeues * REQUEUE_EVERY_MS }
    }
    job.attempts = 1 + Math.floor(hold / REQUEUE_EVERY_MS)
    runStart = start + hold
  }
  const finished = runStart + 20_000 + Math.round(u(4) * 20_000)
  if (now < finished) return { ...job, state: 'RUNNING', updatedMs: runStart }
  const o = u(5)
  let state = 'SUCCEEDED'
  let reasonCode: string | undefined
  if (o < a.fail) { state = 'FAILED'; reasonCode = 'tool_error' } else if (o < a.fail + a.timeout) { state = 'TIMEOUT'; reasonCode = 'timeout' } else if (o < a.fail + a.timeout + a.quarantine) { state = 'OUTPUT_QUARANTINED'; reasonCode = 'output_quarantined' } else if (o < a.fail + a.timeout + a.quarantine + a.schemaFail) { state = 'FAILED'; reasonCode = 'schema_validation_failed' }
  const done: Job = { ...job, state, updatedMs: finished }
  if (reasonCode !== undefined) { done.reasonCode = reasonCode; done.dlqMs = finished }
  return done
}

export type AgentFilter = (a: AgentProfile) => boolean

/**
 * Jobs whose `key` time (updated_at, or DLQ time) lies in [fromMs, toMs], read at `now`, newest
 * first (ties by id). Scans each agent's submissions that can reach that range.
 */
export function jobsBetween (fromMs: number, toMs: number, now: number, keep: AgentFilter, key: (job: Job) => number | undefined): Job[] {
  const out: Job[] = []
  AGENTS.forEach((a, i) => {
    if (!keep(a)) return
    const first = Math.max(0, lastJobAt(a, fromMs - maxLagMs(a)))
    const last = lastJobAt(a, Math.min(toMs, now))
    for (let j = first; j <= last; j++) {
      const job = jobAt(i, j, now)
      if (job === undefined) continue
      const k = key(job)
      if (k !== undefined && k >= fromMs && k <= toMs) out.push(job)
    }
  })
  return out.sort((x, y) => (key(y) as number) - (key(x) as number) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
}

/** Walks newest-first from `startMs` down in chunks until `enough` items or `floorMs` is passed. */
export function collectBackward (startMs: number, floorMs: number, now: number, keep: AgentFilter, key: (job: Job) => number | undefined, enough: number): Job[] {
  const out: Job[] = []
  const chunk = 10 * 60_000
  for (let to = startMs; to >= floorMs && out.length < enough; to -= chunk + 1) {
    out.push(...jobsBetween(Math.max(floorMs, to - chunk), to, now, keep, key))
  }
  return out.slice(0, enough)
}

export const updatedKey = (job: Job): number => job.updatedMs
export const dlqKey = (job: Job): number | undefined => job.dlqMs

/** How far back the sandbox looks at all (a stand-in for Cordum's DLQ and decision-log retention). */
export const HORIZON_MS = 7 * 24 * 3600_000

/** Cordum keeps the newest 1000 jobs of all tenants in its recent-jobs index. */
export const RECENT_JOBS_CAP = 1000

const boundaryCache = new Map<number, number>()

/** updated_at (ms) of the oldest job still in the recent-jobs index at `now`. */
export function recentBoundaryMs (now: number): number {
  const second = Math.floor(now / 1000)
  const cached = boundaryCache.get(second)
  if (cached !== undefined) return cached
  const jobs = collectBackward(now, now - HORIZON_MS, now, () => true, updatedKey, RECENT_JOBS_CAP)
  const boundary = jobs.length < RECENT_JOBS_CAP ? now - HORIZON_MS : (jobs[jobs.length - 1] as Job).updatedMs
  if (boundaryCache.size > 64) boundaryCache.clear()
  boundaryCache.set(second, boundary)
  return boundary
}
