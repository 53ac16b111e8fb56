/**
 * The decision pages people open from Argo, Grafana and the logs (server-rendered HTML, no
 * script, nothing loaded from anywhere):
 *   GET /decisions/{id}   one decision, with the looks of its analysis (src/report);
 *   GET /rollouts         a rollout's decisions across revisions and stages;
 *   GET /decisions        the decision of a rollout and stage at a time (Grafana's data links):
 *                         a redirect to its page.
 * The same keys and tenant rules as the JSON API: a key bound to tenants sees only theirs, and
 * a record of another tenant is "not found". Browsers cannot send X-API-Key on a link, so a
 * 401 here asks for Basic credentials (any user name, the key as password), which auth.ts takes.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import type { LoadedPolicy } from '../../config/load.js'
import { GateError } from '../../errors.js'
import { GENESIS, type DecisionRecord } from '../../evidence/record.js'
import type { DecisionFilter, EvidenceStore } from '../../evidence/store.js'
import { decisionPage, type ChainStatus } from '../../report/decision-page.js'
import { html, page, PAGE_CSP } from '../../report/html.js'
import { rolloutPage } from '../../report/rollout-page.js'
import { lookTime, triggerSpecs } from '../../report/series.js'
import { badField } from '../../service/window.js'
import { toGateError, errorBody } from '../errors.js'
import { tenantsFor } from './decisions.js'

/** The path of a decision's page; `reportUrl` is PUBLIC_URL (or the request's address) + this. */
export function decisionPath (id: string): string {
  return `/decisions/${encodeURIComponent(id)}`
}

/** Looks shown on each side of a decision, and records read at most to find them. */
const LOOKS_EACH_SIDE = 40
const MAX_SCANNED = 2_000
/** Decisions listed on a rollout page. */
const ROLLOUT_RECORDS = 300

const Name = Type.Optional(Type.String({ maxLength: 253 }))
const RolloutQuery = Type.Object({ tenant: Name, namespace: Name, rollout: Name, canary: Name }, { additionalProperties: false })
const LookupQuery = Type.Object({ tenant: Name, namespace: Name, rollout: Name, canary: Name, stage: Name, time: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false })

const given = (v: string | undefined): v is string => v !== undefined && v !== ''

/**
 * Decision records matching `filter` and `keep`, walking from `cursor` (exclusive) in `order`:
 * at most `limit` of them, reading at most MAX_SCANNED. Records of requests that named no
 * rollout share rollout '', so those are told apart by their canary here, not by SQL.
 */
async function walk (store: EvidenceStore, filter: DecisionFilter, order: 'asc' | 'desc', limit: number, keep: (r: DecisionRecord) => boolean, cursor?: string): Promise<{ records: DecisionRecord[], more: boolean }> {
  const records: DecisionRecord[] = []
  let scanned = 0
  let next = cursor
  for (;;) {
    const batch = await store.list(filter, { limit: 200, order, ...(next === undefined ? {} : { cursor: next }) })
    for (const r of batch.items) {
      if (!keep(r)) continue
      if (records.length === limit) return { records, more: true }
      records.push(r)
    }
    scanned += batch.items.length
    if (batch.nextCursor === null) return { records, more: false }
    if (scanned >= MAX_SCANNED) return { records, more: true }
    next = batch.nextCursor
  }
}

/** The looks of a decision's analysis: the records of the same tenant, namespace, rollout, revision, stage, canary and baseline. */
async function looksOf (store: EvidenceStore, r: DecisionRecord): Promise<{ looks: DecisionRecord[], earlier: boolean, later: boolean }> {
  const filter: DecisionFilter = { tenants: [r.tenant], namespace: r.namespace ?? '', rollout: r.rollout ?? '', revision: r.revision ?? '', stage: r.stage }
  const same = (x: DecisionRecord): boolean => x.canary === r.canary && x.baseline === r.baseline
  const [before, after] = await Promise.all([
    walk(store, filter, 'desc', LOOKS_EACH_SIDE, same, r.id),
    walk(store, filter, 'asc', LOOKS_EACH_SIDE, same, r.id),
  ])
  // In the order of their windows' ends (Argo's order; a backfilled `until` may differ from the decision order).
  const looks = [...before.records.reverse(), r, ...after.records].sort((a, b) => lookTime(a) - lookTime(b))
  return { looks, earlier: before.more, later: after.more }
}

/** The record's own hash, and its neighbours in its tenant's chain as far as the stored decisions show. */
async function chainOf (store: EvidenceStore, r: DecisionRecord): Promise<ChainStatus> {
  const neighbour = async (order: 'asc' | 'desc'): Promise<DecisionRecord | undefined> => (await store.list({ tenants: [r.tenant] }, { limit: 1, order, cursor: r.id })).items[0]
  const [before, after] = await Promise.all([r.seq === 1 ? undefined : neighbour('desc'), neighbour('asc')])
  const gap = (seq: number): string => `record ${seq} is not a stored decision record (an anchor record, pruned by retention, or written out of id order by another replica): verify the whole chain`
  let previous: ChainStatus['previous']
  if (r.seq === 1) previous = r.prevHash === GENESIS ? { state: 'genesis' } : { state: 'broken', seq: 0, id: 'genesis' }
  else if (before === undefined || before.seq !== r.seq - 1) previous = { state: 'unknown', reason: gap(r.seq - 1) }
  else previous = { state: before.hash === r.prevHash ? 'linked' : 'broken', seq: before.seq, id: before.id }
  let next: ChainStatus['next']
  if (after === undefined) next = { state: 'unknown', reason: 'no later decision record: this is the newest of the tenant\'s chain' }
  else if (after.seq !== r.seq + 1) next = { state: 'unknown', reason: gap(r.seq + 1) }
  else next = { state: after.prevHash === r.hash ? 'linked' : 'broken', seq: after.seq, id: after.id }
  return { hashOk: store.hashOk(r), previous, next }
}

function sendPage (reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status)
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .type('text/html; charset=utf-8')
    .send(body)
}

export const pageRoutes: FastifyPluginAsyncTypebox<{ store: EvidenceStore, policy: LoadedPolicy }> = async (app, { store, policy }) => {
  const specs = triggerSpecs({ hash: policy.hash, stages: policy.policy.stages })

  // Errors as pages, with the JSON API's status and message (routes in this plugin only).
  app.setErrorHandler((err, request, reply) => {
    const gate = toGateError(err, request)
    if (gate.statusCode >= 500) request.log.warn({ code: gate.code, source: gate.source, reason: gate.code === 'GATE_ERR_INTERNAL' ? undefined : gate.message, err: gate.code === 'GATE_ERR_INTERNAL' ? err : undefined }, 'page failed')
    if (gate.statusCode === 401) void reply.header('www-authenticate', 'Basic realm="agent-canary-gate", charset="UTF-8"')
    const body = errorBody(gate)
    void sendPage(reply, gate.statusCode, page(`${gate.statusCode} ${String(body.code)}`, html`<h1>${String(gate.statusCode)}</h1><p class="summary">${String(body.error)}</p><p class="muted"><code>${String(body.code)}</code>${gate.statusCode === 401 ? ' · the gate asks for its API key: give any user name and the key as the password' : ''}</p>`))
  })

  const readable = (request: { gateKey: { tenants?: string[] } | null }, r: DecisionRecord | undefined, id: string): DecisionRecord => {
    const key = request.gateKey
    // Another tenant's record is "not found", as in the JSON API: ids do not leak.
    if (r === undefined || r.kind !== 'decision' || (key?.tenants !== undefined && !key.tenants.includes(r.tenant))) throw new GateError('GATE_ERR_NOT_FOUND', `no decision record '${id.slice(0, 64)}'`)
    return r
  }

  app.get('/decisions/:id', { schema: { hide: true, params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }) } }, async (request, reply) => {
    const record = readable(request, await store.get(request.params.id) as DecisionRecord | undefined, request.params.id)
    const [{ looks, earlier, later }, chain] = await Promise.all([looksOf(store, record), chainOf(store, record)])
    const same = record.policy.sha256 === policy.hash
    const alpha = same ? policy.policy.stages[record.stage]?.alpha : undefined
    return sendPage(reply, 200, decisionPage({ record, looks, earlier, later, chain, policy: { hash: policy.hash, file: policy.file }, specs, ...(alpha === undefined ? {} : { alpha }) }))
  })

  /** Records of a rollout; a rollout name no request named may be the canary of requests that named none (as in /metrics). */
  const rolloutRecords = async (
    tenants: string[] | undefined, q: { namespace?: string, rollout?: string, canary?: string }, extra: Partial<DecisionFilter>, limit: number
  ): Promise<{ records: DecisionRecord[], more: boolean, byCanary: boolean }> => {
    const filter: DecisionFilter = { ...(tenants === undefined ? {} : { tenants }), ...extra }
    if (given(q.rollout)) {
      const named = await walk(store, { ...filter, rollout: q.rollout, ...(given(q.namespace) ? { namespace: q.namespace } : {}) }, 'desc', limit, () => true)
      if (named.records.length > 0 || given(q.namespace)) return { ...named, byCanary: false }
    }
    const canary = given(q.canary) ? q.canary : q.rollout
    if (!given(canary)) throw badField('rollout', 'name a rollout (with its namespace) or a canary')
    return { ...(await walk(store, { ...filter, rollout: '', namespace: '' }, 'desc', limit, (r) => r.canary === canary)), byCanary: true }
  }

  app.get('/rollouts', { schema: { hide: true, querystring: RolloutQuery } }, async (request, reply) => {
    const q = request.query
    const tenants = tenantsFor(request, given(q.tenant) ? q.tenant : undefined)
    const { records, more, byCanary } = await rolloutRecords(tenants, q, {}, ROLLOUT_RECORDS)
    const subject = byCanary ? { canary: (given(q.canary) ? q.canary : q.rollout) as string } : { rollout: q.rollout as string, ...(given(q.namespace) ? { namespace: q.namespace } : {}) }
    return sendPage(reply, 200, rolloutPage({ subject: { ...subject, ...(given(q.tenant) ? { tenant: q.tenant } : {}) }, records, truncated: more }))
  })

  app.get('/decisions', { schema: { hide: true, querystring: LookupQuery } }, async (request, reply) => {
    const q = request.query
    const tenants = tenantsFor(request, given(q.tenant) ? q.tenant : undefined)
    let untilMs: number | undefined
    if (given(q.time)) {
      untilMs = /^\d{1,15}$/.test(q.time) ? Number(q.time) : Date.parse(q.time)
      if (Number.isNaN(untilMs)) throw badField('time', `must be epoch milliseconds (Grafana's \${__value.time}) or an RFC 3339 time, got '${q.time.slice(0, 64)}'`, q.time.slice(0, 64))
    }
    const extra: Partial<DecisionFilter> = { ...(given(q.stage) ? { stage: q.stage } : {}), ...(untilMs === undefined ? {} : { untilMs }) }
    const { records } = await rolloutRecords(tenants, q, extra, 1)
    const found = records[0]
    if (found === undefined) throw new GateError('GATE_ERR_NOT_FOUND', `no decision of ${given(q.rollout) ? `rollout ${q.rollout}` : `canary ${q.canary ?? ''}`}${given(q.stage) ? ` at stage ${q.stage}` : ''}${untilMs === undefined ? '' : ` at or before ${new Date(untilMs).toISOString()}`}`)
    // Relative, so it holds behind a proxy's path prefix: /decisions?... -> /decisions/{id}.
    return reply.code(302).header('location', `decisions/${encodeURIComponent(found.id)}`).send()
  })
}
