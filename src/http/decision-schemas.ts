/** TypeBox schemas of the decision-record routes (GET /api/v1/decisions...), in /openapi.json. */
import { Type } from 'typebox'
import { ActionsSchema, ApprovalSchema, ScoreResponseSchema } from './schemas.js'

const Filter = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 253, description }))

export const DecisionListQuerySchema = Type.Object({
  tenant: Filter('only this tenant (a key bound to tenants sees only its own)'),
  namespace: Filter('Kubernetes namespace of the Rollout'),
  rollout: Filter('Rollout name'),
  revision: Filter('Rollout revision'),
  stage: Filter('gates policy stage'),
  agent: Filter('the agent whose canaries these are: canary agent_id <agent>-<pod template hash> (a hash has no dash), or <agent> itself'),
  canary: Filter('the canary arm\'s agent_id, exactly'),
  verdict: Type.Optional(Type.Enum(['pass', 'inconclusive', 'fail'], { description: 'pass, inconclusive or fail' })),
  since: Type.Optional(Type.String({ maxLength: 64, description: 'records at or after: RFC 3339 time, or a duration back from now such as 24h' })),
  until: Type.Optional(Type.String({ maxLength: 64, description: 'records at or before: RFC 3339 time' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: 'page size (default 50)' })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' })),
  order: Type.Optional(Type.Enum(['desc', 'asc'], { description: 'desc (newest first, the default) or asc (the story in order)' })),
}, { additionalProperties: false })

export const DecisionSummarySchema = Type.Object({
  id: Type.String({ description: 'time-ordered id (UUIDv7)' }),
  seq: Type.Integer({ description: 'position in the tenant\'s chain' }),
  time: Type.String({ format: 'date-time' }),
  tenant: Type.String(),
  namespace: Type.Optional(Type.String()),
  rollout: Type.Optional(Type.String()),
  revision: Type.Optional(Type.String()),
  stage: Type.String(),
  canary: Type.String(),
  baseline: Type.Optional(Type.String()),
  verdict: Type.String(),
  score: Type.Number(),
  summary: Type.String(),
  reasonCodes: Type.Array(Type.String()),
  window: Type.Object({ since: Type.String(), until: Type.String(), rule: Type.String({ description: 'request (given by the request), analysis (the first record of this analysis), canary (the canary\'s first event) or default' }) }),
  approval: Type.Optional(ApprovalSchema),
  actions: Type.Optional(ActionsSchema),
  policySha256: Type.String(),
})

export const DecisionListSchema = Type.Object({
  items: Type.Array(DecisionSummarySchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as cursor for the next page; null on the last' }),
})

export const DecisionRecordSchema = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  kind: Type.Union([Type.Literal('decision'), Type.Literal('anchor')]),
  time: Type.String({ format: 'date-time' }),
  tenant: Type.String(),
  prevHash: Type.String({ description: 'hash of the previous record of the tenant\'s chain' }),
  hash: Type.String({ description: 'sha256 of this record\'s canonical JSON without hash' }),
  stage: Type.Optional(Type.String()),
  verdict: Type.Optional(Type.String()),
  score: Type.Optional(Type.Number()),
  request: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'the request as normalized (window resolved)' })),
  observations: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'the judge\'s input: a file `agent-canary-gate judge` accepts' })),
  judgement: Type.Optional(ScoreResponseSchema),
  actions: Type.Optional(ActionsSchema),
  policy: Type.Optional(Type.Object({ sha256: Type.String(), file: Type.String() })),
  sources: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'versions of the sources, e.g. cordum build version' })),
  prunedThrough: Type.Optional(Type.Object({ seq: Type.Integer(), hash: Type.String(), time: Type.String() }, { description: 'anchor records: the last pruned record' })),
}, { additionalProperties: true, description: 'a decision record (or a retention anchor record)' })

export const DecisionIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

export const VerifyQuerySchema = Type.Object({
  tenant: Filter('verify this tenant\'s chain; default: every tenant the key may read'),
  anchor: Type.Optional(Type.String({ maxLength: 96, description: 'with tenant: a chain head kept outside the database, SEQ:HASH (the `chain heads` log line, or the metrics agentcanary_evidence_chain_head_seq and _hash; at least 12 hex digits of the hash): the record at SEQ must still carry that hash' })),
}, { additionalProperties: false })

const BrokenLink = Type.Object({ seq: Type.Integer(), id: Type.String(), reason: Type.String() })
const Position = Type.Object({ seq: Type.Integer(), id: Type.String(), time: Type.String(), hash: Type.Optional(Type.String()) })

export const VerifyResponseSchema = Type.Object({
  ok: Type.Boolean({ description: 'every chain verified' }),
  tenants: Type.Array(Type.Object({
    tenant: Type.String(),
    ok: Type.Boolean(),
    records: Type.Integer(),
    first: Type.Optional(Position),
    last: Type.Optional(Position),
    prunedThrough: Type.Optional(Type.Object({ seq: Type.Integer(), time: Type.String(), anchorSeq: Type.Integer() })),
    broken: Type.Optional(BrokenLink),
    keyedFrom: Type.Optional(Type.Integer({ description: 'the first record sealed with EVIDENCE_HMAC_KEY; absent: none is' })),
    anchors: Type.Optional(Type.Integer({ description: 'chain heads kept outside the database that the chain was checked against' })),
  })),
})
