/**
 * The sandbox's agents: a stable version and one canary per named scenario (the shared
 * contract), plus an agent of another tenant so tenant filtering and the jobs cap are real.
 *
 * Volumes are chosen for Cordum's jobs list, which keeps only the 1000 most recent jobs of all
 * tenants: the healthy canary carries most of the job traffic so that, inside that cap, it has
 * enough jobs for its failure and overload bounds to pass clearly. They are not a realistic
 * traffic split (don't pass `weight` against the sandbox).
 */

export interface AgentProfile {
  agentId: string
  tenant: string
  topic: string
  pool: string
  /** One job every periodMs, a whole number (submitted, and checked by policy, at phaseMs + j * periodMs). */
  periodMs: number
  phaseMs: number
  /** Shares of policy decisions: deny, require_approval (the rest allow). */
  deny: number
  approval: number
  /** Time a human takes to approve, uniform in [min, max] ms. */
  approvalDelayMs: [number, number]
  /** Shares of allowed jobs requeued by the scheduler (overload) before they run. */
  requeue: number
  /** Shares of outcomes of jobs that ran: FAILED (tool error), TIMEOUT, OUTPUT_QUARANTINED, FAILED (schema). */
  fail: number
  timeout: number
  quarantine: number
  schemaFail: number
}

export interface Scenario {
  /** The canary's agent_id (in a Rollout: `<agent>-<pod template hash>`). */
  agentId: string
  /** What the scenario shows. */
  story: string
  /** The verdict the default gates policy gives with the default window, per the contract. */
  expect: { stage: string, verdict: 'pass' | 'inconclusive' | 'fail', because: string }[]
}

export const SANDBOX_TENANT = 'default'
export const BASELINE_AGENT = 'support-agent-stable'
const TOPIC = 'job.support.reply'

const base = {
  tenant: SANDBOX_TENANT,
  topic: TOPIC,
  pool: 'support',
  deny: 0.005,
  approval: 0.01,
  approvalDelayMs: [60_000, 180_000] as [number, number],
  requeue: 0,
  fail: 0.002,
  timeout: 0.001,
  quarantine: 0,
  schemaFail: 0,
}

const minute = 60_000

export const AGENTS: AgentProfile[] = [
  { ...base, agentId: BASELINE_AGENT, periodMs: 20_000, phaseMs: 1_100, deny: 0.008, approval: 0.02, approvalDelayMs: [60_000, 300_000], requeue: 0.02, fail: 0.01, timeout: 0.003 },
  { ...base, agentId: 'support-agent-healthy', periodMs: 4_286, phaseMs: 2_300, fail: 0.0005, timeout: 0 },
  { ...base, agentId: 'support-agent-deny-spike', periodMs: 75_000, phaseMs: 7_700, deny: 0.3 },
  { ...base, agentId: 'support-agent-failing', periodMs: 40_000, phaseMs: 13_100, fail: 0.55, timeout: 0.1 },
  { ...base, agentId: 'support-agent-backlogged', periodMs: 75_000, phaseMs: 19_900, approval: 0.5, approvalDelayMs: [2 * 60 * minute, 3 * 60 * minute] },
  { ...base, agentId: 'support-agent-overloaded', periodMs: 40_000, phaseMs: 23_300, pool: 'support-canary', requeue: 0.6 },
  { ...base, agentId: 'support-agent-schema-drift', periodMs: 50_000, phaseMs: 29_900, quarantine: 0.3, schemaFail: 0.15 },
  { ...base, agentId: 'support-agent-too-new', periodMs: 7 * minute + 11_000, phaseMs: 31_300 },
  { ...base, agentId: 'billing-agent-stable', tenant: 'other', topic: 'job.billing.refund', pool: 'billing', periodMs: 120_000, phaseMs: 37_100 },
]

export const SCENARIOS: Scenario[] = [
  { agentId: 'support-agent-healthy', story: 'a good version: denies, failures and overload at or under the stable version', expect: [{ stage: 'canary-1', verdict: 'pass', because: 'score_pass' }, { stage: 'canary-2', verdict: 'pass', because: 'score_pass' }, { stage: 'full', verdict: 'pass', because: 'score_pass' }] },
  { agentId: 'support-agent-deny-spike', story: '30% of its actions are denied by Cordum policy', expect: [{ stage: 'canary-1', verdict: 'fail', because: 'policy_deny_rate' }] },
  { agentId: 'support-agent-failing', story: 'two thirds of its jobs FAIL or TIME OUT', expect: [{ stage: 'canary-1', verdict: 'fail', because: 'error_rate_ratio' }] },
  { agentId: 'support-agent-backlogged', story: 'half of its actions wait hours for a human approval', expect: [{ stage: 'canary-1', verdict: 'fail', because: 'approval_backlog' }] },
  { agentId: 'support-agent-overloaded', story: 'its pool is saturated: most jobs are requeued (pool_overloaded) before they run', expect: [{ stage: 'canary-2', verdict: 'fail', because: 'overload_ratio' }] },
  { agentId: 'support-agent-schema-drift', story: 'its outputs break the output schema: quarantined or schema_validation_failed', expect: [{ stage: 'shadow', verdict: 'fail', because: 'schema_violations' }] },
  { agentId: 'support-agent-too-new', story: 'just deployed: a few decisions an hour, far from 50 data points', expect: [{ stage: 'canary-1', verdict: 'inconclusive', because: 'insufficient_data' }] },
]
