/**
 * HTTP client for the query APIs of Prometheus (`/api/v1/query`, `/api/v1/query_range`) and
 * Loki (`/loki/api/v1/query`, `/loki/api/v1/query_range`), which share one JSON envelope:
 * `{status, data: {resultType, result}}`, or `{status: "error", errorType, error}`.
 *
 * One undici Pool per upstream, bearer auth, timeouts inside Argo's 10 s, a small retry for
 * idempotent GETs, and every failure mapped to a GATE_ERR_UPSTREAM_* code with `source` set.
 * A query the upstream refuses or cannot execute (PromQL/LogQL syntax, many-to-many matching)
 * is GATE_ERR_UPSTREAM_QUERY: a problem of that query, which the source turns into an
 * unavailable signal, not a failure of the upstream. Credentials never appear in messages.
 */
import { GateError } from '../../errors.js'
import type { Telemetry } from '../../telemetry.js'
import { AttemptFailure, parseJson, parseRetryAfter, RETRY_STATUSES, UpstreamClient, type CallContext, type UpstreamLimits, type UpstreamResponse } from '../upstream.js'

export type { CallContext }

export interface QueryClientOptions extends Partial<UpstreamLimits> {
  /** The source's name in errors (`prometheus`, `loki`). */
  source: string
  /** How people call it (`Prometheus`, `Loki`). */
  label: string
  /** Base URL; a path prefix (e.g. behind a proxy) is kept. */
  url: string
  /** Sent as `Authorization: Bearer ...`; never logged or echoed. */
  bearerToken?: string
  /** Extra headers, e.g. Loki's X-Scope-OrgID. */
  headers?: Record<string, string>
  /** The environment variable that holds the token, named in auth errors. */
  tokenVariable?: string
  /** Reports every attempt (endpoint = the API path, outcome, seconds). */
  telemetry?: Telemetry
}

export interface Sample { labels: Record<string, string>, value: number }
export interface Series { labels: Record<string, string>, points: [number, number][] }
/** An instant query's answer (a scalar is one sample without labels) or a range query's. */
export type QueryResult = { kind: 'vector', samples: Sample[] } | { kind: 'matrix', series: Series[] }

/** Queries may take longer to start answering than Cordum's list pages. */
const QUERY_TIMEOUTS = { headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 }

export class QueryClient {
  readonly origin: string
  readonly #http: UpstreamClient

  constructor (opts: QueryClientOptions) {
    const { source, label, url, bearerToken, headers, tokenVariable, telemetry, ...limits } = opts
    this.#http = new UpstreamClient({
      ...QUERY_TIMEOUTS,
      ...limits,
      source,
      label,
      url,
      headers: { ...headers, ...(bearerToken === undefined || bearerToken === '' ? {} : { authorization: `Bearer ${bearerToken}` }) },
      secrets: bearerToken === undefined || bearerToken === '' ? [] : [bearerToken],
      statusFailure: (res, what) => statusFailure(this.#http, res, what, tokenVariable),
      ...(telemetry === undefined ? {} : { telemetry }),
    })
    this.origin = this.#http.origin
  }

  /** Runs a query (instant or range) and returns its result; throws a GateError. */
  async query (path: string, params: Record<string, string>, ctx: CallContext): Promise<QueryResult> {
    const http = this.#http
    const body = await http.call({
      method: 'GET',
      path,
      query: params,
      retry: true,
      read: (res, what) => parseJson(res.text, () => http.error('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered ${res.status} with a body that is not JSON (${res.text.length} bytes): is ${this.origin} the ${http.label} API?`)),
    }, ctx)
    return parseResult(body, http.label, http.source)
  }

  /** GET a readiness endpoint: any 2xx is ready. */
  async ready (path: string, ctx: CallContext): Promise<void> {
    await this.#http.call({ method: 'GET', path, query: {}, retry: true, read: () => undefined }, ctx)
  }

  async close (): Promise<void> {
    await this.#http.close()
  }
}

function statusFailure (http: UpstreamClient, res: UpstreamResponse, what: string, tokenVariable: string | undefined): AttemptFailure {
  const { status } = res
  const label = http.label
  const said = upstreamMessage(res.text, (text) => http.scrub(text))
  const detail = said === undefined ? '' : `: ${said.errorType === undefined ? '' : `${said.errorType}: `}${said.error}`
  if (status === 401 || status === 403) {
    const hint = tokenVariable === undefined ? '' : `; check ${tokenVariable}`
    return new AttemptFailure(http.error('GATE_ERR_UPSTREAM_AUTH', `${label} refused the gate's credentials (${status}) for ${what}${hint}`, { status }), false)
  }
  // Prometheus: 400 bad_data (syntax), 422 execution; Loki: 400 with the parse error as text.
  if (status === 400 || status === 422) {
    return new AttemptFailure(http.error('GATE_ERR_UPSTREAM_QUERY', `${label} rejected the query (${status})${detail || ': no reason given'}`, { status, ...(said?.errorType === undefined ? {} : { errorType: said.errorType }) }), false)
  }
  if (status === 504 || (status === 503 && said?.errorType === 'timeout')) {
    return new AttemptFailure(http.error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} did not finish the query in time (${status})${detail}`, { status }), false)
  }
  const retryAfterMs = status === 429 ? parseRetryAfter(res.headers['retry-after']) : undefined
  return new AttemptFailure(http.error('GATE_ERR_UPSTREAM_STATUS', `${label} answered ${status} for ${what} (${http.origin})${detail}`, { status }), RETRY_STATUSES.has(status), retryAfterMs)
}

/** Prometheus' `{errorType, error}` envelope, or Loki's plain-text error; without credentials, shortened, never the raw body. */
function upstreamMessage (text: string, scrub: (s: string) => string): { errorType?: string, error: string } | undefined {
  const clip = (s: string): string => scrub(s).replace(/\s+/g, ' ').trim().slice(0, 300)
  try {
    const body = JSON.parse(text) as { errorType?: unknown, error?: unknown, message?: unknown }
    const error = typeof body.error === 'string' ? body.error : typeof body.message === 'string' ? body.message : undefined
    if (error === undefined) return undefined
    return typeof body.errorType === 'string' ? { errorType: clip(body.errorType), error: clip(error) } : { error: clip(error) }
  } catch {}
  const first = clip(text)
  return first === '' || first.startsWith('<') ? undefined : { error: first }
}

function number (raw: unknown): number | undefined {
  if (typeof raw !== 'string') return undefined
  // Prometheus writes special values as NaN, +Inf, -Inf.
  const v = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw)
  return raw.trim() === '' ? undefined : v
}

function labelsOf (raw: unknown): Record<string, string> | undefined {
  if (raw === undefined) return {}
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') return undefined
    out[k] = v
  }
  return out
}

function point (raw: unknown): [number, number] | undefined {
  if (!Array.isArray(raw) || raw.length !== 2 || typeof raw[0] !== 'number') return undefined
  const v = number(raw[1])
  return v === undefined ? undefined : [raw[0], v]
}

/** Checks the envelope and the result's shape; a body of another shape is GATE_ERR_UPSTREAM_RESPONSE. */
export function parseResult (body: unknown, label: string, source: string): QueryResult {
  const bad = (why: string): GateError => new GateError('GATE_ERR_UPSTREAM_RESPONSE', `${label} answered with an unexpected body: ${why}`, { source })
  const b = body as { status?: unknown, data?: { resultType?: unknown, result?: unknown } } | null
  if (b === null || typeof b !== 'object') throw bad('not a JSON object')
  if (b.status !== 'success') throw bad(`status is ${JSON.stringify(b.status)?.slice(0, 40)}, expected "success"`)
  const type = b.data?.resultType
  const result = b.data?.result
  switch (type) {
    case 'scalar': {
      const p = point(result)
      if (p === undefined) throw bad('a scalar that is not [time, "value"]')
      return { kind: 'vector', samples: [{ labels: {}, value: p[1] }] }
    }
    case 'vector': {
      if (!Array.isArray(result)) throw bad('a vector result that is not a list')
      return {
        kind: 'vector',
        samples: result.map((r: { metric?: unknown, value?: unknown }) => {
          const labels = labelsOf(r?.metric)
          const p = point(r?.value)
          if (labels === undefined || p === undefined) throw bad('a vector sample without metric labels and [time, "value"]')
          return { labels, value: p[1] }
        }),
      }
    }
    case 'matrix': {
      if (!Array.isArray(result)) throw bad('a matrix result that is not a list')
      return {
        kind: 'matrix',
        series: result.map((r: { metric?: unknown, values?: unknown }) => {
          const labels = labelsOf(r?.metric)
          if (labels === undefined || !Array.isArray(r?.values)) throw bad('a matrix series without metric labels and values')
          const points = r.values.map((v: unknown) => point(v))
          if (points.some((p) => p === undefined)) throw bad('a matrix point that is not [time, "value"]')
          return { labels, points: points as [number, number][] }
        }),
      }
    }
    case 'streams':
      throw new GateError('GATE_ERR_UPSTREAM_QUERY', `${label} returned log lines, not numbers: the query must be a metric query such as sum(count_over_time({...} [{{window}}]))`, { source })
    default:
      throw bad(`resultType ${JSON.stringify(type)?.slice(0, 40)} is not scalar, vector or matrix`)
  }
}
