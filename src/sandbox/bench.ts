/**
 * The sandbox's bench profile: large, deterministic decision and job lists for benchmarks
 * (bench/, docs/performance.md). It is not Cordum behaviour in one respect, on purpose: unless
 * `jobsCap` is set, the jobs list has no 1000-recent-jobs cap, so a window of a million jobs per
 * arm can be read.
 *
 * Two agents (arms), `bench-canary` and `bench-baseline`. Each segment [startMs, endMs) holds
 * `perArm` decisions and `perArm` jobs per arm, evenly spaced: event j of a segment is at
 * start + floor(j * W / perArm) (ms for decisions, µs for jobs; the baseline's jobs are 1 µs
 * later so no two jobs share an updated_at). Deny and failure come from a seeded hash of
 * (arm, segment, j). Nothing is held per event: a page is computed from its cursor by
 * arithmetic, so paging any slice of a million-event segment costs O(page).
 */
import { hash01 } from './model.js'
import { cordumError, decisionWindow, encodeCursor, limitOf, toMicros, type Handler, type RouteResponse } from './routes.js'
import { SANDBOX_TENANT } from './scenarios.js'

export const BENCH_CANARY = 'bench-canary'
export const BENCH_BASELINE = 'bench-baseline'
export const BENCH_TOPIC = 'job.bench.reply'
const ARMS = [BENCH_CANARY, BENCH_BASELINE]

export interface BenchSegment {
  startMs: number
  endMs: number
  /** Decisions and jobs per arm in [startMs, endMs). */
  perArm: number
}

export interface BenchProfile {
  segments: BenchSegment[]
  /** Share of decisions denied (default 0.01, both arms). */
  denyRate?: number
  /** Share of jobs FAILED (default 0.005, both arms). */
  failRate?: number
  /**
   * When set, the jobs list holds only this many of the most recent jobs (both agents) as of the
   * sandbox's clock, as Cordum's does (1000); unset, the list is uncapped, to measure the gate
   * reading a million jobs.
   */
  jobsCap?: number
}

/** Checks a profile: segments in order, disjoint, and sparse enough for unique timestamps. */
export function checkBenchProfile (p: BenchProfile): void {
  let prevEnd = -Infinity
  for (const [i, s] of p.segments.entries()) {
    if (!Number.isInteger(s.startMs) || !Number.isInteger(s.endMs) || s.endMs <= s.startMs) throw new Error(`bench segment ${i}: startMs and endMs must be whole ms with endMs > startMs`)
    if (!Number.isInteger(s.perArm) || s.perArm < 1) throw new Error(`bench segment ${i}: perArm must be a whole number >= 1`)
    if (s.perArm > s.endMs - s.startMs) throw new Error(`bench segment ${i}: at most one decision per ms per arm (perArm <= ${s.endMs - s.startMs})`)
    if (s.startMs < prevEnd) throw new Error(`bench segment ${i}: segments must be in time order and disjoint`)
    prevEnd = s.endMs
  }
  if (p.jobsCap !== undefined && (!Number.isInteger(p.jobsCap) || p.jobsCap < 1)) throw new Error('bench jobsCap must be a whole number >= 1')
}

/** One arm's events of one segment in some unit (ms or µs): time(j) and the last j at or before t. */
class Series {
  constructor (readonly startU: number, readonly widthU: number, readonly n: number, readonly offsetU: number) {}

  time (j: number): number {
    return this.startU + Math.floor((j * this.widthU) / this.n) + this.offsetU
  }

  /** The largest j with time(j) <= t, or -1. */
  lastAtOrBefore (t: number): number {
    const x = t - this.startU - this.offsetU
    if (x < 0) return -1
    let j = Math.min(this.n - 1, Math.ceil(((x + 1) * this.n) / this.widthU) - 1)
    // The division above is a float estimate: settle it exactly.
    while (j + 1 < this.n && this.time(j + 1) <= t) j++
    while (j >= 0 && this.time(j) > t) j--
    return j
  }
}

interface Head { arm: number, seg: number, j: number, t: number }

/**
 * A descending walk over the arms' events with time <= `fromU`, merged by (time desc, arm asc),
 * skipping events at exactly `fromU` of arms <= `skipArm` (a cursor's tie-break).
 */
function * descending (series: Series[][], arms: number[], fromU: number, skipArm: number): Generator<Head> {
  const heads: Head[] = []
  for (const arm of arms) {
    const segs = series[arm] as Series[]
    for (let seg = segs.length - 1; seg >= 0; seg--) {
      let j = (segs[seg] as Series).lastAtOrBefore(fromU)
      if (j >= 0 && (segs[seg] as Series).time(j) === fromU && arm <= skipArm) j--
      if (j >= 0) { heads.push({ arm, seg, j, t: (segs[seg] as Series).time(j) }); break }
    }
  }
  while (heads.length > 0) {
    let best = 0
    for (let h = 1; h < heads.length; h++) {
      const a = heads[h] as Head
      const b = heads[best] as Head
      if (a.t > b.t || (a.t === b.t && a.arm < b.arm)) best = h
    }
    const head = heads[best] as Head
    yield { ...head }
    // Step this arm back one event, into the previous segment when this one is done.
    const segs = series[head.arm] as Series[]
    head.j--
    while (head.j < 0 && head.seg > 0) {
      head.seg--
      head.j = (segs[head.seg] as Series).n - 1
    }
    if (head.j < 0) heads.splice(best, 1)
    else head.t = (segs[head.seg] as Series).time(head.j)
  }
}

/** The bench profile's Cordum routes (decisions, jobs; empty approvals, DLQ and pools). */
export function benchRoutes (p: BenchProfile): Record<string, Handler> {
  checkBenchProfile(p)
  const denyRate = p.denyRate ?? 0.01
  const failRate = p.failRate ?? 0.005
  const decisions = ARMS.map(() => p.segments.map((s) => new Series(s.startMs, s.endMs - s.startMs, s.perArm, 0)))
  const jobs = ARMS.map((_, arm) => p.segments.map((s) => new Series(s.startMs * 1000, (s.endMs - s.startMs) * 1000, s.perArm, arm)))
  const denied = (arm: number, seg: number, j: number): boolean => hash01(arm, seg * 10_000_019 + j, 0) < denyRate
  const failed = (arm: number, seg: number, j: number): boolean => hash01(arm, seg * 10_000_019 + j, 5) < failRate
  const tenantOk = (caller: { tenant: string }): boolean => caller.tenant === SANDBOX_TENANT

  const listDecisions: Handler = ({ query, caller, now }) => {
    const limit = limitOf(query, 50)
    const w = decisionWindow(query, now)
    if ('status' in w) return w
    const { since, until, cursor } = w
    const agentId = query.get('agent_id') ?? ''
    const topic = query.get('topic') ?? ''
    const verdict = query.get('verdict') ?? ''
    const arms = tenantOk(caller) && (topic === '' || topic === BENCH_TOPIC) ? ARMS.flatMap((a, i) => (agentId === '' || agentId === a ? [i] : [])) : []
    const from = cursor === undefined ? until : Math.min(until, cursor.t)
    const items: Record<string, unknown>[] = []
    let last: { t: number, a: number } | undefined
    for (const e of descending(decisions, arms, from, cursor !== undefined && cursor.t <= until ? cursor.a : -1)) {
      if (e.t < since || items.length >= limit) break
      const v = denied(e.arm, e.seg, e.j) ? 'deny' : 'allow'
      last = { t: e.t, a: e.arm }
      if (verdict !== '' && v !== verdict) continue
      const id = `bench-${e.arm}-${e.seg}-${e.j}`
      items.push({
        job_id: id,
        topic: BENCH_TOPIC,
        matched_rule: v === 'deny' ? 'deny-refund-over-limit' : 'allow-support',
        verdict: v,
        reason: v === 'deny' ? 'refund exceeds the agent\'s limit' : '',
        constraints: null,
        approval_status: '',
        approval_decision: '',
        agent_id: ARMS[e.arm],
        policy_version: 'sandbox-policy-1',
        timestamp: new Date(e.t).toISOString(),
      })
    }
    const next = items.length === limit && last !== undefined ? encodeCursor(last) : null
    return { status: 200, body: { items, next_cursor: next } }
  }

  const listJobs: Handler = ({ query, caller, now }) => {
    const limit = limitOf(query, 50)
    const tenant = query.get('tenant')
    if (tenant !== null && tenant !== '' && tenant !== caller.tenant) return cordumError(403, 'tenant access denied', 'FORBIDDEN')
    const cursorUs = toMicros(query.get('cursor'))
    const after = toMicros(query.get('updated_after'))
    const before = toMicros(query.get('updated_before'))
    const state = (query.get('state') ?? '').toUpperCase()
    const topic = query.get('topic') ?? ''
    const from = Math.min(now * 1000, cursorUs ?? Infinity)
    const arms = tenantOk(caller) ? [0, 1] : []
    // Like Cordum: read `limit` rows of the index, filter afterwards; the index holds the newest
    // `jobsCap` jobs as of now (the last of them is `oldest`), or every job when uncapped.
    let oldest: Head | undefined
    if (p.jobsCap !== undefined) {
      let n = 0
      for (const e of descending(jobs, arms, now * 1000, -1)) {
        oldest = e
        if (++n >= p.jobsCap) break
      }
    }
    const rows: Record<string, unknown>[] = []
    for (const e of descending(jobs, arms, from, -1)) {
      if (rows.length >= limit) break
      if (oldest !== undefined && (e.t < oldest.t || (e.t === oldest.t && e.arm > oldest.arm))) break
      const fail = failed(e.arm, e.seg, e.j)
      const id = `bench-${e.arm}-${e.seg}-${e.j}`
      rows.push({
        id,
        worker_id: fail ? '' : `worker-bench-${e.j % 4}`,
        trace_id: `trace-${id}`,
        updated_at: e.t,
        state: fail ? 'FAILED' : 'SUCCEEDED',
        topic: BENCH_TOPIC,
        tenant: SANDBOX_TENANT,
        team: '',
        principal: '',
        actor_id: ARMS[e.arm],
        actor_type: 'agent',
        idempotency_key: `idem-${id}`,
        capability: 'bench.reply',
        risk_tags: [],
        requires: [],
        pack_id: '',
        attempts: 1,
        agent_id: ARMS[e.arm],
        agent_name: ARMS[e.arm],
        agent_risk_tier: 'medium',
        safety_decision: 'ALLOW',
        safety_reason: '',
        safety_rule_id: 'allow-support',
        safety_snapshot: 'sandbox-policy-1',
        deadline_unix: 0,
      })
    }
    const items = rows.filter((r) => (state === '' || r.state === state) && (topic === '' || r.topic === topic) &&
      (after === undefined || (r.updated_at as number) >= after) && (before === undefined || (r.updated_at as number) <= before))
    const lastItem = items[items.length - 1]
    return { status: 200, body: { items, next_cursor: items.length === limit && lastItem !== undefined ? (lastItem.updated_at as number) - 1 : null } }
  }

  const empty = (): RouteResponse => ({ status: 200, body: { items: [], next_cursor: null } })
  return {
    '/api/v1/governance/decisions': listDecisions,
    '/api/v1/jobs': listJobs,
    '/api/v1/approvals': empty,
    '/api/v1/dlq': () => ({ status: 200, body: { items: [] } }),
    '/api/v1/dlq/page': empty,
    '/api/v1/pools': () => ({ status: 200, body: { items: [] } }),
  }
}
