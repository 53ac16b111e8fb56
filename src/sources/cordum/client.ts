/**
 * Cordum gateway REST client: JSON GETs and POSTs with X-API-Key and X-Tenant-ID, over the
 * shared upstream client (src/sources/upstream.ts: pool, timeouts, retries, capped reads,
 * transport errors). What is Cordum's own lives here: its error envelope, what 401 and 403
 * mean, and that every answer must be JSON.
 */
import { GateError } from '../../errors.js'
import type { Telemetry } from '../../telemetry.js'
import { AttemptFailure, parseJson, parseRetryAfter, RETRY_STATUSES, UpstreamClient, type CallContext, type Query, type UpstreamLimits, type UpstreamResponse } from '../upstream.js'
import { DEFAULT_CORDUM_MAX_CONCURRENCY } from '../../config/settings.js'

export { parseRetryAfter, type CallContext, type Query }

export interface CordumClientOptions extends Partial<UpstreamLimits> {
  /** Gateway base URL, e.g. https://cordum.example:8081 (a path prefix is kept). */
  url: string
  /** Sent as X-API-Key; never logged. */
  apiKey?: string
  /**
   * Requests open against this gateway at once, over all observations and actions
   * (CORDUM_MAX_CONCURRENCY). Further requests wait for a slot (within their deadline).
   */
  maxConcurrency?: number
  /** Where each request attempt is reported (endpoint = the path template, outcome, seconds). */
  telemetry?: Telemetry
}

export const CORDUM_MAX_CONCURRENCY = DEFAULT_CORDUM_MAX_CONCURRENCY

export class CordumClient {
  readonly origin: string
  readonly #http: UpstreamClient

  constructor (opts: CordumClientOptions) {
    const { url, apiKey, telemetry, maxConcurrency, ...limits } = opts
    this.#http = new UpstreamClient({
      ...limits,
      maxConcurrency: maxConcurrency ?? CORDUM_MAX_CONCURRENCY,
      source: 'cordum',
      label: 'Cordum',
      url,
      headers: apiKey === undefined || apiKey === '' ? {} : { 'x-api-key': apiKey },
      secrets: apiKey === undefined || apiKey === '' ? [] : [apiKey],
      statusFailure: (res, what) => statusFailure(this.#http, res, what),
      ...(telemetry === undefined ? {} : { telemetry }),
    })
    this.origin = this.#http.origin
  }

  /**
   * GET a JSON document. Retries resets, 429 (honouring Retry-After when it fits the
   * deadline) and 502/503/504, at most maxRetries times, never past the deadline. `path` is a
   * route template (`/api/v1/jobs`): it is the endpoint label of the upstream metrics.
   */
  async getJson (path: string, query: Query, tenant: string, ctx: CallContext): Promise<unknown> {
    return await this.#http.call({ method: 'GET', path, query, headers: { 'x-tenant-id': tenant }, retry: true, read: (res, what) => this.#json(res, what) }, ctx)
  }

  /**
   * POST a JSON body (Cordum's write routes: workflow runs, jobs, policy simulation). Retried
   * like a GET only when `idempotent` (an Idempotency-Key or idempotency_key makes a repeat
   * harmless, and simulations have no side effects); otherwise one attempt. Statuses in
   * `accept` come back with their body instead of throwing (e.g. 409, or 403 with a job id).
   */
  async postJson (
    path: string, query: Query, body: unknown, tenant: string, ctx: CallContext, opts: { idempotent: boolean, headers?: Record<string, string>, accept?: number[] }
  ): Promise<{ status: number, body: unknown }> {
    return await this.#http.call({
      method: 'POST',
      path,
      query,
      headers: { ...opts.headers, 'x-tenant-id': tenant },
      body: JSON.stringify(body),
      retry: opts.idempotent,
      accept: opts.accept ?? [],
      read: (res, what) => ({ status: res.status, body: this.#json(res, what) }),
    }, ctx)
  }

  /** Every Cordum answer is JSON: another content type means the URL points elsewhere (a proxy page, the UI). */
  #json (res: UpstreamResponse, what: string): unknown {
    const type = String(res.headers['content-type'] ?? '')
    if (!/\bjson\b/i.test(type)) {
      throw this.#http.error('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered ${res.status} with content type '${type || 'none'}', expected JSON: is CORDUM_URL (${this.origin}) the gateway's API address?`)
    }
    return parseJson(res.text, () => this.#http.error('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered with malformed or truncated JSON (${res.text.length} bytes)`))
  }

  async close (): Promise<void> {
    await this.#http.close()
  }
}

/** True for Cordum's 403: the key is valid but may not read this endpoint (e.g. a viewer key on an admin route). */
export function isForbidden (err: unknown): err is GateError {
  return err instanceof GateError && err.code === 'GATE_ERR_UPSTREAM_AUTH' && (err.details as { status?: number } | undefined)?.status === 403
}

function statusFailure (http: UpstreamClient, res: UpstreamResponse, what: string): AttemptFailure {
  const { status } = res
  const detail = cordumMessage(res.text, (text) => http.scrub(text))
  const said = detail === undefined ? '' : `: ${detail}`
  if (status === 401) {
    return new AttemptFailure(http.error('GATE_ERR_UPSTREAM_AUTH', `Cordum refused the gate's API key (401) for ${what}${said}; check CORDUM_API_KEY`, { status }), false)
  }
  // Cordum's 403 for an X-Tenant-ID the key may not read (an unknown tenant, or another one's):
  // the request's own fault, the same however often it is asked, so a 4xx (Argo would retry a
  // 503 for ever) rather than an upstream failure.
  if (status === 403 && detail !== undefined && /tenant/i.test(detail)) {
    return new AttemptFailure(new GateError('GATE_ERR_FORBIDDEN', `tenant: Cordum does not let the gate read this tenant (403 for ${what}${said}): it is unknown to Cordum or not the tenant of CORDUM_API_KEY`, { source: 'cordum', details: { field: 'tenant' } }), false)
  }
  if (status === 403) {
    return new AttemptFailure(http.error('GATE_ERR_UPSTREAM_AUTH', `Cordum answered 403 for ${what}${said}: the key lacks the permission or role, or the tenant does not match`, { status }), false)
  }
  const retryAfterMs = status === 429 ? parseRetryAfter(res.headers['retry-after']) : undefined
  return new AttemptFailure(http.error('GATE_ERR_UPSTREAM_STATUS', `Cordum answered ${status} for ${what} (${http.origin})${said}`, { status }), RETRY_STATUSES.has(status), retryAfterMs)
}

/** The `error` of Cordum's envelope {error, code, status}, without credentials, shortened; never the raw body. */
function cordumMessage (text: string, scrub: (s: string) => string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: unknown, code?: unknown }
    if (typeof body.error === 'string') {
      const msg = scrub(body.error).slice(0, 200)
      return typeof body.code === 'string' ? `${msg} (${scrub(body.code).slice(0, 60)})` : msg
    }
  } catch {}
  return undefined
}
