/**
 * The decision records: GET /api/v1/decisions (filters, cursor pages), GET /api/v1/decisions/{id}
 * and GET /api/v1/decisions/verify (each tenant's chain, first broken link). A key bound to
 * tenants (GATE_API_KEYS KEY:t1|t2) sees only those tenants' records.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { DecisionRecord } from '../../evidence/record.js'
import type { DecisionFilter, EvidenceStore } from '../../evidence/store.js'
import { GateError } from '../../errors.js'
import { parseRfc3339 } from '../../service/rfc3339.js'
import { badField, parseDuration } from '../../service/window.js'
import { authorizeTenant } from '../auth.js'
import type { Static } from 'typebox'
import { DecisionIdParamsSchema, DecisionListQuerySchema, DecisionListSchema, DecisionRecordSchema, DecisionSummarySchema, VerifyQuerySchema, VerifyResponseSchema } from '../decision-schemas.js'
import { BadRequestSchema, ErrorSchema, UpstreamErrorSchema } from '../schemas.js'
import { SECURITY } from './score.js'

function timeOf (field: string, text: string | undefined, now: number): number | undefined {
  if (text === undefined || text === '') return undefined
  const back = field === 'since' ? parseDuration(text) : undefined
  if (back !== undefined) return now - back
  const t = parseRfc3339(text)
  if (t === undefined) throw badField(field, `must be an RFC 3339 time such as 2026-11-26T09:00:00Z${field === 'since' ? ' or a duration back from now such as 24h' : ''}, got '${text.slice(0, 64)}'`, text.slice(0, 64))
  return t
}

/** The tenants a request may read: the key's, narrowed to `tenant` when given (403 if not allowed). */
export function tenantsFor (request: FastifyRequest, tenant: string | undefined): string[] | undefined {
  const key = request.gateKey
  if (tenant !== undefined) {
    if (key !== null) authorizeTenant(key, tenant)
    return [tenant]
  }
  return key?.tenants
}

export type DecisionSummary = Static<typeof DecisionSummarySchema>

export function summarize (r: DecisionRecord): DecisionSummary {
  const s: DecisionSummary = {
    id: r.id,
    seq: r.seq,
    time: r.time,
    tenant: r.tenant,
    stage: r.stage,
    canary: r.canary,
    verdict: r.verdict,
    score: r.score,
    summary: r.judgement.summary,
    reasonCodes: r.judgement.reasonCodes,
    window: { since: r.request.since, until: r.request.until, rule: r.request.windowRule },
    policySha256: r.policy.sha256,
  }
  for (const k of ['namespace', 'rollout', 'revision', 'baseline'] as const) if (r[k] !== undefined) s[k] = r[k] as string
  if (r.judgement.approval !== undefined) s.approval = r.judgement.approval
  if (r.actions !== undefined) s.actions = r.actions
  return s
}

export const decisionRoutes: FastifyPluginAsyncTypebox<{ store: EvidenceStore, now?: () => number }> = async (app, { store, now = Date.now }) => {
  const errors = { 400: BadRequestSchema, 401: ErrorSchema, 403: ErrorSchema, 503: UpstreamErrorSchema }
  app.get('/api/v1/decisions', {
    schema: { tags: ['evidence'], summary: 'Decision records, newest first, filtered and paged', querystring: DecisionListQuerySchema, response: { 200: DecisionListSchema, ...errors }, security: SECURITY },
  }, async (request) => {
    const q = request.query
    const filter: DecisionFilter = {}
    const tenants = tenantsFor(request, q.tenant)
    if (tenants !== undefined) filter.tenants = tenants
    for (const k of ['namespace', 'rollout', 'revision', 'stage', 'verdict', 'agent', 'canary'] as const) if (q[k] !== undefined) filter[k] = q[k]
    const sinceMs = timeOf('since', q.since, now())
    const untilMs = timeOf('until', q.until, now())
    if (sinceMs !== undefined) filter.sinceMs = sinceMs
    if (untilMs !== undefined) filter.untilMs = untilMs
    if (q.cursor !== undefined && !/^[0-9a-f-]{36}$/.test(q.cursor)) throw badField('cursor', 'is not a cursor this gate gave out (use nextCursor of the previous page)', q.cursor.slice(0, 64))
    const page = await store.list(filter, { limit: q.limit ?? 50, order: q.order ?? 'desc', ...(q.cursor === undefined ? {} : { cursor: q.cursor }) })
    return { items: page.items.map(summarize), nextCursor: page.nextCursor }
  })

  app.get('/api/v1/decisions/verify', {
    schema: { tags: ['evidence'], summary: 'Verify each tenant\'s hash chain; reports the first broken link', querystring: VerifyQuerySchema, response: { 200: VerifyResponseSchema, ...errors }, security: SECURITY },
  }, async (request) => {
    const allowed = tenantsFor(request, request.query.tenant)
    const tenants = (allowed ?? await store.tenants())
    const reports = []
    for (const tenant of tenants) reports.push(await store.verify(tenant))
    return { ok: reports.every((r) => r.ok), tenants: reports }
  })

  app.get('/api/v1/decisions/:id', {
    schema: { tags: ['evidence'], summary: 'One decision record: request, observations, per-signal evidence, actions, chain links', params: DecisionIdParamsSchema, response: { 200: DecisionRecordSchema, 404: ErrorSchema, ...errors }, security: SECURITY },
  }, async (request) => {
    const record = await store.get(request.params.id)
    const key = request.gateKey
    // A record of a tenant the key may not read is reported as absent: ids do not leak.
    if (record === undefined || (key?.tenants !== undefined && !key.tenants.includes(record.tenant))) {
      throw new GateError('GATE_ERR_NOT_FOUND', `no decision record '${request.params.id.slice(0, 64)}'`)
    }
    return record
  })
}
