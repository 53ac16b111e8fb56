/**
 * The sandbox's policy: a small rule set standing in for Cordum's safety kernel, so policy
 * simulation, workflow dry-runs and submitted jobs get real decisions. Bundle
 * `sandbox-policy-1` is the live policy; `sandbox-policy-2` is a candidate that drops the
 * refund limit (a catalog expecting refunds over the limit to be denied disagrees with it).
 */

export type SandboxDecision = 'ALLOW' | 'DENY' | 'REQUIRE_HUMAN' | 'THROTTLE' | 'ALLOW_WITH_CONSTRAINTS'

export interface PolicyRequest {
  topic: string
  labels: Record<string, string>
  riskTags: string[]
  capability: string
}

export interface PolicyAnswer { decision: SandboxDecision, ruleId: string, reason: string }

interface Rule { id: string, when: (r: PolicyRequest) => boolean, decision: SandboxDecision, reason: string }

const RULES: Rule[] = [
  { id: 'promotion-needs-human', when: (r) => r.topic === 'job.gate.promotion', decision: 'REQUIRE_HUMAN', reason: 'promoting an agent version needs a human' },
  { id: 'deny-account-deletion', when: (r) => r.topic === 'job.support.delete-account', decision: 'DENY', reason: 'support agents may not delete accounts' },
  { id: 'deny-refund-over-limit', when: (r) => r.topic === 'job.support.refund' && r.riskTags.includes('over-limit'), decision: 'DENY', reason: 'refund exceeds the agent\'s limit' },
  { id: 'approve-refund-over-100', when: (r) => r.topic === 'job.support.refund' && r.riskTags.includes('high-value'), decision: 'REQUIRE_HUMAN', reason: 'refunds over 100 need a human' },
  { id: 'throttle-bulk-email', when: (r) => r.topic === 'job.support.bulk-email', decision: 'THROTTLE', reason: 'bulk email is rate limited' },
]

const FALLBACK: PolicyAnswer = { decision: 'ALLOW', ruleId: 'allow-support', reason: '' }

export const LIVE_BUNDLE = 'sandbox-policy-1'

export const BUNDLES: Record<string, Rule[]> = {
  [LIVE_BUNDLE]: RULES,
  'sandbox-policy-2': [
    { id: 'allow-refund-over-limit', when: (r) => r.topic === 'job.support.refund' && r.riskTags.includes('over-limit'), decision: 'ALLOW', reason: 'candidate: the refund limit was dropped' },
    ...RULES.filter((r) => r.id !== 'deny-refund-over-limit'),
  ],
}

export function evaluate (request: PolicyRequest, bundle = LIVE_BUNDLE): PolicyAnswer {
  const rule = (BUNDLES[bundle] ?? RULES).find((r) => r.when(request))
  return rule === undefined ? FALLBACK : { decision: rule.decision, ruleId: rule.id, reason: rule.reason }
}

/** Cordum's policyCheckRequest body (capability and risk_tags under meta, as its handler reads them). */
export function policyRequestOf (body: Record<string, unknown>): PolicyRequest | undefined {
  if (typeof body.topic !== 'string' || body.topic === '') return undefined
  const meta = (typeof body.meta === 'object' && body.meta !== null ? body.meta : {}) as Record<string, unknown>
  const labels = (typeof body.labels === 'object' && body.labels !== null ? body.labels : {}) as Record<string, string>
  const tags = Array.isArray(meta.risk_tags) ? meta.risk_tags : Array.isArray(body.risk_tags) ? body.risk_tags : []
  const capability = typeof meta.capability === 'string' ? meta.capability : typeof body.capability === 'string' ? body.capability : ''
  return { topic: body.topic, labels, riskTags: tags.map(String), capability }
}

export interface WorkflowStep { step_id: string, step_name: string, step_type: 'job' | 'approval' | 'notify', topic?: string, risk_tags?: string[] }

export const WORKFLOWS: Record<string, { name: string, steps: WorkflowStep[] }> = {
  'wf-support-rollback': {
    name: 'roll the support agent back to the stable version',
    steps: [
      { step_id: 'scale-down-canary', step_name: 'scale down the canary', step_type: 'job', topic: 'job.ops.scale' },
      { step_id: 'restore-stable', step_name: 'restore the stable agent', step_type: 'job', topic: 'job.ops.deploy' },
      { step_id: 'notify-oncall', step_name: 'notify on-call', step_type: 'notify' },
    ],
  },
  'wf-support-release': {
    name: 'release checks for the support agent',
    steps: [
      { step_id: 'deploy', step_name: 'deploy the candidate', step_type: 'job', topic: 'job.ops.deploy' },
      { step_id: 'smoke-reply', step_name: 'smoke test: reply', step_type: 'job', topic: 'job.support.reply' },
    ],
  },
  'wf-support-release-refunds': {
    name: 'release checks that issue an over-limit refund',
    steps: [
      { step_id: 'deploy', step_name: 'deploy the candidate', step_type: 'job', topic: 'job.ops.deploy' },
      { step_id: 'smoke-refund', step_name: 'smoke test: large refund', step_type: 'job', topic: 'job.support.refund', risk_tags: ['over-limit'] },
    ],
  },
}
