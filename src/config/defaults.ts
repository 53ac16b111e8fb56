/**
 * The gates policy's built-in defaults: the values of Cordum's guide ("AI Agent Canary
 * Deployment and Shadow Traffic") and the project's own, the built-in signals and triggers,
 * and each stage's defaults. build.ts fills a file's gaps from these.
 */
import type { GatesPolicy } from './policy.js'
import type { RawSignal, RawStageSignal, RawTrigger } from './schema.js'

export const DEFAULTS = {
  minDataPoints: 50,
  canaryLifetimeHours: 3,
  metricIntervalHours: 1,
  score: { pass: 95, marginal: 75 },
  maxErrorRateDelta: 2.0,
  maxPolicyDenyRate: 0.03,
  alpha: 0.05,
  errorRateFloor: 0.02,
  approvalBacklog: { maxPending: 25, maxOldestAgeSeconds: 1800 },
  overload: {
    // Cordum's scheduler retries pool_overloaded / no_workers / tenant_limit and, after 50
    // attempts, fails the job with max_scheduling_retries (research/cordum-api.md section 2).
    reasonCodes: ['pool_overloaded', 'no_workers', 'no_pool_mapping', 'tenant_limit', 'max_scheduling_retries'],
    subIntervalMinutes: 5,
  },
  trafficSplit: { enabled: true, tolerance: 0.5, signal: 'policy_deny_rate' },
}

export type SeedValues = Pick<GatesPolicy, 'rollbackTriggers' | 'errorRateFloor' | 'approvalBacklog' | 'overload'>

export function builtinSignals (seed: SeedValues): Record<string, RawSignal> {
  return {
    policy_deny_rate: {
      kind: 'rate',
      source: 'cordum',
      description: 'share of the agent\'s Cordum policy decisions that deny',
      // The absolute limit of Cordum's guide is the margin. (A ratio of 1.5x over a 2% floor,
      // as before, never bound: 1.5 x 2% is the 3% limit itself.)
      max_rate: seed.rollbackTriggers.maxPolicyDenyRate,
    },
    job_failure_rate: {
      kind: 'rate',
      source: 'cordum',
      description: 'share of the agent\'s finished jobs that FAILED or TIMEOUT',
      // Pass margin 2x the baseline: at canary-1 (10% of 200 jobs/min, 2% failures) telling 2%
      // from 4% takes about 400 canary jobs at alpha 5% and power 80% (fixed horizon), i.e. 20
      // minutes; a 1.5x margin would take about 1,300 (65 minutes, past the hour Argo allows).
      max_ratio: 2.0,
      floor: seed.errorRateFloor,
    },
    approval_backlog: {
      kind: 'backlog',
      source: 'cordum',
      description: 'the agent\'s jobs waiting for a human approval',
      max_pending: 10,
      max_oldest_age_seconds: 600,
    },
    overload_rate: {
      kind: 'rate',
      source: 'cordum',
      description: `share of the agent's jobs held back by overload (${seed.overload.reasonCodes.join(', ')})`,
      max_ratio: 1.5,
      floor: 0.01,
    },
    schema_violation_rate: {
      kind: 'rate',
      source: 'cordum',
      description: 'share of the agent\'s jobs with output or schema violations',
      max_ratio: 1.5,
      floor: 0.01,
    },
  }
}

export function builtinTriggers (seed: SeedValues): Record<string, RawTrigger> {
  return {
    policy_deny_rate: { signal: 'policy_deny_rate', max_rate: seed.rollbackTriggers.maxPolicyDenyRate },
    error_rate_ratio: { signal: 'job_failure_rate', max_ratio: seed.rollbackTriggers.maxErrorRateDelta, floor: seed.errorRateFloor },
    approval_backlog: { signal: 'approval_backlog', max_pending: seed.approvalBacklog.maxPending, max_oldest_age_seconds: seed.approvalBacklog.maxOldestAgeSeconds },
    // The canary's overload against the baseline's: overload alike in both arms is shared
    // capacity and never fires this. The 0.5% floor keeps a near-zero baseline from making a
    // handful of requeues a rollback.
    overload_ratio: { signal: 'overload_rate', max_ratio: 1.5, floor: 0.005 },
    deny_spike: { signal: 'policy_deny_rate', max_ratio: 2.0, floor: 0.01 },
    schema_violations: { signal: 'schema_violation_rate', max_ratio: 1.0, floor: 0.005 },
  }
}

/** The rollback triggers of Cordum's guide ("AI Agent Canary Deployment and Shadow Traffic"): they apply to every live stage. */
export const ROLLBACK_TRIGGERS = ['policy_deny_rate', 'error_rate_ratio']

export interface StageDefault {
  description: string
  live: boolean
  signals: Record<string, RawStageSignal>
  triggers: string[]
}

export const STAGE_DEFAULTS: Record<string, StageDefault> = {
  shadow: {
    description: '0% user-facing actions, mirrored workload: policy simulation and no schema/output violations over baseline',
    live: false,
    signals: {
      policy_deny_rate: { weight: 2, required: true },
      schema_violation_rate: { weight: 2, required: true },
      job_failure_rate: { weight: 1, required: false },
    },
    triggers: ['deny_spike', 'schema_violations'],
  },
  'canary-1': {
    description: '5-10% live traffic: score >= pass, or a manual hold in the marginal band; rollback on error-rate delta or approval backlog',
    live: true,
    signals: {
      policy_deny_rate: { weight: 3, required: true },
      job_failure_rate: { weight: 3, required: true },
      approval_backlog: { weight: 1, required: false },
    },
    triggers: ['approval_backlog'],
  },
  'canary-2': {
    description: '25-50% live traffic: stable policy deny rate; rollback when the canary shows more overload than the baseline',
    live: true,
    signals: {
      policy_deny_rate: { weight: 3, required: true },
      job_failure_rate: { weight: 2, required: true },
      overload_rate: { weight: 2, required: true },
      approval_backlog: { weight: 1, required: false },
    },
    triggers: ['approval_backlog', 'overload_ratio'],
  },
  full: {
    description: '100% traffic: no critical incidents through one business cycle; rollback on severe regression',
    live: true,
    signals: {
      policy_deny_rate: { weight: 3, required: true },
      job_failure_rate: { weight: 3, required: true },
      overload_rate: { weight: 2, required: true },
      approval_backlog: { weight: 1, required: false },
    },
    triggers: ['approval_backlog', 'overload_ratio'],
  },
}
