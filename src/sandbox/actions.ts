/**
 * The sandbox's write routes, with Cordum's semantics (research/cordum-api.md 1.4, 1.6, 1.7):
 *   POST /api/v1/workflows/{id}/runs   Idempotency-Key (header, X-Idempotency-Key, or query):
 *                                      a resolved key answers 200 with the run it started; a key
 *                                      reserved by a request still creating its run answers 409
 *                                      RUN_IDEMPOTENCY_CONFLICT; dry_run=true flags the run
 *   POST /api/v1/workflow-runs/{id}/rerun  {from_step, dry_run}: a new run with rerun_of (the
 *                                      sandbox also honours Idempotency-Key here)
 *   GET  /api/v1/workflow-runs[/{id}]  the runs started (viewer)
 *   POST /api/v1/workflows/{id}/dry-run   each job step's decision under the live policy
 *   POST /api/v1/policy/simulate, /api/v1/policy/bundles/{id}/simulate   protojson answers
 *                                      (lowerCamelCase keys, DECISION_TYPE_* values)
 *   POST /api/v1/jobs                  body idempotency_key: a duplicate answers {job_id,
 *                                      trace_id}; require-approval answers {job_id, status:
 *                                      approval_required}; deny answers 403 with the job_id
 *   GET  /api/v1/jobs/{id}             submitted jobs with approval_status and approval_ref
 *   POST /api/v1/approvals/{job_id}/approve|reject   {reason}: resolves it; a replay answers
 *                                      200 already_approved / already_rejected
 * State lives in memory, per sandbox: separate gate processes pointed at one sandbox share it.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { cordumError, type Caller, type RouteResponse } from './routes.js'
import { BUNDLES, evaluate, LIVE_BUNDLE, policyRequestOf, WORKFLOWS, type PolicyAnswer } from './policy.js'

export interface ActionRequest {
  path: string
  query: URLSearchParams
  headers: Record<string, string | string[] | undefined>
  body: Record<string, unknown>
  caller: Caller
  now: number
}

export interface ActionRoute { admin: boolean, handle: (r: ActionRequest) => Promise<RouteResponse> }

export interface Run {
  id: string
  workflow_id: string
  status: string
  dry_run: boolean
  idempotency_key: string
  input: unknown
  rerun_of?: string
  rerun_step?: string
  created_at: string
  updated_at: string
  tenant: string
}

export interface SubmittedJob {
  id: string
  tenant: string
  topic: string
  state: string
  idempotency_key: string
  labels: Record<string, string>
  risk_tags: string[]
  capability: string
  decision: PolicyAnswer
  approval_status: string
  approval_ref: string
  approval_reason: string
  updated_us: number
  resolved_by?: string
}

/** protojson of Cordum's PolicyCheckResponse (EmitUnpopulated). */
function protojson (a: PolicyAnswer): Record<string, unknown> {
  return {
    decision: `DECISION_TYPE_${a.decision}`,
    reason: a.reason,
    redactedContextPtr: '',
    policySnapshot: 'sandbox-policy-1',
    ruleId: a.ruleId,
    constraints: null,
    approvalRequired: a.decision === 'REQUIRE_HUMAN',
    approvalRef: '',
    remediations: [],
  }
}

function idempotencyKey (r: ActionRequest): string | undefined {
  for (const h of ['idempotency-key', 'x-idempotency-key']) {
    const v = r.headers[h]
    if (typeof v === 'string' && v !== '') return v
  }
  return r.query.get('idempotency_key') ?? r.query.get('idempotency-key') ?? undefined
}

export class SandboxActions {
  /** How long creating a run takes; a repeated key inside it gets 409 RUN_IDEMPOTENCY_CONFLICT. */
  runCreateDelayMs: number
  readonly runs = new Map<string, Run>()
  readonly #runKeys = new Map<string, { runId?: string }>()
  readonly jobs = new Map<string, SubmittedJob>()
  readonly #jobKeys = new Map<string, string>()
  #next = 1

  constructor (opts: { runCreateDelayMs?: number } = {}) {
    this.runCreateDelayMs = opts.runCreateDelayMs ?? 100
  }

  route (method: string, path: string): ActionRoute | undefined {
    const m = (re: RegExp): string[] | undefined => {
      const x = re.exec(path)
      return x === null ? undefined : x.slice(1).map(decodeURIComponent)
    }
    let p: string[] | undefined
    if (method === 'POST' && (p = m(/^\/api\/v1\/workflows\/([^/]+)\/runs$/)) !== undefined) { const [id] = p as [string]; return { admin: true, handle: async (r) => await this.#startRun(r, id) } }
    if (method === 'POST' && (p = m(/^\/api\/v1\/workflows\/([^/]+)\/dry-run$/)) !== undefined) { const [id] = p as [string]; return { admin: true, handle: async () => this.#dryRun(id) } }
    if (method === 'POST' && (p = m(/^\/api\/v1\/workflow-runs\/([^/]+)\/rerun$/)) !== undefined) { const [id] = p as [string]; return { admin: true, handle: async (r) => await this.#rerun(r, id) } }
    if (method === 'GET' && path === '/api/v1/workflow-runs') return { admin: false, handle: async (r) => this.#listRuns(r) }
    if (method === 'GET' && (p = m(/^\/api\/v1\/workflow-runs\/([^/]+)$/)) !== undefined) { const [id] = p as [string]; return { admin: false, handle: async (r) => this.#getRun(r, id) } }
    if (method === 'POST' && path === '/api/v1/policy/simulate') return { admin: true, handle: async (r) => this.#simulate(r.body, LIVE_BUNDLE) }
    if (method === 'POST' && (p = m(/^\/api\/v1\/policy\/bundles\/([^/]+)\/simulate$/)) !== undefined) {
      const [id] = p as [string]
      return { admin: true, handle: async (r) => (BUNDLES[id] === undefined ? cordumError(404, 'policy bundle not found', 'NOT_FOUND') : this.#simulate((r.body.request ?? {}) as Record<string, unknown>, id)) }
    }
    if (method === 'POST' && path === '/api/v1/jobs') return { admin: false, handle: async (r) => this.#submit(r) }
    if (method === 'GET' && (p = m(/^\/api\/v1\/jobs\/(sbx-sub-\d+)$/)) !== undefined) { const [id] = p as [string]; return { admin: false, handle: async (r) => this.#getJob(r, id) } }
    if (method === 'POST' && (p = m(/^\/api\/v1\/approvals\/([^/]+)\/(approve|reject)$/)) !== undefined) { const [id, verb] = p as [string, string]; return { admin: true, handle: async (r) => this.#resolve(r, id, verb as 'approve' | 'reject') } }
    return undefined
  }

  async #keyed (r: ActionRequest, scope: string, create: () => Run | RouteResponse): Promise<RouteResponse> {
    const key = idempotencyKey(r)
    if (key === undefined) {
      const run = create()
      return 'id' in run ? { status: 200, body: { run_id: run.id }, headers: { 'x-trace-id': `trace-${run.id}` } } : run
    }
    const slot = `${r.caller.tenant}\n${scope}\n${key}`
    const held = this.#runKeys.get(slot)
    if (held !== undefined) {
      if (held.runId === undefined) return cordumError(409, 'idempotency key is reserved by a run being created', 'RUN_IDEMPOTENCY_CONFLICT')
      return { status: 200, body: { run_id: held.runId }, headers: { 'x-trace-id': `trace-${held.runId}` } }
    }
    const reservation: { runId?: string } = {}
    this.#runKeys.set(slot, reservation)
    await sleep(this.runCreateDelayMs)
    const run = create()
    if (!('id' in run)) {
      this.#runKeys.delete(slot)
      return run
    }
    run.idempotency_key = key
    reservation.runId = run.id
    return { status: 200, body: { run_id: run.id }, headers: { 'x-trace-id': `trace-${run.id}` } }
  }

  #newRun (r: ActionRequest, workflowId: string, extra: Partial<Run>): Run {
    const at = new Date(r.now).toISOString()
    const run: Run = { id: `run-${this.#next++}`, workflow_id: workflowId, status: 'running', dry_run: false, idempotency_key: '', input: r.body, created_at: at, updated_at: at, tenant: r.caller.tenant, ...extra }
    this.runs.set(run.id, run)
    return run
  }

  async #startRun (r: ActionRequest, workflowId: string): Promise<RouteResponse> {
    if (WORKFLOWS[workflowId] === undefined) return cordumError(404, 'workflow not found', 'NOT_FOUND')
    return await this.#keyed(r, `run:${workflowId}`, () => this.#newRun(r, workflowId, { dry_run: r.query.get('dry_run') === 'true' }))
  }

  async #rerun (r: ActionRequest, runId: string): Promise<RouteResponse> {
    const from = this.runs.get(runId)
    if (from === undefined || from.tenant !== r.caller.tenant) return cordumError(404, 'run not found', 'NOT_FOUND')
    const step = r.body.from_step
    if (typeof step !== 'string' || !(WORKFLOWS[from.workflow_id]?.steps ?? []).some((s) => s.step_id === step)) {
      return cordumError(400, `from_step must name a step of workflow ${from.workflow_id}`, 'RUN_NOT_RUNNABLE')
    }
    return await this.#keyed(r, `rerun:${runId}`, () => this.#newRun(r, from.workflow_id, { rerun_of: runId, rerun_step: step, dry_run: r.body.dry_run === true, input: from.input }))
  }

  #listRuns (r: ActionRequest): RouteResponse {
    const wf = r.query.get('workflow_id') ?? ''
    const items = [...this.runs.values()].filter((x) => x.tenant === r.caller.tenant && (wf === '' || x.workflow_id === wf))
    return { status: 200, body: { items, next_cursor: null } }
  }

  #getRun (r: ActionRequest, id: string): RouteResponse {
    const run = this.runs.get(id)
    return run === undefined || run.tenant !== r.caller.tenant ? cordumError(404, 'run not found', 'NOT_FOUND') : { status: 200, body: run }
  }

  #dryRun (workflowId: string): RouteResponse {
    const wf = WORKFLOWS[workflowId]
    if (wf === undefined) return cordumError(404, 'workflow not found', 'NOT_FOUND')
    const steps = wf.steps.map((s) => {
      if (s.step_type !== 'job') return { step_id: s.step_id, step_name: s.step_name, step_type: s.step_type, decision: 'N/A', reason: '', rule_id: '' }
      const a = evaluate({ topic: s.topic as string, labels: {}, riskTags: s.risk_tags ?? [], capability: '' })
      return { step_id: s.step_id, step_name: s.step_name, step_type: s.step_type, decision: a.decision === 'REQUIRE_HUMAN' ? 'REQUIRE_APPROVAL' : a.decision, reason: a.reason, rule_id: a.ruleId }
    })
    return { status: 200, body: { workflow_id: workflowId, steps } }
  }

  #simulate (body: Record<string, unknown>, bundle: string): RouteResponse {
    const request = policyRequestOf(body)
    if (request === undefined) return cordumError(400, 'topic is required', 'BAD_REQUEST')
    return { status: 200, body: protojson(evaluate(request, bundle)) }
  }

  #submit (r: ActionRequest): RouteResponse {
    if (r.caller.role !== 'admin') return cordumError(403, 'forbidden: requires jobs.write', 'FORBIDDEN')
    const b = r.body
    if (typeof b.topic !== 'string' || !/^job\./.test(b.topic)) return cordumError(400, 'topic must start with job.', 'BAD_REQUEST')
    const key = typeof b.idempotency_key === 'string' ? b.idempotency_key : ''
    const existing = key === '' ? undefined : this.#jobKeys.get(`${r.caller.tenant}\n${key}`)
    if (existing !== undefined) {
      const job = this.jobs.get(existing) as SubmittedJob
      if (job.state === 'DENIED' && job.approval_status === '') return { status: 403, body: { error: `denied: ${job.decision.reason}`, status: 403, job_id: job.id, trace_id: `trace-${job.id}` } }
      return { status: 200, body: { job_id: existing, trace_id: `trace-${existing}` } }
    }
    const labels = (typeof b.labels === 'object' && b.labels !== null ? b.labels : {}) as Record<string, string>
    const riskTags = Array.isArray(b.risk_tags) ? b.risk_tags.map(String) : []
    const capability = typeof b.capability === 'string' ? b.capability : ''
    const decision = evaluate({ topic: b.topic, labels, riskTags, capability })
    const id = `sbx-sub-${this.#next++}`
    const job: SubmittedJob = {
      id,
      tenant: r.caller.tenant,
      topic: b.topic,
      idempotency_key: key,
      labels,
      risk_tags: riskTags,
      capability,
      decision,
      state: decision.decision === 'DENY' ? 'DENIED' : decision.decision === 'REQUIRE_HUMAN' ? 'APPROVAL_REQUIRED' : 'PENDING',
      approval_status: decision.decision === 'REQUIRE_HUMAN' ? 'pending' : '',
      approval_ref: decision.decision === 'REQUIRE_HUMAN' ? `appr-${id}` : '',
      approval_reason: '',
      updated_us: r.now * 1000,
    }
    this.jobs.set(id, job)
    if (key !== '') this.#jobKeys.set(`${r.caller.tenant}\n${key}`, id)
    if (job.state === 'DENIED') return { status: 403, body: { error: `denied: ${decision.reason}`, status: 403, job_id: id, trace_id: `trace-${id}` } }
    if (job.state === 'APPROVAL_REQUIRED') return { status: 200, body: { job_id: id, status: 'approval_required' } }
    return { status: 200, body: { job_id: id, trace_id: `trace-${id}` } }
  }

  /** A submitted job as Cordum's job detail shows it. */
  detail (job: SubmittedJob): Record<string, unknown> {
    return {
      id: job.id,
      state: job.state,
      trace_id: `trace-${job.id}`,
      topic: job.topic,
      tenant: job.tenant,
      idempotency_key: job.idempotency_key,
      capability: job.capability,
      risk_tags: job.risk_tags,
      labels: job.labels,
      updated_at: job.updated_us,
      agent_id: job.labels.agent_id ?? '',
      safety_decision: job.decision.decision,
      safety_reason: job.decision.reason,
      safety_rule_id: job.decision.ruleId,
      approval_required: job.approval_ref !== '',
      approval_ref: job.approval_ref,
      approval_status: job.approval_status,
      ...(job.approval_reason === '' ? {} : { approval_reason: job.approval_reason }),
      ...(job.resolved_by === undefined ? {} : { approval_by: job.resolved_by }),
    }
  }

  #getJob (r: ActionRequest, id: string): RouteResponse {
    const job = this.jobs.get(id)
    if (job === undefined) return cordumError(404, 'job not found', 'NOT_FOUND')
    if (job.tenant !== r.caller.tenant) return cordumError(403, 'tenant access denied', 'FORBIDDEN')
    return { status: 200, body: this.detail(job) }
  }

  #resolve (r: ActionRequest, id: string, verb: 'approve' | 'reject'): RouteResponse {
    const job = this.jobs.get(id)
    if (job === undefined || job.tenant !== r.caller.tenant || job.approval_status === '') return cordumError(404, 'approval not found', 'NOT_FOUND')
    if (typeof r.body.reason !== 'string' || r.body.reason.trim() === '') return cordumError(400, 'reason is required', 'BAD_REQUEST')
    const target = verb === 'approve' ? 'approved' : 'rejected'
    if (job.approval_status === target) return { status: 200, body: { job_id: id, trace_id: `trace-${id}`, status: `already_${target}` } }
    if (job.approval_status !== 'pending') return cordumError(409, `approval already ${job.approval_status}`, 'APPROVAL_ALREADY_RESOLVED')
    job.approval_status = target
    job.approval_reason = r.body.reason
    job.resolved_by = 'sandbox-admin'
    job.state = target === 'approved' ? 'SUCCEEDED' : 'DENIED'
    job.updated_us = r.now * 1000
    return { status: 200, body: { job_id: id, trace_id: `trace-${id}` } }
  }

  /** Pending submitted jobs as approval items (GET /api/v1/approvals). */
  pendingApprovals (tenant: string): Record<string, unknown>[] {
    return [...this.jobs.values()].filter((j) => j.tenant === tenant && j.approval_status === 'pending').map((j) => ({
      job: this.detail(j),
      decision: 'REQUIRE_APPROVAL',
      policy_rule_id: j.decision.ruleId,
      policy_reason: j.decision.reason,
      approval_required: true,
      approval_ref: j.approval_ref,
      approval_status: 'pending',
      approval_actionability: 'actionable',
      gate_type: 'policy',
    }))
  }
}
