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

export interface FaultSpec {
  /** Exact request path (e.g. `/api/v1/jobs`); absent: every route except the control routes. */
  route?: string
  /** Fire this many times, then stop; absent: until removed. */
  times?: number
  fault: FaultKind
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
    this.#bytes.set(path, (this.#bytes.get(path) ?? 0) + bytes)
  }

  /** Response body bytes sent for `path` (as computed, before any fault cuts them), or for every path when absent. */
  bytes (path?: string): number {
    if (path !== undefined) return this.#bytes.get(path) ?? 0
    let total = 0
    for (const n of this.#bytes.values()) total += n
    return total
  }

  bytesSnapshot (): Record<string, number> {
    return Object.fromEntries(this.#bytes)
  }

  record (path: string): void {
    this.#counts.set(path, (this.#counts.get(path) ?? 0) + 1)
  }

  /** Requests to `path`, or to every path when absent. */
  count (path?: string): number {
    if (path !== undefined) return this.#counts.get(path) ?? 0
    let total = 0
    for (const n of this.#counts.values()) total += n
    return total
  }

  snapshot (): Record<string, number> {
    return Object.fromEntries(this.#counts)
  }

  reset (): void {
    this.#counts.clear()
    this.#bytes.clear()
  }
}
