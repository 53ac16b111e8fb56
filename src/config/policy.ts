/**
 * The gates policy as the judge and the sources use it: every default resolved, names
 * checked, thresholds in one shape. The types only: the built-in defaults are in defaults.ts,
 * and build.ts's `buildPolicy` makes a policy from a schema-valid file, reporting the
 * cross-field problems the schema cannot express.
 */

export type SignalKind = 'rate' | 'backlog' | 'quantile' | 'check'
export type SourceName = 'cordum' | 'prometheus' | 'loki'
export type OnSourceError = 'error' | 'inconclusive'

/** Thresholds of a scored signal; which keys apply depends on the signal's kind. */
export interface Thresholds {
  maxRate?: number
  maxRatio?: number
  /** Baseline rate used in ratio rules is at least this (rate signals). */
  floor: number
  maxPending?: number
  maxOldestAgeSeconds?: number
  maxSeconds?: number
}

export interface SignalSpec {
  name: string
  kind: SignalKind
  source: SourceName
  description: string
  thresholds: Thresholds
  /** Source-specific queries (Prometheus/Loki), by role; absent for Cordum's built-in signals. */
  query?: Record<string, string>
}

export interface StageSignal extends SignalSpec {
  weight: number
  required: boolean
}

/** A hard rollback trigger: any rule that fires makes the verdict `fail` and the score 0. */
export interface Trigger {
  name: string
  signal: string
  /** The kind of the signal it reads, which decides how its rule is applied. */
  kind: SignalKind
  maxRate?: number
  maxRatio?: number
  floor: number
  maxPending?: number
  maxOldestAgeSeconds?: number
  maxSeconds?: number
}

export interface ScoreThresholds { pass: number, marginal: number }

export interface TrafficSplitPolicy {
  enabled: boolean
  /** Relative tolerance: with expected share w the accepted band is [w(1-t), w(1+t)]. */
  tolerance: number
  signal: string
}

/** A stage's required human approval (src/actions/approval.ts): the promotion job the gate submits. */
export interface ApprovalPolicy {
  topic: string
  capability?: string
  riskTags: string[]
  /** Extra job labels (templated); the gate adds agent_id, rollout, revision, stage. */
  labels: Record<string, string>
}

/** What a stage's fail starts in Cordum (src/actions/rollback.ts). */
export interface OnFailPolicy {
  mode: 'run' | 'rerun'
  /** mode run: the workflow to start. */
  workflow?: string
  input: Record<string, unknown>
  dryRun: boolean
  /** mode rerun: the run (templated) and the step to rerun from. */
  run?: string
  fromStep?: string
}

export type PolicyDecision = 'allow' | 'deny' | 'require_approval' | 'throttle' | 'allow_with_constraints'

export interface SimulationScenario {
  name: string
  request: { topic: string, labels: Record<string, string>, capability?: string, riskTags: string[], principalId?: string }
  expect: PolicyDecision
}

/** The scenario catalog checked with Cordum's policy simulation (src/actions/simulation.ts). */
export interface PolicySimulation {
  /** Candidate bundle id (templated); absent: the live policy. */
  bundle?: string
  stages: string[]
  cacheSeconds: number
  scenarios: SimulationScenario[]
  workflows: string[]
}

/** The check signal and trigger the scenario catalog adds to its stages. */
export const POLICY_SIMULATION = 'policy_simulation'

/** Placeholders that templated values (labels, bundle, rerun run) may use. */
export const TEMPLATE_FIELDS = ['canary', 'baseline', 'tenant', 'namespace', 'rollout', 'revision', 'stage'] as const

export interface Stage {
  name: string
  description: string
  live: boolean
  onSourceError: OnSourceError
  minDataPoints: number
  score: ScoreThresholds
  alpha: number
  /** Width of the sub-intervals the sources count per-arm series in (decision pages, dashboards). */
  subIntervalMinutes: number
  trafficSplit: TrafficSplitPolicy
  signals: StageSignal[]
  triggers: Trigger[]
  approval?: ApprovalPolicy
  onFail?: OnFailPolicy
}

export interface GatesPolicy {
  minDataPoints: number
  canaryLifetimeHours: number
  metricIntervalHours: number
  score: ScoreThresholds
  rollbackTriggers: { maxErrorRateDelta: number, maxPolicyDenyRate: number }
  alpha: number
  errorRateFloor: number
  onSourceError: OnSourceError
  approvalBacklog: { maxPending: number, maxOldestAgeSeconds: number }
  overload: { reasonCodes: string[], subIntervalMinutes: number }
  trafficSplit: TrafficSplitPolicy
  signals: Record<string, SignalSpec>
  stages: Record<string, Stage>
  policySimulation?: PolicySimulation
}

/** The contract's stage names, in rollout order. */
export const STAGE_NAMES = ['shadow', 'canary-1', 'canary-2', 'full'] as const

/** Signals Cordum's REST API can measure (src/sources/cordum). */
export const CORDUM_SIGNALS = ['policy_deny_rate', 'job_failure_rate', 'approval_backlog', 'overload_rate', 'schema_violation_rate'] as const

/** A problem found while building the policy, located by its key path in the file. */
export interface PolicyProblem {
  path: (string | number)[]
  message: string
  /** Point at the key itself rather than its value (e.g. a key that does not apply). */
  key?: boolean
}
