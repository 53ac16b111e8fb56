/**
 * Cordum gateway REST client: one undici Pool per gateway, JSON GETs with timeouts well inside
 * Argo's 10 s web-provider timeout, a small bounded retry, and the mapping of every transport
 * or protocol failure to the project's GATE_ERR_UPSTREAM_* codes. Nothing above this file sees
 * an undici error code or a raw status.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool, errors as undiciErrors } from 'undici'
import { GateError, type ErrorCode } from '../../errors.js'
import { NO_TELEMETRY, secondsSince, upstreamOutcome, type Telemetry, type UpstreamOutcome } from '../../telemetry.js'
import { Limiter } from './limiter.js'

export interface CordumClientOptions {
  /** Gateway base URL, e.g. https://cordum.example:8081 (a path prefix is kept). */
  url: string
  /** Sent as X-API-Key; never logged. */
  apiKey?: string
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
  /** Retries after the first attempt, for idempotent GETs only. */
  maxRetries?: number
  /** Responses larger than this are refused (a gate reads lists, not blobs). */
  maxBodyBytes?: number
  connections?: number
  /**
   * Requests open against this gateway at once, over all observations (CORDUM_MAX_CONCURRENCY).
   * Further requests wait for a slot (within their deadline).
   */
  maxConcurrency?: number
  /** Where each request attempt is reported (endpoint = the path template, outcome, seconds). */
  telemetry?: Telemetry
}

/** What every call is bound to: the caller's cancellation and an absolute deadline (epoch ms). */
export interface CallContext {
  signal: AbortSignal
  deadline: number
}

export type Query = Record<string, string | number | boolean | undefined>

interface Call {
  method: 'GET' | 'POST'
  path: string
  query: Query
  tenant: string
  ctx: CallContext
  /** May a failed attempt be repeated (GETs; POSTs that are idempotent)? */
  retry: boolean
  /** Non-2xx statuses returned to the caller rather than thrown. */
  accept: number[]
  body?: string
  headers?: Record<string, string>
}

export const CORDUM_DEFAULTS = {
  connectTimeoutMs: 2_000,
  headersTimeoutMs: 4_000,
  bodyTimeoutMs: 4_000,
  maxRetries: 2,
  maxBodyBytes: 8 * 1024 * 1024,
  connections: 16,
  maxConcurrency: 8,
}

const RETRY_STATUSES = new Set([429, 502, 503, 504])
const RETRY_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const BACKOFF_MS = 100

/** A failure of one attempt, before the retry decision: carries what the decision needs. */
class AttemptError extends Error {
  constructor (readonly gate: GateError, readonly retryable: boolean, readonly retryAfterMs?: number) {
    super(gate.message)
  }
}

export class CordumClient {
  readonly origin: string
  readonly #base: string
  readonly #pool: Pool
  readonly #opts: Required<Omit<CordumClientOptions, 'apiKey' | 'url' | 'telemetry'>>
  readonly #headers: Record<string, string>
  readonly #telemetry: Telemetry
  readonly #limiter: Limiter

  constructor (opts: CordumClientOptions) {
    const url = new URL(opts.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`Cordum URL must be http or https, got ${url.protocol}`)
    this.origin = url.origin
    this.#base = url.pathname.replace(/\/+$/, '')
    this.#opts = {
      connectTimeoutMs: opts.connectTimeoutMs ?? CORDUM_DEFAULTS.connectTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs ?? CORDUM_DEFAULTS.headersTimeoutMs,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? CORDUM_DEFAULTS.bodyTimeoutMs,
      maxRetries: opts.maxRetries ?? CORDUM_DEFAULTS.maxRetries,
      maxBodyBytes: opts.maxBodyBytes ?? CORDUM_DEFAULTS.maxBodyBytes,
      connections: opts.connections ?? CORDUM_DEFAULTS.connections,
      maxConcurrency: opts.maxConcurrency ?? CORDUM_DEFAULTS.maxConcurrency,
    }
    this.#limiter = new Limiter(this.#opts.maxConcurrency)
    this.#telemetry = opts.telemetry ?? NO_TELEMETRY
    this.#headers = { accept: 'application/json' }
    if (opts.apiKey !== undefined && opts.apiKey !== '') this.#headers['x-api-key'] = opts.apiKey
    this.#pool = new Pool(this.origin, {
      connections: this.#opts.connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      headersTimeout: this.#opts.headersTimeoutMs,
      bodyTimeout: this.#opts.bodyTimeoutMs,
      connect: { timeout: this.#opts.connectTimeoutMs },
    })
  }

  /**
   * GET a JSON document. Retries resets, 429 (honouring Retry-After when it fits the
   * deadline) and 502/503/504, at most maxRetries times, never past the deadline. `path` is a
   * route template (`/api/v1/jobs`): it is the endpoint label of the upstream metrics.
   */
  async getJson (path: string, query: Query, tenant: string, ctx: CallContext): Promise<unknown> {
    return (await this.#call({ method: 'GET', path, query, tenant, ctx, retry: true, accept: [] })).body
  }

  /**
   * POST a JSON body (Cordum's write routes: workflow runs, jobs, policy simulation). Retried
   * like a GET only when `idempotent` (an Idempotency-Key or idempotency_key makes a repeat
   * harmless, and simulations have no side effects); otherwise one attempt. Statuses in
   * `accept` come back with their body instead of throwing (e.g. 409, or 403 with a job id).
   */
  async postJson (path: string, query: Query, body: unknown, tenant: string, ctx: CallContext, opts: { idempotent: boolean, headers?: Record<string, string>, accept?: number[] }): Promise<{ status: number, body: unknown }> {
    return await this.#call({ method: 'POST', path, query, tenant, ctx, retry: opts.idempotent, accept: opts.accept ?? [], body: JSON.stringify(body), headers: opts.headers ?? {} })
  }

  async #call (c: Call): Promise<{ status: number, body: unknown }> {
    const target = `${this.#base}${c.path}${queryString(c.query)}`
    const what = `${c.method} ${c.path}`
    const ctx = c.ctx
    for (let attempt = 0; ; attempt++) {
      this.#checkTime(ctx, what)
      // A slot is held for one attempt only: a request waiting out a backoff leaves its slot to others.
      type Outcome = { ok: true, result: { status: number, body: unknown } } | { ok: false, err: unknown, failure: unknown }
      const outcome = await this.#limiter.run(ctx.signal, () => this.#cancelled(ctx, what) ?? new GateError('GATE_ERR_UNAVAILABLE', `${what} to Cordum was cancelled`, { source: 'cordum' }), async (): Promise<Outcome> => {
        this.#checkTime(ctx, what)
        const started = performance.now()
        const meter = { bytes: 0 }
        try {
          const result = await this.#attempt(c, target, what, meter)
          this.#report(c.path, 'ok', started, meter.bytes)
          return { ok: true, result }
        } catch (err) {
          const failure = err instanceof AttemptError ? err.gate : this.#cancelled(ctx, what) ?? err
          this.#report(c.path, upstreamOutcome(failure), started, meter.bytes)
          return { ok: false, err, failure }
        }
      })
      if (outcome.ok) return outcome.result
      const { err, failure } = outcome
      if (!(err instanceof AttemptError)) throw failure
      const left = ctx.deadline - Date.now()
      if (!err.retryable || !c.retry || attempt >= this.#opts.maxRetries) throw err.gate
      const wait = err.retryAfterMs ?? BACKOFF_MS * 2 ** attempt * (0.5 + Math.random())
      if (wait >= left) {
        if (err.retryAfterMs !== undefined) {
          throw new GateError('GATE_ERR_UPSTREAM_STATUS', `${err.gate.message}; it asked to retry after ${Math.ceil(err.retryAfterMs / 1000)} s, beyond the gate's deadline`, { source: 'cordum' })
        }
        throw err.gate
      }
      try {
        await sleep(wait, undefined, { signal: ctx.signal })
      } catch {
        throw this.#cancelled(ctx, what) ?? err.gate
      }
    }
  }

  /** One request; `meter.bytes` counts the response body bytes read, whatever the outcome. */
  async #attempt (c: Call, target: string, what: string, meter: { bytes: number }): Promise<{ status: number, body: unknown }> {
    const ctx = c.ctx
    const left = ctx.deadline - Date.now()
    let res
    try {
      res = await this.#pool.request({
        path: target,
        method: c.method,
        headers: { ...this.#headers, ...c.headers, ...(c.body === undefined ? {} : { 'content-type': 'application/json' }), 'x-tenant-id': c.tenant },
        ...(c.body === undefined ? {} : { body: c.body }),
        signal: ctx.signal,
        headersTimeout: Math.max(1, Math.min(this.#opts.headersTimeoutMs, left)),
        bodyTimeout: this.#opts.bodyTimeoutMs,
      })
    } catch (err) {
      throw this.#transport(err, what, 'before its headers', ctx)
    }
    const { statusCode, headers, body } = res
    let text: string
    try {
      text = await readCapped(body, this.#opts.maxBodyBytes, what, meter)
    } catch (err) {
      if (err instanceof GateError) throw new AttemptError(err, false)
      throw this.#transport(err, what, 'while reading its body', ctx)
    }
    const accepted = c.accept.includes(statusCode)
    if (!accepted && (statusCode < 200 || statusCode > 299)) throw statusError(statusCode, headers, text, what, this.origin)
    const type = String(headers['content-type'] ?? '')
    if (!/\bjson\b/i.test(type)) {
      throw new AttemptError(upstream('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered ${statusCode} with content type '${type || 'none'}', expected JSON: is CORDUM_URL (${this.origin}) the gateway's API address?`), false)
    }
    try {
      return { status: statusCode, body: JSON.parse(text) }
    } catch {
      throw new AttemptError(upstream('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered with malformed or truncated JSON (${text.length} bytes)`), false)
    }
  }

  #report (endpoint: string, outcome: UpstreamOutcome, started: number, bytes: number): void {
    this.#telemetry.upstreamRequest({ source: 'cordum', endpoint, outcome, seconds: secondsSince(started), bytes })
  }

  #checkTime (ctx: CallContext, what: string): void {
    const cancelled = this.#cancelled(ctx, what)
    if (cancelled !== undefined) throw cancelled
  }

  /** The error to throw when the call was stopped by the caller or the deadline, else undefined. */
  #cancelled (ctx: CallContext, what: string): GateError | undefined {
    if (Date.now() >= ctx.deadline) return upstream('GATE_ERR_UPSTREAM_TIMEOUT', `Cordum did not answer ${what} within the gate's deadline`)
    if (ctx.signal.aborted) {
      const reason = ctx.signal.reason as { name?: string } | undefined
      if (reason?.name === 'TimeoutError') return upstream('GATE_ERR_UPSTREAM_TIMEOUT', `Cordum did not answer ${what} within the gate's deadline`)
      return new GateError('GATE_ERR_UNAVAILABLE', `${what} to Cordum was cancelled: the request that needed it has ended`, { source: 'cordum' })
    }
    return undefined
  }

  /** Maps an undici/socket error to a GateError, deciding whether a retry may help. */
  #transport (err: unknown, what: string, phase: string, ctx: CallContext): AttemptError | GateError {
    const cancelled = this.#cancelled(ctx, what)
    if (cancelled !== undefined) return cancelled
    const code = (err as { code?: string }).code ?? ''
    const at = `${what} (${this.origin})`
    if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new AttemptError(upstream('GATE_ERR_UPSTREAM_TIMEOUT', `cannot connect to Cordum for ${at}: connect timeout after ${this.#opts.connectTimeoutMs} ms`), true)
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      return new AttemptError(upstream('GATE_ERR_UPSTREAM_TIMEOUT', `Cordum accepted ${at} but sent no response headers in time`), false)
    }
    if (code === 'UND_ERR_BODY_TIMEOUT') {
      return new AttemptError(upstream('GATE_ERR_UPSTREAM_TIMEOUT', `Cordum stalled ${phase} for ${at}: body timeout after ${this.#opts.bodyTimeoutMs} ms`), false)
    }
    const reading = phase.startsWith('while')
    if (RETRY_ERRORS.has(code) || reading) {
      const gate = reading
        ? upstream('GATE_ERR_UPSTREAM_RESPONSE', `Cordum closed the connection ${phase} for ${at}: the response was cut off`)
        : upstream('GATE_ERR_UPSTREAM_UNREACHABLE', `cannot reach Cordum for ${at}: ${describe(code, err)}`)
      return new AttemptError(gate, true)
    }
    return new AttemptError(upstream('GATE_ERR_UPSTREAM_UNREACHABLE', `cannot reach Cordum for ${at}: ${describe(code, err)}`), false)
  }

  async close (): Promise<void> {
    if (!this.#pool.closed && !this.#pool.destroyed) await this.#pool.close()
  }
}

function upstream (code: ErrorCode, message: string, status?: number): GateError {
  return new GateError(code, message, status === undefined ? { source: 'cordum' } : { source: 'cordum', details: { status } })
}

/** True for Cordum's 403: the key is valid but may not read this endpoint (e.g. a viewer key on an admin route). */
export function isForbidden (err: unknown): err is GateError {
  return err instanceof GateError && err.code === 'GATE_ERR_UPSTREAM_AUTH' && (err.details as { status?: number } | undefined)?.status === 403
}

function describe (code: string, err: unknown): string {
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'DNS lookup failed',
    UND_ERR_SOCKET: 'the connection was closed',
    UND_ERR_CLOSED: 'the connection was closed',
  }
  return known[code] ?? (code === '' ? (err as Error).message : `${code}`)
}

function statusError (status: number, headers: Record<string, string | string[] | undefined>, text: string, what: string, origin: string): AttemptError {
  const detail = cordumMessage(text)
  const said = detail === undefined ? '' : `: ${detail}`
  if (status === 401) {
    return new AttemptError(upstream('GATE_ERR_UPSTREAM_AUTH', `Cordum refused the gate's API key (401) for ${what}${said}; check CORDUM_API_KEY`, 401), false)
  }
  if (status === 403) {
    return new AttemptError(upstream('GATE_ERR_UPSTREAM_AUTH', `Cordum answered 403 for ${what}${said}: the key lacks the permission or role, or the tenant does not match`, 403), false)
  }
  const retryAfterMs = status === 429 ? parseRetryAfter(headers['retry-after']) : undefined
  const gate = upstream('GATE_ERR_UPSTREAM_STATUS', `Cordum answered ${status} for ${what} (${origin})${said}`, status)
  return new AttemptError(gate, RETRY_STATUSES.has(status), retryAfterMs)
}

/** The `error` of Cordum's envelope {error, code, status}, shortened; never the raw body. */
function cordumMessage (text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: unknown, code?: unknown }
    if (typeof body.error === 'string') {
      const msg = body.error.slice(0, 200)
      return typeof body.code === 'string' ? `${msg} (${body.code.slice(0, 60)})` : msg
    }
  } catch {}
  return undefined
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 10.2.3), in ms; undefined if absent or bad. */
export function parseRetryAfter (value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * The body as text, refused past `max` bytes: memory per response is bounded by the cap (one
 * page of at most 500 items), and the page is reduced to counts and dropped by the caller.
 */
async function readCapped (body: AsyncIterable<Buffer> & { destroy: (err?: Error) => unknown }, max: number, what: string, meter: { bytes: number }): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    meter.bytes = size
    if (size > max) {
      body.destroy()
      throw upstream('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered with more than ${max} bytes; refusing to read it`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function queryString (query: Query): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v))
  const s = params.toString()
  return s === '' ? '' : `?${s}`
}
