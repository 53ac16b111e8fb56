/**
 * The reads behind Cordum's signals. Each feed walks one Cordum list for the window and counts
 * as it goes; the source (source.ts) turns the counts into observations. One feed may serve
 * several signals: the jobs walk gives failure, schema and overload counts in one pass.
 */
import type { ObservationRequest } from '../source.js'
import { BucketCounter } from './buckets.js'
import type { JobLedger, LedgerCoverage } from './ledger.js'
import type { CallContext, CordumClient } from './client.js'
import { DEFAULT_MAX_PAGES, itemsOf, takeUntil, walkPages } from './pages.js'
import { listPage, micros, parseApproval, parseDecision, parseDlq, parseJob, parsePool, type JobRecord } from './wire.js'

/** Cordum's maximum page size (helpers.go maxListLimit). */
export const PAGE_LIMIT = 500

/** The reason codes Cordum gives output/schema violations (research/cordum-api.md section 2). */
export const SCHEMA_REASON_CODES = new Set(['schema_validation_failed', 'schema_invalid', 'output_quarantined', 'output_quarantined_async'])

const MAX_DLQ_ENTRIES = 20_000

/**
 * The jobs and DLQ walks are not sliced: one walk reads the list back to `since`, so its page
 * guard is the operator's (real Cordum keeps the newest 1000 jobs, 2-3 pages; the guard stops
 * an upstream that pages without end). The sliced decision reads keep their per-slice limit.
 */
export const MAX_PAGES_SETTING = 'CORDUM_MAX_PAGES'

export interface DecisionCounts { decisions: number, denies: number }

/** Policy decisions of one agent in the window: `GET /api/v1/governance/decisions`, all pages. */
export async function countDecisions (
  client: CordumClient, req: ObservationRequest, agentId: string | undefined, ctx: CallContext, limit = PAGE_LIMIT, maxPages = DEFAULT_MAX_PAGES, onPage?: () => void
): Promise<DecisionCounts> {
  const what = 'GET /api/v1/governance/decisions'
  const query = { since: req.since.toISOString(), until: req.until.toISOString(), agent_id: agentId, topic: req.topic, limit }
  const pages = walkPages(async (cursor) => {
    const page = listPage(await client.getJson('/api/v1/governance/decisions', { ...query, cursor }, req.tenant, ctx), what, parseDecision, 'string')
    onPage?.()
    return page
  }, { what, maxPages })
  // RFC 3339 timestamps may carry whole seconds only: a record stamped in the second that holds
  // `since` may lie inside the window (Cordum's own filter put it there), so `since` is floored.
  const sinceMs = Math.floor(req.since.getTime() / 1000) * 1000
  const untilMs = req.until.getTime()
  const counts = { decisions: 0, denies: 0 }
  for await (const d of itemsOf(pages)) {
    // Cordum filters by since/until, but a record stamped outside the window (clock skew, a
    // gateway ignoring the filter) is not counted: future records would dilute the deny rate.
    const at = Date.parse(d.timestamp)
    if (at < sinceMs || at > untilMs) continue
    counts.decisions++
    if (d.verdict.toLowerCase() === 'deny') counts.denies++
  }
  return counts
}

/**
 * The time (ms) of the agent's oldest decision in the window, or undefined when it has none:
 * the same walk as countDecisions, keeping the minimum (Cordum's order within a list is not
 * relied on). Used on one short slice only: the first that holds any of the agent's decisions.
 */
export async function firstDecision (client: CordumClient, req: ObservationRequest, agentId: string, ctx: CallContext, maxPages = DEFAULT_MAX_PAGES): Promise<number | undefined> {
  const what = 'GET /api/v1/governance/decisions'
  const query = { since: req.since.toISOString(), until: req.until.toISOString(), agent_id: agentId, topic: req.topic, limit: PAGE_LIMIT }
  const pages = walkPages(async (cursor) => listPage(await client.getJson('/api/v1/governance/decisions', { ...query, cursor }, req.tenant, ctx), what, parseDecision, 'string'), { what, maxPages })
  const sinceMs = Math.floor(req.since.getTime() / 1000) * 1000
  const untilMs = req.until.getTime()
  let first: number | undefined
  for await (const d of itemsOf(pages)) {
    const at = Date.parse(d.timestamp)
    if (at < sinceMs || at > untilMs) continue
    if (first === undefined || at < first) first = at
  }
  return first
}

/** True when the decision log has any entry for the tenant (and topic) in the window. */
export async function decisionLogHasEntries (client: CordumClient, req: ObservationRequest, ctx: CallContext): Promise<boolean> {
  const what = 'GET /api/v1/governance/decisions'
  const body = await client.getJson('/api/v1/governance/decisions', { since: req.since.toISOString(), until: req.until.toISOString(), topic: req.topic, limit: 1 }, req.tenant, ctx)
  return listPage(body, what, parseDecision, 'string').items.length > 0
}

/**
 * DLQ reason codes of the window's entries, by job id: `GET /api/v1/dlq/page` (admin), newest
 * first, walked back to `since`. Cordum has no server-side time or topic filter here.
 */
export async function dlqReasons (client: CordumClient, req: ObservationRequest, ctx: CallContext, maxPages = DEFAULT_MAX_PAGES): Promise<Map<string, string>> {
  const what = 'GET /api/v1/dlq/page'
  const sinceMs = req.since.getTime()
  const untilMs = req.until.getTime()
  const pages = walkPages(async (cursor) => listPage(await client.getJson('/api/v1/dlq/page', { limit: PAGE_LIMIT, cursor }, req.tenant, ctx), what, parseDlq, 'number'), { what, maxPages, setting: MAX_PAGES_SETTING })
  const reasons = new Map<string, string>()
  for await (const e of takeUntil(itemsOf(pages), (e) => Date.parse(e.created_at) < sinceMs)) {
    if (Date.parse(e.created_at) > untilMs) continue
    if (req.topic !== undefined && e.topic !== '' && e.topic !== req.topic) continue
    reasons.set(e.job_id, e.reason_code)
    if (reasons.size >= MAX_DLQ_ENTRIES) break
  }
  return reasons
}

export interface ArmJobCounts {
  succeeded: number
  failed: number
  timedOut: number
  quarantined: number
  /** FAILED jobs whose DLQ reason code is a schema/output violation. */
  schemaFailed: number
  overload: BucketCounter
}

export interface JobCounts {
  arms: Map<string, ArmJobCounts>
  /** Start of the part of the window the jobs list actually covers (ms). */
  coveredFromMs: number
  /** True when the list ended before reaching `since` (Cordum keeps only the newest 1000 jobs). */
  truncated: boolean
  /** Jobs of the tenant (and topic) seen in the covered window, all agents (from the ledger: the arms'). */
  seen: number
  /** From the job ledger: what it covers of the window, and the gaps. */
  coverage?: LedgerCoverage
}

/** Evidence that a job was held back by overload: an overload DLQ code, or requeues by the scheduler. */
function overloaded (job: JobRecord, reason: string | undefined, overloadCodes: Set<string>): boolean {
  if (reason !== undefined && overloadCodes.has(reason)) return true
  // Cordum requeues a job that hits a retryable scheduling error (pool_overloaded, no_workers,
  // ...), raising `attempts`; such a job is PENDING again meanwhile.
  if (job.state === 'PENDING' && job.attempts >= 1) return true
  return job.attempts >= 2 && job.state !== 'FAILED' && job.state !== 'TIMEOUT'
}

/**
 * Jobs updated in the window, grouped by agent for the given arms: `GET /api/v1/jobs`.
 *
 * Cordum filters this list in Go *after* reading `limit` rows of its recent-jobs index and sets
 * next_cursor only when a page is full after filtering, so server-side filters end the paging
 * early. The walk therefore sends only `cursor` (starting at `until`, microseconds), filters
 * topic and window here, and computes the next cursor itself (oldest updated_at - 1) for as long
 * as pages come back non-empty.
 */
export async function countJobs (
  client: CordumClient, req: ObservationRequest, arms: string[], dlq: Map<string, string> | undefined, ctx: CallContext, maxPages = DEFAULT_MAX_PAGES
): Promise<JobCounts> {
  const what = 'GET /api/v1/jobs'
  const sinceUs = micros(req.since)
  const untilUs = micros(req.until)
  const overloadCodes = new Set(req.overloadReasonCodes)
  const result = emptyCounts(req, arms)
  const pages = walkPages(async (cursor) => {
    const page = listPage(await client.getJson('/api/v1/jobs', { limit: PAGE_LIMIT, cursor: cursor ?? untilUs }, req.tenant, ctx), what, parseJob, 'number')
    const oldest = page.items.reduce((min, j) => Math.min(min, j.updated_at), Infinity)
    return { items: page.items, next: page.items.length === 0 || oldest < sinceUs ? null : oldest - 1 }
  }, { what, maxPages, setting: MAX_PAGES_SETTING })
  for await (const items of pages) {
    for (const job of items) {
      if (job.updated_at > untilUs) continue
      if (job.updated_at < sinceUs) { result.truncated = false; continue }
      if (req.topic !== undefined && job.topic !== req.topic) continue
      result.seen++
      result.coveredFromMs = Math.min(result.coveredFromMs, Math.floor(job.updated_at / 1000))
      tally(result, job, dlq, overloadCodes)
    }
  }
  if (!result.truncated) result.coveredFromMs = req.since.getTime()
  return result
}

function emptyCounts (req: ObservationRequest, arms: string[]): JobCounts {
  const result: JobCounts = { arms: new Map(), coveredFromMs: req.until.getTime(), truncated: true, seen: 0 }
  for (const arm of arms) {
    result.arms.set(arm, { succeeded: 0, failed: 0, timedOut: 0, quarantined: 0, schemaFailed: 0, overload: new BucketCounter(req.subIntervalMinutes) })
  }
  return result
}

/** Counts one job of the window into its arm (jobs of other agents are ignored). */
function tally (result: JobCounts, job: JobRecord, dlq: Map<string, string> | undefined, overloadCodes: Set<string>): void {
  const arm = result.arms.get(job.agent_id)
  if (arm === undefined) return
  const reason = dlq?.get(job.id)
  arm.overload.add(job.updated_at / 1000, overloaded(job, reason, overloadCodes))
  switch (job.state) {
    case 'SUCCEEDED': arm.succeeded++; break
    case 'FAILED':
      arm.failed++
      if (reason !== undefined && SCHEMA_REASON_CODES.has(reason)) arm.schemaFailed++
      break
    case 'TIMEOUT': arm.timedOut++; break
    case 'OUTPUT_QUARANTINED': arm.quarantined++; break
  }
}

/**
 * The same counts from the job ledger (ledger.ts): every job of the arms it saw updated in the
 * window, each once with its newest state, and what it covers of the window.
 */
export async function countJobsFromLedger (ledger: JobLedger, req: ObservationRequest, arms: string[], dlq: Map<string, string> | undefined, ctx: CallContext, refresh = true): Promise<JobCounts> {
  const sinceMs = req.since.getTime()
  const untilMs = req.until.getTime()
  if (refresh) await ledger.refresh(req.tenant, sinceMs, untilMs, ctx)
  const [coverage, jobs] = await Promise.all([ledger.coverage(req.tenant, sinceMs, untilMs), ledger.jobs(req.tenant, arms, sinceMs, untilMs)])
  const result = emptyCounts(req, arms)
  const overloadCodes = new Set(req.overloadReasonCodes)
  for (const j of jobs) {
    if (req.topic !== undefined && j.topic !== req.topic) continue
    result.seen++
    tally(result, { id: j.id, state: j.state, updated_at: j.updatedUs, agent_id: j.agentId, tenant: req.tenant, topic: j.topic, attempts: j.attempts }, dlq, overloadCodes)
  }
  result.coverage = coverage
  result.truncated = coverage.share < 1
  result.coveredFromMs = coverage.coveredFromMs
  return result
}

export interface ArmBacklog { pending: number, oldestUpdatedUs: number | undefined }

export interface Backlog {
  arms: Map<string, ArmBacklog>
  /** True when more approvals are pending than one page holds: counts are lower bounds. */
  more: boolean
}

/**
 * Pending approvals per arm: `GET /api/v1/approvals?include_resolved=false` (admin). Cordum
 * lists pending approvals oldest first and its cursor does not page that order reliably, so
 * the gate reads one full page; the oldest approvals, which decide the age rule, are on it.
 */
export async function approvalBacklog (client: CordumClient, req: ObservationRequest, arms: string[], ctx: CallContext): Promise<Backlog> {
  const what = 'GET /api/v1/approvals'
  const body = await client.getJson('/api/v1/approvals', { include_resolved: false, limit: PAGE_LIMIT, cursor: micros(req.until) }, req.tenant, ctx)
  const page = listPage(body, what, parseApproval, 'number')
  const out: Backlog = { arms: new Map(arms.map((a) => [a, { pending: 0, oldestUpdatedUs: undefined }])), more: page.next !== null }
  const untilUs = micros(req.until)
  for (const item of page.items) {
    const job = item.job
    if (job.updated_at > untilUs) continue
    if (req.topic !== undefined && job.topic !== req.topic) continue
    if (item.approval_status !== '' && item.approval_status !== 'pending') continue
    const arm = out.arms.get(job.agent_id)
    if (arm === undefined) continue
    arm.pending++
    arm.oldestUpdatedUs = Math.min(arm.oldestUpdatedUs ?? Infinity, job.updated_at)
  }
  return out
}

/** Pools at or over 90% utilization (`GET /api/v1/pools`, admin), for a note next to overload. */
export async function busyPools (client: CordumClient, req: ObservationRequest, ctx: CallContext): Promise<{ name: string, utilization: number }[]> {
  const body = await client.getJson('/api/v1/pools', {}, req.tenant, ctx)
  return listPage(body, 'GET /api/v1/pools', parsePool, 'number').items.filter((p) => p.utilization >= 0.9)
}
