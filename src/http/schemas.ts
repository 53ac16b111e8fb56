/**
 * TypeBox schemas of the HTTP API: one definition gives request validation, response
 * serialization (fast-json-stringify drops undeclared fields, so nothing leaks by accident)
 * and the OpenAPI document. Field meanings: docs/http-api.md.
 */
import { Type, type Static } from 'typebox'

const Name = (description: string) => Type.String({ minLength: 1, maxLength: 253, description })
// Optional fields may be empty, meaning "not given": an Argo template arg cannot be absent,
// only empty, so `topic: "{{args.topic}}"` with an empty default must still be a valid request.
const OptionalName = (description: string) => Type.Optional(Type.String({ maxLength: 253, description: `${description}; empty means not given` }))

const scoreFields = {
  stage: Type.String({ minLength: 1, maxLength: 64, description: 'gates policy stage: shadow, canary-1, canary-2, full, or one the policy adds' }),
  canary: Name('the canary arm\'s Cordum agent_id (in a Rollout: <agent>-<pod template hash>)'),
  baseline: OptionalName('the stable arm\'s Cordum agent_id'),
  tenant: OptionalName('Cordum tenant (X-Tenant-ID); default CORDUM_TENANT'),
  topic: OptionalName('restrict to one Cordum topic, e.g. job.support.reply'),
  namespace: OptionalName('Kubernetes namespace of the Rollout (recorded, not used to judge)'),
  rollout: OptionalName('Rollout name (recorded, not used to judge)'),
  revision: OptionalName('Rollout revision (recorded, not used to judge)'),
  since: Type.Optional(Type.String({ maxLength: 64, description: 'window start: RFC 3339 time, or a duration back from until such as 30m or 1h30m; default until - canary_lifetime_hours' })),
  until: Type.Optional(Type.String({ maxLength: 64, description: 'window end: RFC 3339 time; default now, rounded down to 10 s' })),
  weight: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'expected canary traffic weight in percent (traffic-split check)' })),
}

/** `?view=argo`, on GET and POST alike: the answer as the one line Argo shows (src/report/argo-line.ts). */
const view = Type.Optional(Type.String({ maxLength: 16, description: 'argo: answer with one JSON string, "<verdict>: score <n> at <stage> | <top reason> | <reportUrl>", for Argo\'s web provider (successCondition result startsWith "pass:", failureCondition result startsWith "fail:"); absent: the ScoreResponse' }))

export const ScoreQuerySchema = Type.Object({ ...scoreFields, view }, { additionalProperties: false })
export const ScoreBodySchema = Type.Object(scoreFields, { additionalProperties: false })
export const ScoreViewSchema = Type.Object({ view }, { additionalProperties: false })
export type ScoreRequest = Static<typeof ScoreQuerySchema>

const RateBound = Type.Object({
  n: Type.Integer({ description: 'events (decisions, jobs)' }),
  k: Type.Integer({ description: 'hits among them (denies, failures, ...)' }),
  rate: Type.Number(),
  lower: Type.Number({ description: 'lower end of the anytime-valid confidence sequence' }),
  upper: Type.Number({ description: 'upper end of the anytime-valid confidence sequence' }),
})
const BacklogArm = Type.Object({ pending: Type.Integer(), oldestAgeSeconds: Type.Number() })
const QuantileArm = Type.Object({ seconds: Type.Number(), n: Type.Optional(Type.Integer()) })
const CheckArm = Type.Object({
  total: Type.Integer(),
  failed: Type.Integer(),
  checks: Type.Array(Type.Object({ name: Type.String(), ok: Type.Boolean(), expected: Type.String(), actual: Type.String(), detail: Type.Optional(Type.String()) })),
}, { description: 'check signals (policy simulation): each scenario with its expected and actual decision' })
const ArmEvidence = Type.Union([RateBound, BacklogArm, QuantileArm, CheckArm, Type.Null()])

const Threshold = Type.Object({
  maxRate: Type.Optional(Type.Number()),
  maxRatio: Type.Optional(Type.Number()),
  floor: Type.Optional(Type.Number()),
  maxPending: Type.Optional(Type.Number()),
  maxOldestAgeSeconds: Type.Optional(Type.Number()),
  maxSeconds: Type.Optional(Type.Number()),
  text: Type.String({ description: 'the thresholds as a person reads them' }),
})

const ToDecide = Type.Union([Type.Object({
  side: Type.Union([Type.Literal('pass'), Type.Literal('harm')], { description: 'the boundary the projection reaches first' }),
  events: Type.Integer({ description: 'more canary events needed, if both arms keep their current rates' }),
  minutes: Type.Union([Type.Integer(), Type.Null()], { description: 'those events at the canary\'s event rate over the window' }),
}), Type.Null()], { description: 'null when decided, or when no decision comes within 1e8 more events at the current rates' })

const Rule = Type.Object({
  scale: Type.Union([Type.Literal('rate'), Type.Literal('ratio')], { description: 'ratio: canary rate / baseline rate; rate: the canary\'s rate' }),
  estimate: Type.Number(),
  lower: Type.Number({ description: 'largest value the harm test rejects (anytime-valid)' }),
  upper: Type.Number({ description: 'smallest value the pass test rejects (anytime-valid)' }),
  margin: Type.Number({ description: 'the rule passes on evidence under it' }),
  harm: Type.Number({ description: 'the rule fails on evidence over it' }),
  evidence: Type.Object({ pass: Type.Number(), harm: Type.Number() }, { description: 'progress of each boundary, ln E / ln(1/alpha) in [0, 1]; 1 decides' }),
  decided: Type.Union([Type.Literal('pass'), Type.Literal('harm'), Type.Null()]),
  toDecide: ToDecide,
}, { description: 'rate signals: the sequential rule (docs/judging.md)' })

const SignalResult = Type.Object({
  name: Type.String(),
  kind: Type.Union([Type.Literal('rate'), Type.Literal('backlog'), Type.Literal('quantile'), Type.Literal('check')]),
  source: Type.String(),
  status: Type.Union([Type.Literal('pass'), Type.Literal('marginal'), Type.Literal('fail'), Type.Literal('insufficient'), Type.Literal('unavailable')]),
  required: Type.Boolean(),
  weight: Type.Number(),
  threshold: Threshold,
  canary: ArmEvidence,
  baseline: ArmEvidence,
  reason: Type.String(),
  notes: Type.Array(Type.String()),
  rule: Type.Optional(Rule),
})

const TriggerResult = Type.Object({
  name: Type.String(),
  signal: Type.String(),
  fired: Type.Boolean(),
  evaluated: Type.Boolean({ description: 'false when the trigger\'s signal could not be measured' }),
  evidence: Type.String(),
  level: Type.Optional(Type.Number({ description: 'rate triggers: the level it fires over, on its scale' })),
  scale: Type.Optional(Type.Union([Type.Literal('rate'), Type.Literal('ratio')])),
})

const NullableNumber = Type.Union([Type.Number(), Type.Null()])

export const ApprovalSchema = Type.Object({
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
  ref: Type.Optional(Type.String({ description: 'Cordum approval_ref' })),
  jobId: Type.Optional(Type.String({ description: 'the promotion job waiting for approval (POST /api/v1/approvals/{jobId}/approve in Cordum)' })),
  reason: Type.Optional(Type.String()),
}, { description: 'the stage\'s required human approval, when the gate asked for one' })

export const ActionsSchema = Type.Object({
  rollback: Type.Optional(Type.Object({
    status: Type.Union([Type.Literal('started'), Type.Literal('skipped'), Type.Literal('error')]),
    mode: Type.Union([Type.Literal('run'), Type.Literal('rerun')]),
    workflow: Type.Optional(Type.String()),
    rerunOf: Type.Optional(Type.String()),
    fromStep: Type.Optional(Type.String()),
    dryRun: Type.Boolean(),
    idempotencyKey: Type.Optional(Type.String()),
    runId: Type.Optional(Type.String({ description: 'the Cordum workflow run (the same for every repeat of this fail)' })),
    conflicts: Type.Optional(Type.Integer()),
    reason: Type.String(),
  })),
  approval: Type.Optional(Type.Object({
    status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected'), Type.Literal('skipped'), Type.Literal('error')]),
    jobId: Type.Optional(Type.String()),
    approvalRef: Type.Optional(Type.String()),
    idempotencyKey: Type.Optional(Type.String()),
    topic: Type.Optional(Type.String()),
    reason: Type.String(),
  })),
}, { description: 'what the gate did in Cordum for this decision (stage on_fail, approval)' })

export const ScoreResponseSchema = Type.Object({
  verdict: Type.Union([Type.Literal('pass'), Type.Literal('inconclusive'), Type.Literal('fail')], { description: 'pass, inconclusive (a hold for a person) or fail; Argo reads it from ?view=argo\'s one line (successCondition result startsWith "pass:", failureCondition result startsWith "fail:")' }),
  score: Type.Number({ minimum: 0, maximum: 100 }),
  stage: Type.String(),
  summary: Type.String({ description: 'one human line' }),
  reasons: Type.Array(Type.String()),
  reasonCodes: Type.Array(Type.String(), { description: 'trigger_fired, source_unavailable, insufficient_data, traffic_split_mismatch, score_pass, manual_hold, score_below_marginal, undecided; with a required approval: approval_required, approval_pending, approval_rejected, approval_granted; warming (a cold window is still being read: ask again)' }),
  signals: Type.Array(SignalResult),
  triggers: Type.Array(TriggerResult),
  trafficSplit: Type.Object({
    status: Type.Union([Type.Literal('ok'), Type.Literal('mismatch'), Type.Literal('not_checked')]),
    expected: NullableNumber,
    observed: NullableNumber,
    lower: NullableNumber,
    upper: NullableNumber,
    reason: Type.String(),
  }),
  window: Type.Object({ since: Type.String({ format: 'date-time' }), until: Type.String({ format: 'date-time' }) }),
  dataPoints: Type.Object({ required: Type.Integer(), min: Type.Integer() }),
  decisionId: Type.Optional(Type.String({ description: 'id of the decision record (when an evidence store is configured)' })),
  reportUrl: Type.Optional(Type.String({ description: 'the decision\'s page for people: PUBLIC_URL (or the address the request was sent to) + /decisions/{decisionId}' })),
  approval: Type.Optional(ApprovalSchema),
  actions: Type.Optional(ActionsSchema),
})

export const BadRequestSchema = Type.Object({
  error: Type.String(),
  code: Type.String(),
  details: Type.Optional(Type.Unknown({ description: 'which field is wrong, with its value and what is allowed' })),
}, { description: 'bad input: the message names the field' })

export const UpstreamErrorSchema = Type.Object({
  error: Type.String(),
  code: Type.String({ description: 'GATE_ERR_UPSTREAM_TIMEOUT, _UNREACHABLE, _STATUS, _AUTH, _RESPONSE; GATE_ERR_UNAVAILABLE' }),
  source: Type.Optional(Type.String({ description: 'the upstream that failed: cordum, prometheus, loki' })),
}, { description: 'an upstream failed (Argo records an Error measurement and retries); never a pass' })

export const ErrorSchema = Type.Object({ error: Type.String(), code: Type.String() })

export const StagesResponseSchema = Type.Object({
  policy: Type.Object({
    file: Type.String(),
    sha256: Type.String(),
    canaryLifetimeHours: Type.Number({ description: 'default analysis window when a request has no since' }),
    metricIntervalHours: Type.Number({ description: "the gates file's judgement interval" }),
    alpha: Type.Number({ description: 'false-alarm probability of each confidence sequence' }),
  }),
  stages: Type.Array(Type.Object({
    name: Type.String(),
    description: Type.String(),
    live: Type.Boolean(),
    onSourceError: Type.String(),
    minDataPoints: Type.Integer(),
    score: Type.Object({ pass: Type.Number(), marginal: Type.Number() }),
    signals: Type.Array(Type.Object({ name: Type.String(), source: Type.String(), kind: Type.String(), weight: Type.Number(), required: Type.Boolean(), threshold: Type.String() })),
    triggers: Type.Array(Type.Object({ name: Type.String(), signal: Type.String(), rule: Type.String() })),
  })),
})

export const HealthSchema = Type.Object({ status: Type.Literal('ok') })

export const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  degraded: Type.Optional(Type.Array(Type.Object({
    source: Type.String(),
    endpoint: Type.String({ description: 'the read Cordum refuses the gate\'s key, e.g. GET /api/v1/approvals' }),
    role: Type.String({ description: 'the Cordum role it needs' }),
    permission: Type.String(),
    signals: Type.Array(Type.String(), { description: 'signals unavailable without it' }),
    blockedStages: Type.Array(Type.String(), { description: 'stages that cannot pass without it (inconclusive at best)' }),
    weakenedStages: Type.Array(Type.String(), { description: 'stages that score without an optional signal' }),
    reason: Type.String({ description: 'what Cordum answered' }),
  }), { description: 'reads the gates policy needs that Cordum refuses the gate\'s key: the gate stays ready, these signals are unavailable' })),
  gates: Type.Object({ ok: Type.Boolean(), file: Type.String(), sha256: Type.String() }),
  sources: Type.Array(Type.Object({ source: Type.String(), ok: Type.Boolean(), error: Type.Optional(Type.String()) })),
})

/** Responses every score route can give. */
export const scoreResponses = {
  200: ScoreResponseSchema,
  400: BadRequestSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  413: ErrorSchema,
  503: UpstreamErrorSchema,
}
