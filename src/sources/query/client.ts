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
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool, errors as undiciErrors } from 'undici'
import { GateError, type ErrorCode } from '../../errors.js'
import { NO_TELEMETRY, secondsSince, upstreamOutcome, type Telemetry } from '../../telemetry.js'
import { scrub } from '../secrets.js'

export interface QueryClientOptions {
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
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
  maxRetries?: number
  maxBodyBytes?: number
  connections?: number
  /** Reports every attempt (endpoint = the API path, outcome, seconds). */
  telemetry?: Telemetry
}

/** The caller's cancellation and an absolute deadline (epoch ms). */
export interface CallContext {
  signal: AbortSignal
  deadline: number
}

export interface Sample { labels: Record<string, string>, value: number }
export interface Series { labels: Record<string, string>, points: [number, number][] }
/** An instant query's answer (a scalar is one sample without labels) or a range query's. */
export type QueryResult = { kind: 'vector', samples: Sample[] } | { kind: 'matrix', series: Series[] }

export const QUERY_DEFAULTS = {
  connectTimeoutMs: 2_000,
  headersTimeoutMs: 5_000,
  bodyTimeoutMs: 5_000,
  maxRetries: 2,
  maxBodyBytes: 8 * 1024 * 1024,
  connections: 16,
}

const RETRY_STATUSES = new Set([429, 502, 503, 504])
const RETRY_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const BACKOFF_MS = 100

class AttemptError extends Error {
  constructor (readonly gate: GateError, readonly retryable: boolean) {
    super(gate.message)
  }
}

export class QueryClient {
  readonly origin: string
  readonly #base: string
  readonly #pool: Pool
  readonly #opts: Required<Omit<QueryClientOptions, 'bearerToken' | 'headers' | 'url' | 'tokenVariable' | 'telemetry'>> & { tokenVariable?: string }
  readonly #headers: Record<string, string>
  readonly #telemetry: Telemetry
  /** Credentials to cut out of any upstream text the gate repeats in an error. */
  readonly #secrets: string[]

  constructor (opts: QueryClientOptions) {
    const url = new URL(opts.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${opts.label} URL must be http or https, got ${url.protocol}`)
    this.origin = url.origin
    this.#base = url.pathname.replace(/\/+$/, '')
    this.#opts = {
      source: opts.source,
      label: opts.label,
      connectTimeoutMs: opts.connectTimeoutMs ?? QUERY_DEFAULTS.connectTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs ?? QUERY_DEFAULTS.headersTimeoutMs,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? QUERY_DEFAULTS.bodyTimeoutMs,
      maxRetries: opts.maxRetries ?? QUERY_DEFAULTS.maxRetries,
      maxBodyBytes: opts.maxBodyBytes ?? QUERY_DEFAULTS.maxBodyBytes,
      connections: opts.connections ?? QUERY_DEFAULTS.connections,
    }
    if (opts.tokenVariable !== undefined) this.#opts.tokenVariable = opts.tokenVariable
    this.#telemetry = opts.telemetry ?? NO_TELEMETRY
    this.#headers = { accept: 'application/json', ...opts.headers }
    if (opts.bearerToken !== undefined && opts.bearerToken !== '') this.#headers.authorization = `Bearer ${opts.bearerToken}`
    this.#secrets = opts.bearerToken === undefined || opts.bearerToken === '' ? [] : [opts.bearerToken]
    this.#pool = new Pool(this.origin, {
      connections: this.#opts.connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      headersTimeout: this.#opts.headersTimeoutMs,
      bodyTimeout: this.#opts.bodyTimeoutMs,
      connect: { timeout: this.#opts.connectTimeoutMs },
    })
  }

  /** Runs a query (instant or range) and returns its result; throws a GateError. */
  async query (path: string, params: Record<string, string>, ctx: CallContext): Promise<QueryResult> {
    const body = await this.#get(path, params, ctx, true)
    return parseResult(body, this.#opts.label, this.#opts.source)
  }

  /** GET a readiness endpoint: any 2xx is ready. */
  async ready (path: string, ctx: CallContext): Promise<void> {
    await this.#get(path, {}, ctx, false)
  }

  async #get (path: string, params: Record<string, string>, ctx: CallContext, json: boolean): Promise<unknown> {
    const qs = new URLSearchParams(params).toString()
    const target = `${this.#base}${path}${qs === '' ? '' : `?${qs}`}`
    const what = `GET ${path}`
    for (let attempt = 0; ; attempt++) {
      const stopped = this.#cancelled(ctx, what)
      if (stopped !== undefined) throw stopped
      const started = performance.now()
      try {
        const body = await this.#attempt(target, what, ctx, json)
        this.#telemetry.upstreamRequest({ source: this.#opts.source, endpoint: path, outcome: 'ok', seconds: secondsSince(started) })
        return body
      } catch (err) {
        const failure = err instanceof AttemptError ? err.gate : this.#cancelled(ctx, what) ?? err
        this.#telemetry.upstreamRequest({ source: this.#opts.source, endpoint: path, outcome: upstreamOutcome(failure), seconds: secondsSince(started) })
        if (!(err instanceof AttemptError)) throw failure
        const wait = BACKOFF_MS * 2 ** attempt * (0.5 + Math.random())
        if (!err.retryable || attempt >= this.#opts.maxRetries || wait >= ctx.deadline - Date.now()) throw err.gate
        try {
          await sleep(wait, undefined, { signal: ctx.signal })
        } catch {
          throw this.#cancelled(ctx, what) ?? err.gate
        }
      }
    }
  }

  async #attempt (target: string, what: string, ctx: CallContext, json: boolean): Promise<unknown> {
    const left = ctx.deadline - Date.now()
    let res
    try {
      res = await this.#pool.request({
        path: target,
        method: 'GET',
        headers: this.#headers,
        signal: ctx.signal,
        headersTimeout: Math.max(1, Math.min(this.#opts.headersTimeoutMs, left)),
        bodyTimeout: this.#opts.bodyTimeoutMs,
      })
    } catch (err) {
      throw this.#transport(err, what, 'before its headers', ctx)
    }
    let text: string
    try {
      text = await readCapped(res.body, this.#opts.maxBodyBytes, () => this.#error('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered with more than ${this.#opts.maxBodyBytes} bytes; refusing to read it`))
    } catch (err) {
      if (err instanceof GateError) throw new AttemptError(err, false)
      throw this.#transport(err, what, 'while reading its body', ctx)
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw this.#statusError(res.statusCode, text, what)
    if (!json) return undefined
    try {
      return JSON.parse(text)
    } catch {
      throw new AttemptError(this.#error('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered ${res.statusCode} with a body that is not JSON (${text.length} bytes): is ${this.origin} the ${this.#opts.label} API?`), false)
    }
  }

  #error (code: ErrorCode, message: string, details?: Record<string, unknown>): GateError {
    return new GateError(code, message, details === undefined ? { source: this.#opts.source } : { source: this.#opts.source, details })
  }

  #statusError (status: number, text: string, what: string): AttemptError {
    const label = this.#opts.label
    const said = upstreamMessage(text, this.#secrets)
    const detail = said === undefined ? '' : `: ${said.errorType === undefined ? '' : `${said.errorType}: `}${said.error}`
    if (status === 401 || status === 403) {
      const hint = this.#opts.tokenVariable === undefined ? '' : `; check ${this.#opts.tokenVariable}`
      return new AttemptError(this.#error('GATE_ERR_UPSTREAM_AUTH', `${label} refused the gate's credentials (${status}) for ${what}${hint}`, { status }), false)
    }
    // Prometheus: 400 bad_data (syntax), 422 execution; Loki: 400 with the parse error as text.
    if (status === 400 || status === 422) {
      return new AttemptError(this.#error('GATE_ERR_UPSTREAM_QUERY', `${label} rejected the query (${status})${detail || ': no reason given'}`, { status, ...(said?.errorType === undefined ? {} : { errorType: said.errorType }) }), false)
    }
    if (status === 504 || (status === 503 && said?.errorType === 'timeout')) {
      return new AttemptError(this.#error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} did not finish the query in time (${status})${detail}`, { status }), false)
    }
    return new AttemptError(this.#error('GATE_ERR_UPSTREAM_STATUS', `${label} answered ${status} for ${what} (${this.origin})${detail}`, { status }), RETRY_STATUSES.has(status))
  }

  /** The error when the call was stopped by the caller or the deadline, else undefined. */
  #cancelled (ctx: CallContext, what: string): GateError | undefined {
    const label = this.#opts.label
    if (Date.now() >= ctx.deadline) return this.#error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} did not answer ${what} within the gate's deadline`)
    if (ctx.signal.aborted) {
      const reason = ctx.signal.reason as { name?: string } | undefined
      if (reason?.name === 'TimeoutError') return this.#error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} did not answer ${what} within the gate's deadline`)
      return new GateError('GATE_ERR_UNAVAILABLE', `${what} to ${label} was cancelled: the request that needed it has ended`, { source: this.#opts.source })
    }
    return undefined
  }

  #transport (err: unknown, what: string, phase: string, ctx: CallContext): AttemptError | GateError {
    const cancelled = this.#cancelled(ctx, what)
    if (cancelled !== undefined) return cancelled
    const label = this.#opts.label
    const code = (err as { code?: string }).code ?? ''
    const at = `${what} (${this.origin})`
    if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new AttemptError(this.#error('GATE_ERR_UPSTREAM_TIMEOUT', `cannot connect to ${label} for ${at}: connect timeout after ${this.#opts.connectTimeoutMs} ms`), true)
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      return new AttemptError(this.#error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} accepted ${at} but sent no response headers in time`), false)
    }
    if (code === 'UND_ERR_BODY_TIMEOUT') {
      return new AttemptError(this.#error('GATE_ERR_UPSTREAM_TIMEOUT', `${label} stalled ${phase} for ${at}: body timeout after ${this.#opts.bodyTimeoutMs} ms`), false)
    }
    if (phase.startsWith('while')) {
      return new AttemptError(this.#error('GATE_ERR_UPSTREAM_RESPONSE', `${label} closed the connection ${phase} for ${at}: the response was cut off`), true)
    }
    const known: Record<string, string> = { ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset', ENOTFOUND: 'host not found', EAI_AGAIN: 'DNS lookup failed' }
    const why = known[code] ?? (code === '' ? 'the connection failed' : code)
    return new AttemptError(this.#error('GATE_ERR_UPSTREAM_UNREACHABLE', `cannot reach ${label} for ${at}: ${why}`), RETRY_ERRORS.has(code))
  }

  async close (): Promise<void> {
    if (!this.#pool.closed && !this.#pool.destroyed) await this.#pool.close()
  }
}

/** Prometheus' `{errorType, error}` envelope, or Loki's plain-text error; shortened, never the raw body. */
function upstreamMessage (text: string, secrets: string[]): { errorType?: string, error: string } | undefined {
  // Scrubbed after parsing (an echoed token may be JSON-escaped) and before shortening.
  const clip = (s: string): string => scrub(s, secrets).replace(/\s+/g, ' ').trim().slice(0, 300)
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

async function readCapped (body: AsyncIterable<Buffer> & { destroy: (err?: Error) => unknown }, max: number, tooLarge: () => GateError): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > max) {
      body.destroy()
      throw tooLarge()
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
