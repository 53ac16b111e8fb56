/**
 * The one HTTP client every upstream (Cordum, Prometheus, Loki) is read through: an undici
 * Pool per upstream, timeouts well inside Argo's 10 s web-provider timeout, a small bounded
 * retry (honouring Retry-After when it fits the deadline), a capped body read, telemetry per
 * attempt, and the mapping of every transport failure to a GATE_ERR_UPSTREAM_* code. What
 * differs between upstreams (how a status or an error body reads, what a good body looks like)
 * comes in as functions; nothing above src/sources/ sees an undici error or a raw status.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool, errors as undiciErrors } from 'undici'
import { GateError, type ErrorCode } from '../errors.js'
import { Limiter } from './limiter.js'
import { NO_TELEMETRY, secondsSince, upstreamOutcome, type Telemetry } from '../telemetry.js'

/** What every call is bound to: the caller's cancellation and an absolute deadline (epoch ms). */
export interface CallContext {
  signal: AbortSignal
  deadline: number
}

export interface UpstreamLimits {
  connectTimeoutMs: number
  headersTimeoutMs: number
  bodyTimeoutMs: number
  /** Retries after the first attempt, for calls marked retryable only. */
  maxRetries: number
  /** Responses larger than this are refused (a gate reads lists and numbers, not blobs). */
  maxBodyBytes: number
  connections: number
}

/** A response as the upstream sent it, body read whole (within maxBodyBytes). */
export interface UpstreamResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
}

/** Why one attempt failed, and whether another may help: what the retry loop decides on. */
export class AttemptFailure extends Error {
  constructor (readonly gate: GateError, readonly retryable: boolean, readonly retryAfterMs?: number) {
    super(gate.message)
  }
}

export interface UpstreamOptions extends Partial<UpstreamLimits> {
  /** The source's name in errors and metrics (`cordum`, `prometheus`, `loki`). */
  source: string
  /** How people call it in messages (`Cordum`, `Prometheus`, `Loki`). */
  label: string
  /** Base URL; a path prefix (e.g. behind a proxy) is kept. */
  url: string
  /** Sent with every request (credentials included); never logged or echoed. */
  headers: Record<string, string>
  /**
   * Requests open against this upstream at once, over every call of every score request
   * (e.g. CORDUM_MAX_CONCURRENCY); further attempts queue for a slot. Unset: no limit.
   */
  maxConcurrency?: number
  /** Credentials (a key, a token) cut out of any upstream text the gate repeats: see scrub(). */
  secrets?: string[]
  /** Maps a non-2xx answer to the failure it means for this upstream. */
  statusFailure: (res: UpstreamResponse, what: string) => AttemptFailure
  telemetry?: Telemetry
}

export type Query = Record<string, string | number | boolean | undefined>

export interface UpstreamCall<T> {
  method: 'GET' | 'POST'
  /** A route template (`/api/v1/jobs`): it is the endpoint label of the upstream metrics. */
  path: string
  query: Query
  headers?: Record<string, string>
  body?: string
  /** May a failed attempt be repeated (GETs; POSTs that are idempotent)? */
  retry: boolean
  /** Non-2xx statuses handed to `read` rather than failed. */
  accept?: number[]
  /** Turns an accepted response into the caller's value; a GateError it throws fails the attempt. */
  read: (res: UpstreamResponse, what: string) => T
}

export const UPSTREAM_DEFAULTS: UpstreamLimits = {
  connectTimeoutMs: 2_000,
  headersTimeoutMs: 4_000,
  bodyTimeoutMs: 4_000,
  maxRetries: 2,
  maxBodyBytes: 8 * 1024 * 1024,
  connections: 16,
}

export const RETRY_STATUSES = new Set([429, 502, 503, 504])
const RETRY_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const BACKOFF_MS = 100
const KNOWN_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  UND_ERR_SOCKET: 'the connection was closed',
  UND_ERR_CLOSED: 'the connection was closed',
}

export class UpstreamClient {
  readonly origin: string
  readonly source: string
  readonly label: string
  readonly limits: UpstreamLimits
  readonly #base: string
  readonly #pool: Pool
  readonly #headers: Record<string, string>
  readonly #statusFailure: UpstreamOptions['statusFailure']
  readonly #telemetry: Telemetry
  readonly #limiter: Limiter | undefined
  readonly #secrets: string[]

  constructor (opts: UpstreamOptions) {
    const url = new URL(opts.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${opts.label} URL must be http or https, got ${url.protocol}`)
    this.origin = url.origin
    this.source = opts.source
    this.label = opts.label
    this.#base = url.pathname.replace(/\/+$/, '')
    this.limits = {
      connectTimeoutMs: opts.connectTimeoutMs ?? UPSTREAM_DEFAULTS.connectTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs ?? UPSTREAM_DEFAULTS.headersTimeoutMs,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? UPSTREAM_DEFAULTS.bodyTimeoutMs,
      maxRetries: opts.maxRetries ?? UPSTREAM_DEFAULTS.maxRetries,
      maxBodyBytes: opts.maxBodyBytes ?? UPSTREAM_DEFAULTS.maxBodyBytes,
      connections: opts.connections ?? UPSTREAM_DEFAULTS.connections,
    }
    this.#headers = { accept: 'application/json', ...opts.headers }
    this.#statusFailure = opts.statusFailure
    this.#telemetry = opts.telemetry ?? NO_TELEMETRY
    this.#limiter = opts.maxConcurrency === undefined ? undefined : new Limiter(opts.maxConcurrency)
    // Very short values would redact ordinary words; real keys and tokens are long.
    this.#secrets = (opts.secrets ?? []).filter((v) => v.length >= 4)
    this.#pool = new Pool(this.origin, {
      connections: this.limits.connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      headersTimeout: this.limits.headersTimeoutMs,
      bodyTimeout: this.limits.bodyTimeoutMs,
      connect: { timeout: this.limits.connectTimeoutMs },
    })
  }

  /** A GateError of this upstream. */
  error (code: ErrorCode, message: string, details?: Record<string, unknown>): GateError {
    return new GateError(code, message, details === undefined ? { source: this.source } : { source: this.source, details })
  }

  /**
   * `text` (an upstream's error text the gate is about to repeat) with every credential of
   * this upstream replaced by `[redacted]`: a gateway or proxy may echo the key it was sent.
   * Callers scrub after JSON decoding (an echoed key may be escaped) and before shortening.
   */
  scrub (text: string): string {
    let out = text
    for (const secret of this.#secrets) out = out.replaceAll(secret, '[redacted]')
    return out
  }

  /**
   * One call: attempts until one succeeds, the failure is not retryable, the retries are spent
   * or the next wait would pass the deadline. A Retry-After beyond the deadline is said so.
   */
  async call<T> (c: UpstreamCall<T>, ctx: CallContext): Promise<T> {
    // Path segments come from templates and encoded ids; a dot segment would let a value
    // climb to another route of the upstream once a server normalizes the path.
    if (c.path.split('/').some((seg) => /^(\.|%2e){1,2}$/i.test(seg))) {
      throw new GateError('GATE_ERR_BAD_REQUEST', `refusing to call ${this.label} at '${c.path.slice(0, 120)}': a path segment is '.' or '..'`)
    }
    const target = `${this.#base}${c.path}${queryString(c.query)}`
    const what = `${c.method} ${c.path}`
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#slot(ctx, what, async (): Promise<{ value: T } | { err: unknown }> => {
        const stopped = this.#cancelled(ctx, what)
        if (stopped !== undefined) return { err: stopped }
        const started = performance.now()
        const meter = { bytes: 0 }
        try {
          const value = await this.#attempt(c, target, what, ctx, meter)
          this.#report(c.path, undefined, started, meter.bytes)
          return { value }
        } catch (err) {
          this.#report(c.path, err instanceof AttemptFailure ? err.gate : this.#cancelled(ctx, what) ?? err, started, meter.bytes)
          return { err }
        }
      })
      if ('value' in outcome) return outcome.value
      const err = outcome.err
      if (!(err instanceof AttemptFailure)) throw this.#cancelled(ctx, what) ?? err
      if (!err.retryable || !c.retry || attempt >= this.limits.maxRetries) throw err.gate
      const wait = err.retryAfterMs ?? BACKOFF_MS * 2 ** attempt * (0.5 + Math.random())
      if (wait >= ctx.deadline - Date.now()) {
        if (err.retryAfterMs === undefined) throw err.gate
        throw this.error('GATE_ERR_UPSTREAM_STATUS', `${err.gate.message}; it asked to retry after ${Math.ceil(err.retryAfterMs / 1000)} s, beyond the gate's deadline`)
      }
      try {
        await sleep(wait, undefined, { signal: ctx.signal })
      } catch {
        throw this.#cancelled(ctx, what) ?? err.gate
      }
    }
  }

  /**
   * Runs one attempt holding a slot of this upstream's limiter (when it has one): a request
   * waiting out a backoff holds no slot, and one cancelled while queued is never sent.
   */
  async #slot<R> (ctx: CallContext, what: string, attempt: () => Promise<R>): Promise<R> {
    if (this.#limiter === undefined) return await attempt()
    return await this.#limiter.run(ctx.signal, () => this.#cancelled(ctx, what) ?? new GateError('GATE_ERR_UNAVAILABLE', `${what} to ${this.label} was cancelled`, { source: this.source }), attempt)
  }

  /** One request; `meter.bytes` counts the response body bytes read, whatever the outcome. */
  async #attempt<T> (c: UpstreamCall<T>, target: string, what: string, ctx: CallContext, meter: { bytes: number }): Promise<T> {
    const left = ctx.deadline - Date.now()
    let res
    try {
      res = await this.#pool.request({
        path: target,
        method: c.method,
        headers: { ...this.#headers, ...c.headers, ...(c.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(c.body === undefined ? {} : { body: c.body }),
        signal: ctx.signal,
        headersTimeout: Math.max(1, Math.min(this.limits.headersTimeoutMs, left)),
        bodyTimeout: this.limits.bodyTimeoutMs,
      })
    } catch (err) {
      throw this.#transport(err, what, 'before its headers', ctx)
    }
    let text: string
    try {
      text = await readCapped(res.body, this.limits.maxBodyBytes, meter, () => this.error('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered with more than ${this.limits.maxBodyBytes} bytes; refusing to read it`))
    } catch (err) {
      if (err instanceof GateError) throw new AttemptFailure(err, false)
      throw this.#transport(err, what, 'while reading its body', ctx)
    }
    const response: UpstreamResponse = { status: res.statusCode, headers: res.headers, text }
    const ok = res.statusCode >= 200 && res.statusCode <= 299
    if (!ok && !(c.accept ?? []).includes(res.statusCode)) throw this.#statusFailure(response, what)
    try {
      return c.read(response, what)
    } catch (err) {
      if (err instanceof GateError) throw new AttemptFailure(err, false)
      throw err
    }
  }

  #report (endpoint: string, failure: unknown, started: number, bytes: number): void {
    this.#telemetry.upstreamRequest({ source: this.source, endpoint, outcome: failure === undefined ? 'ok' : upstreamOutcome(failure), seconds: secondsSince(started), bytes })
  }

  /** The error when the call was stopped by the caller or the deadline, else undefined. */
  #cancelled (ctx: CallContext, what: string): GateError | undefined {
    const late = (): GateError => this.error('GATE_ERR_UPSTREAM_TIMEOUT', `${this.label} did not answer ${what} within the gate's deadline`)
    if (Date.now() >= ctx.deadline) return late()
    if (ctx.signal.aborted) {
      if ((ctx.signal.reason as { name?: string } | undefined)?.name === 'TimeoutError') return late()
      return new GateError('GATE_ERR_UNAVAILABLE', `${what} to ${this.label} was cancelled: the request that needed it has ended`, { source: this.source })
    }
    return undefined
  }

  /** Maps an undici/socket error to a failure, deciding whether a retry may help. */
  #transport (err: unknown, what: string, phase: string, ctx: CallContext): AttemptFailure | GateError {
    const cancelled = this.#cancelled(ctx, what)
    if (cancelled !== undefined) return cancelled
    const label = this.label
    const code = (err as { code?: string }).code ?? ''
    const at = `${what} (${this.origin})`
    if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new AttemptFailure(this.error('GATE_ERR_UPSTREAM_TIMEOUT', `cannot connect to ${label} for ${at}: connect timeout after ${this.limits.connectTimeoutMs} ms`), true)
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      return new AttemptFailure(this.error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} accepted ${at} but sent no response headers in time`), false)
    }
    if (code === 'UND_ERR_BODY_TIMEOUT') {
      return new AttemptFailure(this.error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} stalled ${phase} for ${at}: body timeout after ${this.limits.bodyTimeoutMs} ms`), false)
    }
    if (phase.startsWith('while')) {
      return new AttemptFailure(this.error('GATE_ERR_UPSTREAM_RESPONSE', `${label} closed the connection ${phase} for ${at}: the response was cut off`), true)
    }
    const why = KNOWN_ERRORS[code] ?? (code === '' ? 'the connection failed' : code)
    return new AttemptFailure(this.error('GATE_ERR_UPSTREAM_UNREACHABLE', `cannot reach ${label} for ${at}: ${why}`), RETRY_ERRORS.has(code))
  }

  async close (): Promise<void> {
    if (!this.#pool.closed && !this.#pool.destroyed) await this.#pool.close()
  }
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 10.2.3), in ms; undefined if absent or bad. */
export function parseRetryAfter (value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Parses a JSON body; a body that does not parse fails the attempt with what was received. */
export function parseJson (text: string, failure: () => GateError): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw failure()
  }
}

/**
 * The body as text, refused past `max` bytes: memory per response is bounded by the cap (one
 * page), and callers reduce a page to counts and drop it.
 */
async function readCapped (body: AsyncIterable<Buffer> & { destroy: (err?: Error) => unknown }, max: number, meter: { bytes: number }, tooLarge: () => GateError): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    meter.bytes = size
    if (size > max) {
      body.destroy()
      throw tooLarge()
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Values are encoded by URLSearchParams: no caller-supplied value can add a parameter. */
function queryString (query: Query): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v))
  const s = params.toString()
  return s === '' ? '' : `?${s}`
}
