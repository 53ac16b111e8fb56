/**
 * The sandbox's Cordum routes: the same paths, query parameters, field names, units (µs for
 * jobs, RFC 3339 for decisions and DLQ), limits and paging quirks as research/cordum-api.md
 * gives for the real gateway. Each handler gets the parsed request and returns a status and a
 * JSON body; auth and faults are applied around them (gateway.ts).
 */
import { AGENTS, type AgentProfile } from './scenarios.js'
import { collectBackward, dlqKey, HORIZON_MS, jobAt, jobsBetween, lastJobAt, maxLagMs, parseJobId, recentBoundaryMs, submittedAt, updatedKey, type Job } from './model.js'

export interface Caller { role: 'admin' | 'viewer', tenant: string }

export interface RouteRequest {
  path: string
  query: URLSearchParams
  caller: Caller
  now: number
}

export interface RouteResponse { status: number, body: unknown, headers?: Record<string, string> }

export type Handler = (r: RouteRequest) => RouteResponse

/** Cordum's error envelope {error, code, status}. */
export function cordumError (status: number, error: string, code: string): RouteResponse {
  return { status, body: { error, code, status } }
}

const MAX_LIST_LIMIT = 500

export function limitOf (q: URLSearchParams, fallback: number): number {
  const v = Number.parseInt(q.get('limit') ?? '', 10)
  if (!Number.isFinite(v) || v <= 0) return fallback
  return Math.min(v, MAX_LIST_LIMIT)
}

/** Cordum accepts s, ms, µs or ns epoch integers and normalises them to microseconds. */
export function toMicros (raw: string | null): number | undefined {
  if (raw === null || raw.trim() === '') return undefined
  const v = Number(raw)
  if (!Number.isFinite(v) || v <= 0) return undefined
  if (v < 1e11) return v * 1e6
  if (v < 1e14) return v * 1e3
  if (v < 1e17) return v
  return Math.floor(v / 1e3)
}

function rfc3339OrMs (raw: string | null): number | undefined | 'bad' {
  if (raw === null || raw === '') return undefined
  if (/^\d+$/.test(raw)) return Number(raw)
  const t = Date.parse(raw)
  return Number.isNaN(t) ? 'bad' : t
}

const sameTenant = (tenant: string) => (a: AgentProfile): boolean => a.tenant === tenant

export function jobRecord (job: Job): Record<string, unknown> {
  const a = job.agent
  return {
    id: job.id,
    worker_id: job.state === 'RUNNING' || job.state === 'SUCCEEDED' ? `worker-${a.pool}-${job.j % 4}` : '',
    trace_id: `trace-${job.id}`,
    updated_at: job.updatedMs * 1000,
    state: job.state,
    topic: a.topic,
    tenant: a.tenant,
    team: '',
    principal: '',
    actor_id: a.agentId,
    actor_type: 'agent',
    idempotency_key: `idem-${job.id}`,
    capability: a.topic.replace(/^job\./, ''),
    risk_tags: [],
    requires: [],
    pack_id: '',
    attempts: job.attempts,
    agent_id: a.agentId,
    agent_name: a.agentId,
    agent_risk_tier: 'medium',
    safety_decision: job.verdict.toUpperCase(),
    safety_reason: job.verdict === 'deny' ? 'refund exceeds the agent\'s limit' : '',
    safety_rule_id: ruleOf(job),
    safety_snapshot: 'sandbox-policy-1',
    deadline_unix: 0,
  }
}

function ruleOf (job: Job): string {
  return job.verdict === 'deny' ? 'deny-refund-over-limit' : job.verdict === 'require_approval' ? 'approve-refund-over-100' : 'allow-support'
}

export const listJobs: Handler = ({ query, caller, now }) => {
  const limit = limitOf(query, 50)
  const tenant = query.get('tenant')
  if (tenant !== null && tenant !== '' && tenant !== caller.tenant) return cordumError(403, 'tenant access denied', 'FORBIDDEN')
  const cursorUs = toMicros(query.get('cursor'))
  const after = toMicros(query.get('updated_after'))
  const before = toMicros(query.get('updated_before'))
  const state = (query.get('state') ?? '').toUpperCase()
  const topic = query.get('topic') ?? ''
  const start = cursorUs === undefined ? now : Math.min(now, Math.floor(cursorUs / 1000))
  // Like Cordum: read `limit` rows of the recent index (all tenants), filter afterwards.
  const rows = collectBackward(start, recentBoundaryMs(now), now, () => true, updatedKey, limit)
  const items = rows.filter((j) => j.agent.tenant === caller.tenant &&
    (state === '' || j.state === state) && (topic === '' || j.agent.topic === topic) &&
    (after === undefined || j.updatedMs * 1000 >= after) && (before === undefined || j.updatedMs * 1000 <= before)).map(jobRecord)
  const last = items[items.length - 1] as { updated_at: number } | undefined
  return { status: 200, body: { items, next_cursor: items.length === limit && last !== undefined ? last.updated_at - 1 : null } }
}

export const getJob: Handler = ({ path, caller, now }) => {
  const ref = parseJobId(decodeURIComponent(path.slice('/api/v1/jobs/'.length)))
  const job = ref === undefined ? undefined : jobAt(ref.agentIndex, ref.j, now)
  if (job === undefined) return cordumError(404, 'job not found', 'NOT_FOUND')
  if (job.agent.tenant !== caller.tenant) return cordumError(403, 'tenant access denied', 'FORBIDDEN')
  const body: Record<string, unknown> = { ...jobRecord(job), labels: { agent_id: job.agent.agentId }, workflow_id: '', run_id: '', step_id: '' }
  if ((job.state === 'FAILED' || job.state === 'TIMEOUT' || job.state === 'OUTPUT_QUARANTINED') && job.reasonCode !== undefined) {
    Object.assign(body, { error_code: job.reasonCode, error_message: reasonText(job.reasonCode), error_status: dlqStatus(job), last_state: 'RUNNING' })
  }
  return { status: 200, body }
}

export interface DecisionCursor { t: number, a: number }

export function encodeCursor (c: DecisionCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url')
}

function decodeCursor (raw: string | null): DecisionCursor | undefined | 'bad' {
  if (raw === null || raw === '') return undefined
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as DecisionCursor
    return typeof c.t === 'number' && typeof c.a === 'number' ? c : 'bad'
  } catch {
    return 'bad'
  }
}

/**
 * The decision log's window and cursor as Cordum reads them: since/until inclusive, RFC 3339 or
 * epoch ms, until clamped to now, since defaulting to a day back; or the 400 Cordum answers.
 */
export function decisionWindow (query: URLSearchParams, now: number): { since: number, until: number, cursor: DecisionCursor | undefined } | RouteResponse {
  const sinceQ = rfc3339OrMs(query.get('since'))
  const untilQ = rfc3339OrMs(query.get('until'))
  if (sinceQ === 'bad') return cordumError(400, 'invalid since: use RFC3339 or unix milliseconds', 'BAD_REQUEST')
  if (untilQ === 'bad') return cordumError(400, 'invalid until: use RFC3339 or unix milliseconds', 'BAD_REQUEST')
  const until = Math.min(untilQ ?? now, now)
  const since = sinceQ ?? until - 24 * 3600_000
  if (until < since) return cordumError(400, 'until must not be before since', 'BAD_REQUEST')
  const cursor = decodeCursor(query.get('cursor'))
  if (cursor === 'bad') return cordumError(400, 'invalid cursor', 'BAD_REQUEST')
  return { since, until, cursor }
}

/** Policy decision log: one decision per submitted job, newest first, filtered server-side. */
export const listDecisions: Handler = ({ query, caller, now }) => {
  const limit = limitOf(query, 50)
  const w = decisionWindow(query, now)
  if ('status' in w) return w
  const { since, until, cursor } = w
  const verdict = query.get('verdict') ?? ''
  const agentId = query.get('agent_id') ?? ''
  const topic = query.get('topic') ?? ''
  // One descending iterator per agent, merged by (timestamp desc, agent index asc).
  const heads: { i: number, j: number }[] = []
  AGENTS.forEach((a, i) => {
    if (a.tenant !== caller.tenant || (agentId !== '' && a.agentId !== agentId) || (topic !== '' && a.topic !== topic)) return
    let j = lastJobAt(a, cursor === undefined ? until : Math.min(until, cursor.t))
    if (cursor !== undefined && j >= 0 && submittedAt(a, j) === cursor.t && i <= cursor.a) j--
    heads.push({ i, j })
  })
  const items: Record<string, unknown>[] = []
  let last: DecisionCursor | undefined
  while (items.length < limit) {
    let best: { i: number, j: number } | undefined
    for (const h of heads) {
      if (h.j < 0 || submittedAt(AGENTS[h.i] as AgentProfile, h.j) < since) continue
      if (best === undefined || submittedAt(AGENTS[h.i] as AgentProfile, h.j) > submittedAt(AGENTS[best.i] as AgentProfile, best.j)) best = h
    }
    if (best === undefined) break
    const job = jobAt(best.i, best.j, now) as Job
    best.j--
    if (verdict !== '' && job.verdict !== verdict) continue
    items.push({
      job_id: job.id,
      topic: job.agent.topic,
      matched_rule: ruleOf(job),
      verdict: job.verdict,
      reason: job.verdict === 'deny' ? 'refund exceeds the agent\'s limit' : '',
      constraints: null,
      approval_status: job.verdict === 'require_approval' ? (job.state === 'APPROVAL_REQUIRED' ? 'pending' : 'approved') : '',
      approval_decision: '',
      agent_id: job.agent.agentId,
      policy_version: 'sandbox-policy-1',
      timestamp: new Date(job.submittedMs).toISOString(),
    })
    last = { t: job.submittedMs, a: job.agentIndex }
  }
  return { status: 200, body: { items, next_cursor: items.length === limit && last !== undefined ? encodeCursor(last) : null } }
}

function dlqStatus (job: Job): string {
  return job.state === 'DENIED' ? 'JOB_STATUS_DENIED' : job.state === 'TIMEOUT' ? 'JOB_STATUS_TIMEOUT' : 'JOB_STATUS_FAILED'
}

function reasonText (code: string): string {
  const texts: Record<string, string> = {
    safety_denied: 'denied by safety policy at dispatch',
    tool_error: 'worker reported: tool call failed',
    timeout: 'timeout: RUNNING exceeded',
    output_quarantined: 'output policy quarantined the result',
    schema_validation_failed: 'result does not match output schema',
  }
  return texts[code] ?? code
}

function dlqEntry (job: Job): Record<string, unknown> {
  return {
    job_id: job.id,
    topic: job.agent.topic,
    status: dlqStatus(job),
    reason: reasonText(job.reasonCode as string),
    reason_code: job.reasonCode,
    last_state: job.state === 'DENIED' ? 'PENDING' : 'RUNNING',
    attempts: job.attempts,
    created_at: new Date(job.dlqMs as number).toISOString(),
  }
}

/** DLQ, newest first; Cordum has no time or topic filter here, and filters tenants per entry. */
function dlqPage (query: URLSearchParams, caller: Caller, now: number, withCursor: boolean): RouteResponse {
  const limit = limitOf(query, 100)
  const cursorUs = withCursor ? toMicros(query.get('cursor')) : undefined
  const start = cursorUs === undefined ? now : Math.min(now, Math.floor(cursorUs / 1000))
  const rows = collectBackward(start, now - HORIZON_MS, now, () => true, dlqKey, limit)
  const items = rows.filter((j) => j.agent.tenant === caller.tenant).map(dlqEntry)
  if (!withCursor) return { status: 200, body: { items } }
  const last = rows[rows.length - 1]
  return { status: 200, body: { items, next_cursor: rows.length === limit && last !== undefined ? (last.dlqMs as number) * 1000 - 1 : null } }
}

export const listDlq: Handler = ({ query, caller, now }) => dlqPage(query, caller, now, false)
export const listDlqPage: Handler = ({ query, caller, now }) => dlqPage(query, caller, now, true)

/** Approvals: pending (and, by default, recently resolved) approval items, oldest first. */
export const listApprovals: Handler = ({ query, caller, now }) => {
  const limit = limitOf(query, 100)
  const includeResolved = (query.get('include_resolved') ?? 'true') !== 'false'
  const cursorUs = toMicros(query.get('cursor')) ?? now * 1000
  const agents = sameTenant(caller.tenant)
  const lag = Math.max(...AGENTS.map(maxLagMs))
  const pending = jobsBetween(now - lag, now, now, agents, (j) => (j.state === 'APPROVAL_REQUIRED' ? j.updatedMs : undefined))
  const resolved = includeResolved ? jobsBetween(now - 3600_000, now, now, agents, (j) => (j.verdict === 'require_approval' && j.state !== 'APPROVAL_REQUIRED' ? j.approvalResolvedMs : undefined)) : []
  const all = [...pending, ...resolved].filter((j) => j.updatedMs * 1000 <= cursorUs).sort((x, y) => x.updatedMs - y.updatedMs).slice(0, limit)
  const items = all.map((job) => {
    const open = job.state === 'APPROVAL_REQUIRED'
    const item: Record<string, unknown> = {
      job: jobRecord(job),
      decision: 'REQUIRE_APPROVAL',
      policy_snapshot: 'sandbox-policy-1',
      policy_rule_id: 'approve-refund-over-100',
      policy_reason: 'refunds over 100 need a human',
      constraints: null,
      job_hash: `hash-${job.id}`,
      approval_required: true,
      approval_ref: `appr-${job.id}`,
      approval_status: open ? 'pending' : 'approved',
      approval_actionability: open ? 'actionable' : 'resolved',
      approval_revision: 1,
      approval_decision: open ? '' : 'approved',
      submitted_by: job.agent.agentId,
      workflow_id: '',
      gate_type: 'policy',
    }
    if (!open) Object.assign(item, { resolved_by: 'oncall@example.com', resolution: 'approved', resolved_at: new Date(job.approvalResolvedMs as number).toISOString() })
    return item
  })
  const last = all[all.length - 1]
  return { status: 200, body: { items, next_cursor: all.length === limit && last !== undefined ? last.updatedMs * 1000 - 1 : null } }
}

const POOLS: Record<string, number> = { support: 0.62, 'support-canary': 0.97, billing: 0.41 }

export const listPools: Handler = () => ({
  status: 200,
  body: {
    items: Object.entries(POOLS).map(([name, utilization]) => ({ name, workers: 4, active_jobs: Math.round(utilization * 32), capacity: 32, utilization })),
  },
})

const started = Date.now()

export const status: Handler = ({ now }) => ({
  status: 200,
  body: {
    time: new Date(now).toISOString(),
    uptime_seconds: Math.round((Date.now() - started) / 1000),
    build: { version: 'sandbox', commit: '', date: '' },
    nats: { connected: true, status: 'CONNECTED' },
    redis: { ok: true, status: 'ok' },
    workers: 12,
    license: { plan: 'sandbox' },
  },
})
