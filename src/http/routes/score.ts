/**
 * GET and POST /api/v1/score: the question Argo's web metric provider (and a person with curl)
 * asks. 200 with the ScoreResponse whatever the verdict: Argo treats any non-2xx as an Error
 * measurement, so only a failure to answer (bad input, an upstream down) is one.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ScoreQuery, ScoreResponse, ScoreService } from '../../service/score.js'
import { authorizeTenant, type ApiKey } from '../auth.js'
import type { InFlightLimit } from '../plugins/under-pressure.js'
import { argoLine } from '../../report/argo-line.js'
import { badField } from '../../service/window.js'
import { ScoreBodySchema, ScoreQuerySchema, ScoreViewSchema, scoreResponses } from '../schemas.js'
import { decisionPath } from './pages.js'

export interface ScoreRoutesOptions {
  service: ScoreService
  /** Tenant assumed when a request names none (for key-to-tenant checks). */
  defaultTenant: string
  /** Sheds score requests past MAX_SCORES_IN_FLIGHT; absent: no cap. */
  limit?: InFlightLimit
  /** PUBLIC_URL: the base of `reportUrl`; absent: the address the request was sent to. */
  publicUrl?: string
}

/**
 * Aborted when the client goes away before the answer is sent. (Fastify's request.signal also
 * fires once a POST body has been read on Node 20, so it cannot be used for this.)
 */
export function clientGone (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new DOMException('the client closed the connection', 'AbortError'))
  })
  return controller.signal
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The gate API key the request authenticated with (null when auth is off). */
    gateKey: ApiKey | null
  }
}

/** Either header works when GATE_API_KEYS is set. */
export const SECURITY: { [name: string]: string[] }[] = [{ apiKey: [] }, { bearer: [] }]

type HookDone = (err?: Error) => void

const ARGO = 'With ?view=argo the 200 answer is one JSON string, "<verdict>: score <n> at <stage> | <top reason> | <reportUrl>": what the shipped AnalysisTemplates ask for (jsonPath "{$}", successCondition result startsWith "pass:", failureCondition result startsWith "fail:"), so Argo shows the verdict, the reason and the link. Without it, the ScoreResponse.'

/** Who asked about what: the fields of a `scored` line that come from the request. */
interface Subject { tenant: string, namespace?: string, rollout?: string, canary: string }

/** The `scored` log line: where the decision belongs, what it said, and its record. */
function scoredLine (response: ScoreResponse, subject: Subject | undefined): Record<string, unknown> {
  return {
    ...subject,
    stage: response.stage,
    verdict: response.verdict,
    score: response.score,
    reasonCodes: response.reasonCodes,
    decisionId: response.decisionId,
  }
}

type View = 'full' | 'argo'

/** The answer's form: the ScoreResponse, or `?view=argo`'s one line. */
function viewOf (view: string | undefined): View {
  if (view === undefined || view === '') return 'full'
  if (view === 'argo') return 'argo'
  throw badField('view', `must be argo (the one-line answer Argo's web provider shows) or absent, got '${view.slice(0, 16)}'`, view.slice(0, 16))
}

/** The view a URL asks for; only a URL that was answered (so validated) is ever read here. On the warm path: parsed only when it may ask. */
function viewOfUrl (url: string): View {
  if (!url.includes('view=argo')) return 'full'
  return new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('view') === 'argo' ? 'argo' : 'full'
}

const given = (v: string | undefined): v is string => v !== undefined && v !== ''

/** An answer's bodies (one per view and address its report link names) and its `scored` fields. */
interface Sent { bodies: Map<string, Buffer>, line: Record<string, unknown> }

/** Bodies kept per answer when the address comes from each request's Host: a few, never a Host per request. */
const MAX_BODIES = 4

export const scoreRoutes: FastifyPluginAsyncTypebox<ScoreRoutesOptions> = async (app, opts) => {
  // An answer reused for identical questions is the same object: it is serialized (and encoded)
  // once per address, and logged as `scored` once, by the first request it answers. The
  // requests it answers after that (retries, AnalysisRun replicas, a burst) log it at debug:
  // each is in the `request completed` line anyway, and at info a repeat would cost more than
  // its answer.
  const sent = new WeakMap<ScoreResponse, Sent>()
  const send = (request: FastifyRequest, reply: FastifyReply, response: ScoreResponse, view: View, subject?: Subject): FastifyReply => {
    let entry = sent.get(response)
    if (entry === undefined) {
      entry = { bodies: new Map(), line: scoredLine(response, subject) }
      sent.set(response, entry)
      request.log.info(entry.line, 'scored')
    } else {
      request.log.debug({ ...entry.line, shared: true }, 'scored')
    }
    const base = opts.publicUrl ?? `${request.protocol}://${request.host}`
    let body = entry.bodies.get(`${view} ${base}`)
    if (body === undefined) {
      const withReport = response.decisionId === undefined ? response : { ...response, reportUrl: `${base}${decisionPath(response.decisionId)}` }
      body = Buffer.from(view === 'argo' ? JSON.stringify(argoLine(withReport)) : reply.serialize(withReport) as string)
      if (entry.bodies.size < MAX_BODIES) entry.bodies.set(`${view} ${base}`, body)
    }
    return reply.type('application/json; charset=utf-8').send(body)
  }
  const answer = async (query: ScoreQuery, view: string | undefined, request: FastifyRequest, reply: FastifyReply, text?: string): Promise<FastifyReply> => {
    const form = viewOf(view)
    if (request.gateKey !== null) authorizeTenant(request.gateKey, query.tenant ?? opts.defaultTenant)
    const response = await opts.service.score(query, () => clientGone(reply), opts.limit, text)
    // Returning the reply after send() tells Fastify the answer is on its way.
    const subject: Subject = { tenant: given(query.tenant) ? query.tenant : opts.defaultTenant, canary: query.canary }
    if (given(query.namespace)) subject.namespace = query.namespace
    if (given(query.rollout)) subject.rollout = query.rollout
    return send(request, reply, response, form, subject)
  }
  // A GET whose exact URL was answered while that answer is still reused gets it here, before
  // its query string is parsed and validated (the URL was, when it was first answered): the
  // warm path Argo's replicas and retries take. Its key still has to name its tenant. It waits
  // on no evaluation, so it comes before the in-flight cap.
  const reuse = (request: FastifyRequest, reply: FastifyReply, done: HookDone): void => {
    const reused = opts.service.reused(request.url)
    if (reused === undefined) { done(); return }
    try {
      if (request.gateKey !== null) authorizeTenant(request.gateKey, reused.tenant)
    } catch (err) {
      done(err as Error)
      return
    }
    // Replying from a callback hook: send, and do not call done.
    send(request, reply, reused.response, viewOfUrl(request.url))
  }
  const limit = opts.limit
  // A full gate refuses before the body is parsed or validated: shedding must stay cheap.
  const shed = limit === undefined ? [] : [(_request: FastifyRequest, _reply: FastifyReply, done: HookDone): void => { done(limit.refusal()) }]
  const common = {
    tags: ['score'],
    response: scoreResponses,
    security: SECURITY,
  }
  app.get('/api/v1/score', {
    onRequest: [reuse, ...shed],
    schema: { ...common, summary: 'Score a canary (query string)', description: ARGO, querystring: ScoreQuerySchema },
  }, async (request, reply) => {
    const { view, ...query } = request.query
    return await answer(query, view, request, reply, request.url)
  })
  app.post('/api/v1/score', {
    onRequest: shed,
    schema: { ...common, summary: 'Score a canary (JSON body)', description: ARGO, querystring: ScoreViewSchema, body: ScoreBodySchema },
  }, async (request, reply) => await answer(request.body, request.query.view, request, reply))
}
