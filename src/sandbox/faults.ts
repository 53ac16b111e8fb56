/**
 * Fault injection for the sandbox: make one route (or every route) misbehave the ways a real
 * gateway or the network between can, so the Cordum client's handling of each is tested over
 * real loopback HTTP. Faults are matched in the order added; `times` bounds how often one fires.
 */

export type FaultKind =
  /** Wait before sending the response headers. */
  | { kind: 'delay-headers', ms: number }
  /** Send the headers and half the body, then wait before the rest. */
  | { kind: 'stall-body', ms: number }
  /** Send the headers and half the body, then reset the connection. */
  | { kind: 'reset-mid-body' }
  /** Answer with this status and Cordum's error envelope. */
  | { kind: 'status', status: number }
  /** Answer 429; with a Retry-After header when `retryAfter` is given (seconds or an HTTP date). */
  | { kind: 'rate-limit', retryAfter?: string }
  /** A complete response whose JSON does not parse. */
  | { kind: 'malformed-json' }
  /** A complete response (Content-Length matching) holding only the first half of the JSON. */
  | { kind: 'truncated-json' }
  /** The right body with another content type (e.g. text/html from a proxy). */
  | { kind: 'content-type', value: string }
  /** Ignore the request's cursor: every page is the first page, with the same next_cursor. */
  | { kind: 'repeat-cursor' }
  /** Refuse the request as Cordum's auth would. */
  | { kind: 'auth', status: 401 | 403 }
  /** TCP accepted, then the connection is closed before any response byte. */
  | { kind: 'reset-before-headers' }
  /** The right body padded with whitespace to at least `bytes` (over the client's size cap). */
  | { kind: 'oversize-body', bytes: number }
  /** Each list item also comes `copies` more times, stamped `ms` after the sandbox's now and harmless (allowed, succeeded): counted, they would dilute the rates. */
  | { kind: 'future-records', ms: number, copies: number }
  /** Every list item (and an approval's job) lacks `field`. */
  | { kind: 'missing-field', field: string }
  /** Fields the gate does not know, on the envelope and on every item. */
  | { kind: 'extra-fields' }
  /** Answer `status` with an error text that repeats the credentials the request carried (a careless gateway or proxy). */
  | { kind: 'echo-credentials', status: number }

export interface FaultSpec {
  /** Exact request path (e.g. `/api/v1/jobs`); absent: every route except the control routes. */
  route?: string
  /** Fire this many times, then stop; absent: until removed. */
  times?: number
  fault: FaultKind
}

/**
 * The body faults (future-records, missing-field, extra-fields) applied to a list answer
 * `{items: [...]}`; any other body, or no such fault, is returned as it is.
 */
export function faultyBody (body: unknown, fault: FaultKind | undefined, now: number): unknown {
  if (fault === undefined || !isRecord(body) || !Array.isArray(body.items)) return body
  const items = body.items as unknown[]
  switch (fault.kind) {
    case 'missing-field':
      return { ...body, items: items.map((item) => without(item, fault.field)) }
    case 'extra-fields':
      return { ...body, gateway_build: 'sbx-extra', shard: { id: 3, region: 'eu' }, items: items.map((item) => isRecord(item) ? { ...item, x_trace: 'abc', labels: { team: 'x' }, score_v2: 0.5 } : item) }
    case 'future-records': {
      const extra: unknown[] = []
      for (const item of items) for (let i = 1; i <= fault.copies; i++) extra.push(futureCopy(item, now + fault.ms, i))
      return { ...body, items: [...items, ...extra] }
    }
    default:
      return body
  }
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function without (item: unknown, field: string): unknown {
  if (!isRecord(item)) return item
  const { [field]: _gone, ...rest } = item
  return isRecord(rest.job) ? { ...rest, job: without(rest.job, field) } : rest
}

/** A harmless copy of a decision, job, DLQ entry or approval, stamped at `at` (epoch ms). */
function futureCopy (item: unknown, at: number, n: number): unknown {
  if (!isRecord(item)) return item
  const copy: Record<string, unknown> = { ...item }
  if (typeof copy.timestamp === 'string') copy.timestamp = new Date(at).toISOString()
  if (typeof copy.created_at === 'string') copy.created_at = new Date(at).toISOString()
  if (typeof copy.updated_at === 'number') copy.updated_at = at * 1000
  if (typeof copy.verdict === 'string') copy.verdict = 'allow'
  if (typeof copy.state === 'string') copy.state = 'SUCCEEDED'
  if (typeof copy.attempts === 'number') copy.attempts = 0
  for (const id of ['id', 'job_id']) if (typeof copy[id] === 'string') copy[id] = `${String(copy[id])}-future-${n}`
  if (isRecord(copy.job)) copy.job = futureCopy(copy.job, at, n)
  return copy
}

interface Armed { id: number, spec: FaultSpec, left: number }

export class FaultInjector {
  #next = 1
  #armed: Armed[] = []

  /** Arms a fault; returns a function that disarms it. */
  add (spec: FaultSpec): () => void {
    const armed = { id: this.#next++, spec, left: spec.times ?? Infinity }
    this.#armed.push(armed)
    return () => { this.#armed = this.#armed.filter((a) => a !== armed) }
  }

  clear (): void {
    this.#armed = []
  }

  list (): FaultSpec[] {
    return this.#armed.map((a) => ({ ...a.spec, ...(Number.isFinite(a.left) ? { times: a.left } : {}) }))
  }

  /** The fault for a request to `path`, consuming one of its firings. */
  take (path: string): FaultKind | undefined {
    const armed = this.#armed.find((a) => a.left > 0 && (a.spec.route === undefined || a.spec.route === path))
    if (armed === undefined) return undefined
    armed.left--
    if (armed.left <= 0) this.#armed = this.#armed.filter((a) => a !== armed)
    return armed.spec.fault
  }
}

/** Requests the sandbox received, and response body bytes it sent, by path: how tests and benchmarks count upstream calls. */
export class RequestStats {
  #counts = new Map<string, number>()
  #bytes = new Map<string, number>()

  recordBytes (path: string, bytes: number): void {
    add(this.#bytes, path, bytes)
  }

  /** Response body bytes sent for `path` (as computed, before any fault cuts them), or for every path when absent. */
  bytes (path?: string): number {
    return tally(this.#bytes, path)
  }

  bytesSnapshot (): Record<string, number> {
    return Object.fromEntries(this.#bytes)
  }

  record (path: string): void {
    add(this.#counts, path, 1)
  }

  /** Requests to `path`, or to every path when absent. */
  count (path?: string): number {
    return tally(this.#counts, path)
  }

  snapshot (): Record<string, number> {
    return Object.fromEntries(this.#counts)
  }

  reset (): void {
    this.#counts.clear()
    this.#bytes.clear()
  }
}

function add (m: Map<string, number>, path: string, n: number): void {
  m.set(path, (m.get(path) ?? 0) + n)
}

/** The count for `path`, or the sum over every path when absent. */
function tally (m: Map<string, number>, path: string | undefined): number {
  if (path !== undefined) return m.get(path) ?? 0
  let total = 0
  for (const n of m.values()) total += n
  return total
}
