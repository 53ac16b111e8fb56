/**
 * The gates policy file as written by people: a JSON Schema (TypeBox) that Ajv checks and
 * that documents every key. Everything but `rollout_gates` is optional; defaults and the
 * meaning of each key live in `policy.ts`, cross-field rules in `load.ts`.
 *
 * The schema stays flat on purpose (no anyOf/oneOf): Ajv's errors for unions are noise, and a
 * person fixing a file needs one precise message per mistake.
 */
import { Type, type Static } from 'typebox'

const Name = (what: string) => Type.String({ pattern: '^[a-z][a-z0-9_]*$', description: `${what}: lower case letters, digits and _` })
const Rate = (description: string) => Type.Number({ minimum: 0, maximum: 1, description })
const Positive = (description: string) => Type.Number({ exclusiveMinimum: 0, description })
const Count = (description: string) => Type.Integer({ minimum: 0, description })

/** Threshold keys shared by the signal catalog and by a stage's signal overrides. */
const thresholdKeys = {
  max_rate: Type.Optional(Rate('rate signals: the canary rate must stay at or under this (0..1)')),
  max_ratio: Type.Optional(Positive('rate and quantile signals: the canary must stay at or under this multiple of the baseline')),
  floor: Type.Optional(Rate('rate signals: the baseline rate used in ratio rules is at least this, so a zero baseline never makes a ratio undefined')),
  max_pending: Type.Optional(Count('backlog signals: pending approvals allowed for the canary')),
  max_oldest_age_seconds: Type.Optional(Positive('backlog signals: age in seconds of the oldest pending approval allowed')),
  max_seconds: Type.Optional(Positive('quantile signals: absolute ceiling in seconds')),
}

/** Where a signal's observations come from, and the source-specific query. */
const sourceKeys = {
  source: Type.Optional(Type.Enum(['cordum', 'prometheus', 'loki'], { description: 'the upstream that measures this signal' })),
  /** Source-specific queries, checked by the source that runs them (see docs/sources.md). */
  query: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.String({ minLength: 1 }), { additionalProperties: false, description: 'source-specific queries, templated with {{canary}}, {{baseline}}, {{window}}, {{tenant}}, {{topic}}' })),
}

export const SignalSchema = Type.Object({
  kind: Type.Optional(Type.Enum(['rate', 'backlog', 'quantile', 'check'], { description: 'rate: hits among events; backlog: pending approvals; quantile: latency in seconds; check: named yes/no checks (policy simulation)' })),
  description: Type.Optional(Type.String()),
  ...sourceKeys,
  ...thresholdKeys,
}, { additionalProperties: false })

export const StageSignalSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean({ description: 'false removes an inherited signal from this stage' })),
  weight: Type.Optional(Positive('weight in the score')),
  required: Type.Optional(Type.Boolean({ description: 'a required signal without enough data makes the verdict inconclusive' })),
  ...thresholdKeys,
}, { additionalProperties: false })

export const TriggerSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean({ description: 'false removes an inherited trigger from this stage' })),
  signal: Type.Optional(Name('the signal this trigger reads')),
  max_rate: Type.Optional(Rate('fires on evidence (e-value >= 1/alpha) that the canary rate exceeds this')),
  max_ratio: Type.Optional(Positive('fires on evidence that the canary rate exceeds this multiple of max(baseline rate, floor)')),
  floor: Type.Optional(Rate('absolute floor for the baseline in the ratio rule')),
  max_pending: Type.Optional(Count('fires when more approvals than this are pending for the canary')),
  max_oldest_age_seconds: Type.Optional(Positive('fires when the oldest pending approval is older than this')),
  max_seconds: Type.Optional(Positive('quantile signals: fires when the canary value exceeds this')),
  // Retired (the raw-count overload rule): accepted by the schema so the policy can say why.
  sustained_intervals: Type.Optional(Type.Integer({ minimum: 1, description: 'retired: overload is a rate rule against the baseline (overload_ratio)' })),
  min_events_per_interval: Type.Optional(Type.Integer({ minimum: 1, description: 'retired: overload is a rate rule against the baseline (overload_ratio)' })),
}, { additionalProperties: false })

/** Values that may hold {{canary}}, {{baseline}}, {{tenant}}, {{namespace}}, {{rollout}}, {{revision}}, {{stage}}. */
const Templated = (description: string) => Type.String({ minLength: 1, maxLength: 512, description: `${description}; may use {{canary}}, {{baseline}}, {{tenant}}, {{namespace}}, {{rollout}}, {{revision}}, {{stage}}` })
const Labels = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Templated('label value'), { additionalProperties: false, description: 'job labels' })
const CordumTopic = Type.String({ pattern: '^job\\.[A-Za-z0-9_.-]+$', description: 'a Cordum job topic (job....)' })

/** A stage's human approval: the gate submits a promotion job that Cordum's policy routes to a person. */
export const ApprovalSchema = Type.Object({
  topic: Type.Optional(CordumTopic),
  capability: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  risk_tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
  labels: Type.Optional(Labels),
}, { additionalProperties: false })

/** What a stage's fail starts in Cordum: a workflow run, or a rerun of a run from a step. */
export const OnFailSchema = Type.Object({
  workflow: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'POST /api/v1/workflows/{workflow}/runs' })),
  input: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Unknown(), { description: 'the run\'s input; string values are templated' })),
  dry_run: Type.Optional(Type.Boolean({ description: 'start the run with dry_run=true (nothing dispatched)' })),
  rerun: Type.Optional(Type.Object({
    run: Templated('the workflow run to rerun'),
    from_step: Type.String({ minLength: 1, maxLength: 256 }),
  }, { additionalProperties: false })),
}, { additionalProperties: false })

export const StageSchema = Type.Object({
  description: Type.Optional(Type.String()),
  live: Type.Optional(Type.Boolean({ description: 'live stages get rollout_gates.rollback_triggers; default true except for shadow' })),
  on_source_error: Type.Optional(Type.Enum(['error', 'inconclusive'], { description: 'error: HTTP 503 (Argo retries); inconclusive: pause the rollout' })),
  min_data_points_per_metric: Type.Optional(Type.Integer({ minimum: 1 })),
  score: Type.Optional(Type.Object({
    pass: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    marginal: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  }, { additionalProperties: false })),
  signals: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), StageSignalSchema, { additionalProperties: false })),
  triggers: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), TriggerSchema, { additionalProperties: false })),
  approval: Type.Optional(ApprovalSchema),
  on_fail: Type.Optional(OnFailSchema),
}, { additionalProperties: false })

/** The shadow stage's scenario catalog, checked with Cordum's policy simulation. */
export const PolicySimulationSchema = Type.Object({
  bundle: Type.Optional(Templated('simulate against this policy bundle (POST /api/v1/policy/bundles/{bundle}/simulate); absent: the live policy')),
  stages: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9-]*$' }), { minItems: 1, description: 'stages that check the catalog (default: shadow)' })),
  cache_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400, description: 'how long a result is reused for the same bundle and catalog' })),
  scenarios: Type.Optional(Type.Array(Type.Object({
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    request: Type.Object({
      topic: CordumTopic,
      labels: Type.Optional(Labels),
      capability: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
      risk_tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
      principal_id: Type.Optional(Templated('principal')),
    }, { additionalProperties: false }),
    expect: Type.Enum(['allow', 'deny', 'require_approval', 'throttle', 'allow_with_constraints'], { description: 'the decision Cordum must give' }),
  }, { additionalProperties: false }), { maxItems: 200 })),
  workflows: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 50, description: 'workflows dry-run (POST /api/v1/workflows/{id}/dry-run) must have no DENY or ERROR step' })),
}, { additionalProperties: false })

export const GatesFileSchema = Type.Object({
  rollout_gates: Type.Object({
    // The keys of rollout-gates.yaml in Cordum's guide "AI Agent Canary Deployment and Shadow Traffic".
    min_data_points_per_metric: Type.Optional(Type.Integer({ minimum: 1, description: 'events the canary arm of a required signal needs before it can pass' })),
    canary_lifetime_hours: Type.Optional(Positive('default analysis window when a request gives no start')),
    metric_interval_hours: Type.Optional(Positive('how often Argo measures (used by the templates and the overload sub-intervals)')),
    score: Type.Optional(Type.Object({
      pass: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'score at or above this passes' })),
      marginal: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'score at or above this (and under pass) holds for a person' })),
    }, { additionalProperties: false })),
    rollback_triggers: Type.Optional(Type.Object({
      max_error_rate_delta: Type.Optional(Type.Number({ minimum: 1, description: 'canary job failure rate may not exceed this multiple of the baseline' })),
      max_policy_deny_rate: Type.Optional(Rate('canary policy deny rate may not exceed this')),
    }, { additionalProperties: false })),
    // Extensions; all optional.
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 0.5, description: 'error probability of each boundary (pass, harm) of each rule, at any number of looks' })),
    error_rate_floor: Type.Optional(Rate('absolute floor for the baseline job failure rate in the ratio trigger')),
    on_source_error: Type.Optional(Type.Enum(['error', 'inconclusive'])),
    approval_backlog: Type.Optional(Type.Object({
      max_pending: Type.Optional(Count('pending approvals for the canary that breach the backlog trigger')),
      max_oldest_age_seconds: Type.Optional(Positive('age of the oldest pending approval that breaches the backlog trigger')),
    }, { additionalProperties: false })),
    overload: Type.Optional(Type.Object({
      reason_codes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Cordum reason codes that mean overload' })),
      sub_interval_minutes: Type.Optional(Positive('width of the sub-intervals the sources count per-arm series in')),
      sustained_intervals: Type.Optional(Type.Integer({ minimum: 1, description: 'retired: overload is a rate rule against the baseline (overload_ratio)' })),
      min_events_per_interval: Type.Optional(Type.Integer({ minimum: 1, description: 'retired: overload is a rate rule against the baseline (overload_ratio)' })),
    }, { additionalProperties: false })),
    traffic_split: Type.Optional(Type.Object({
      enabled: Type.Optional(Type.Boolean()),
      tolerance: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'relative tolerance around the expected canary share' })),
      signal: Type.Optional(Name('the rate signal whose events measure the split')),
    }, { additionalProperties: false })),
    signals: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), SignalSchema, { additionalProperties: false })),
    stages: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]*$' }), StageSchema, { additionalProperties: false })),
    policy_simulation: Type.Optional(PolicySimulationSchema),
  }, { additionalProperties: false }),
}, { additionalProperties: false })

export type GatesFile = Static<typeof GatesFileSchema>
export type RawSignal = Static<typeof SignalSchema>
export type RawStageSignal = Static<typeof StageSignalSchema>
export type RawTrigger = Static<typeof TriggerSchema>
export type RawStage = Static<typeof StageSchema>
export type RawPolicySimulation = Static<typeof PolicySimulationSchema>
