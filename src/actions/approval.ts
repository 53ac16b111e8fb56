/**
 * A stage's required human approval, through Cordum: the gate submits a promotion job
 * (POST /api/v1/jobs) with the analysis's key in the body's `idempotency_key`, which Cordum's
 * policy routes to a person (approval_required); every later ask submits the same key, gets the
 * same job back, and reads its approval status (GET /api/v1/jobs/{id}). The judge then holds
 * while it is pending, passes once approved, and fails when rejected (research/cordum-api.md
 * 1.2, 1.4, 1.7).
 */
import type { ApprovalPolicy } from '../config/policy.js'
import type { ApprovalObservation } from '../gate/observations.js'
import type { Judgement } from '../gate/verdict.js'
import type { NormalizedQuery } from '../service/score.js'
import type { CallContext, CordumClient } from '../sources/cordum/client.js'
import { actionKey, NO_ROLLOUT, render, templateVars } from './context.js'
import type { ApprovalTaken } from '../service/ports.js'

export interface ApprovalOutcome {
  /** What the judge sees; undefined when the gate could not learn a status (the stage then holds). */
  observation?: ApprovalObservation
  taken: ApprovalTaken
}

interface JobDetail { state?: string, approval_status?: string, approval_ref?: string, approval_reason?: string, safety_reason?: string }

export async function askApproval (client: CordumClient, q: NormalizedQuery, policy: ApprovalPolicy, judgement: Judgement, ctx: CallContext): Promise<ApprovalOutcome> {
  const key = actionKey('approval', q)
  if (key === undefined) return { taken: { status: 'skipped', topic: policy.topic, reason: NO_ROLLOUT } }
  const vars = templateVars(q)
  const labels: Record<string, string> = {
    ...Object.fromEntries(Object.entries(policy.labels).map(([k, v]) => [k, render(v, vars)])),
    // Not agent_id: Cordum counts decisions and approvals per agent_id, and the promotion job
    // must not show up in the canary's own deny rate or approval backlog.
    agent_id: 'agent-canary-gate',
    canary_agent_id: q.canary,
    rollout: vars.rollout,
    namespace: vars.namespace,
    revision: vars.revision,
    stage: vars.stage,
    requested_by: 'agent-canary-gate',
  }
  const job: Record<string, unknown> = {
    topic: policy.topic,
    prompt: `Promote ${vars.namespace === '' ? '' : `${vars.namespace}/`}${vars.rollout}${vars.revision === '' ? '' : ` revision ${vars.revision}`} (agent ${q.canary}) past stage ${vars.stage}: ${judgement.summary}`,
    idempotency_key: key,
    tenant_id: q.tenant,
    risk_tags: policy.riskTags,
    labels,
  }
  if (policy.capability !== undefined) job.capability = policy.capability
  const taken: ApprovalTaken = { status: 'pending', idempotencyKey: key, topic: policy.topic, reason: '' }
  const submitted = await client.postJson('/api/v1/jobs', {}, job, q.tenant, ctx, { idempotent: true, accept: [403] })
  const answer = submitted.body as { job_id?: unknown, status?: unknown, error?: unknown }
  if (typeof answer.job_id !== 'string' || answer.job_id === '') {
    return { taken: { ...taken, status: 'error', reason: `Cordum answered ${submitted.status} to the promotion job without a job_id${typeof answer.error === 'string' ? `: ${answer.error.slice(0, 200)}` : ''}` } }
  }
  taken.jobId = answer.job_id
  if (submitted.status === 403) {
    const reason = `Cordum's policy denied the promotion job ${answer.job_id}${typeof answer.error === 'string' ? `: ${answer.error.slice(0, 200)}` : ''}`
    return { observation: { status: 'rejected', jobId: answer.job_id, reason }, taken: { ...taken, status: 'rejected', reason } }
  }
  const detail = await client.getJson(`/api/v1/jobs/${encodeURIComponent(answer.job_id)}`, {}, q.tenant, ctx) as JobDetail
  if (typeof detail.approval_ref === 'string' && detail.approval_ref !== '') taken.approvalRef = detail.approval_ref
  const status = statusOf(detail)
  if (status === undefined) {
    return { taken: { ...taken, status: 'error', reason: `Cordum's policy did not route the promotion job ${answer.job_id} to a human (state ${detail.state ?? 'unknown'}): give topic ${policy.topic} a require-approval rule; the stage holds until it does` } }
  }
  const observation: ApprovalObservation = { status: status.status, jobId: answer.job_id }
  if (taken.approvalRef !== undefined) observation.ref = taken.approvalRef
  if (status.reason !== undefined) observation.reason = status.reason
  const said = { pending: 'waiting for a human in Cordum', approved: 'approved in Cordum', rejected: 'rejected in Cordum' }[status.status]
  return { observation, taken: { ...taken, status: status.status, reason: `promotion job ${answer.job_id} ${said}${status.reason === undefined ? '' : `: ${status.reason}`}` } }
}

/** Cordum's approval_status (or, without one, the job state) as pending / approved / rejected. */
function statusOf (d: JobDetail): { status: ApprovalObservation['status'], reason?: string } | undefined {
  const reason = d.approval_reason !== undefined && d.approval_reason !== '' ? d.approval_reason : undefined
  switch ((d.approval_status ?? '').toLowerCase()) {
    case 'pending': return { status: 'pending' }
    case 'approved': return reason === undefined ? { status: 'approved' } : { status: 'approved', reason }
    case 'rejected': return { status: 'rejected', reason: reason ?? 'rejected' }
    case 'expired': return { status: 'rejected', reason: 'the approval expired before anyone decided' }
    case 'invalidated': return { status: 'rejected', reason: 'the approval was invalidated (the job changed after it was requested)' }
  }
  if (d.state === 'APPROVAL_REQUIRED') return { status: 'pending' }
  if (d.state === 'DENIED') return { status: 'rejected', reason: d.safety_reason !== undefined && d.safety_reason !== '' ? d.safety_reason : 'denied' }
  return undefined
}
