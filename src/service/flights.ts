/**
 * Single-flight with a short cache: concurrent callers asking the same question (the same key)
 * share one fetch, and callers arriving shortly after it finished get its result. The shared
 * fetch is cancelled only when every caller waiting on it has gone; errors are never cached.
 */
import { GateError } from '../errors.js'
import type { ObservationUse } from '../telemetry.js'

interface Flight<T> {
  promise: Promise<T>
  controller: AbortController
  waiters: number
  settled: boolean
  /** The result once settled (a finished flight is answered without awaiting its promise). */
  value?: T
  expires: number
}

/**
 * A caller's cancellation, or how to make it: a caller answered from a finished flight waits on
 * nothing, so the signal (an AbortController and a listener per HTTP request) is made only when
 * the caller has to wait.
 */
export type Cancellation = AbortSignal | (() => AbortSignal)

/** The signal of a cancellation, made now if it was deferred. */
export function signalOf (abort: Cancellation): AbortSignal {
  return typeof abort === 'function' ? abort() : abort
}

export class Flights<T> {
  readonly #flights = new Map<string, Flight<T>>()
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #now: () => number

  constructor (opts: { ttlMs: number, maxEntries: number, now?: () => number }) {
    this.#ttlMs = opts.ttlMs
    this.#maxEntries = opts.maxEntries
    this.#now = opts.now ?? Date.now
  }

  get size (): number {
    return this.#flights.size
  }

  /** `onUse` learns whether this call started a fetch, joined one in flight, or reused a finished one. */
  async run (key: string, fetch: (signal: AbortSignal) => Promise<T>, abort: Cancellation, onUse?: (use: ObservationUse) => void): Promise<T> {
    let flight = this.#flights.get(key)
    if (flight !== undefined && flight.settled) {
      if (flight.expires > this.#now()) {
        onUse?.('cached')
        return flight.value as T
      }
      this.#flights.delete(key)
      flight = undefined
    }
    onUse?.(flight === undefined ? 'fetched' : 'coalesced')
    if (flight === undefined) flight = this.#start(key, fetch)
    return await this.#join(flight, signalOf(abort))
  }

  /** When the finished flight under `key` stops being reused; undefined while none is settled. */
  expiry (key: string): number | undefined {
    const flight = this.#flights.get(key)
    return flight?.settled === true ? flight.expires : undefined
  }

  #start (key: string, fetch: (signal: AbortSignal) => Promise<T>): Flight<T> {
    const controller = new AbortController()
    const flight: Flight<T> = { controller, waiters: 0, settled: false, expires: Infinity, promise: undefined as unknown as Promise<T> }
    flight.promise = fetch(controller.signal).then((value) => {
      flight.value = value
      flight.settled = true
      flight.expires = this.#now() + this.#ttlMs
      return value
    }, (err: unknown) => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
      throw err
    })
    // The promise is awaited by joiners; this keeps a flight nobody waits for from crashing the process.
    flight.promise.catch(() => {})
    this.#flights.set(key, flight)
    this.#evict()
    return flight
  }

  /** Waits on a flight still in the air (run answers a settled one itself). */
  async #join (flight: Flight<T>, abort: AbortSignal): Promise<T> {
    flight.waiters++
    let onAbort: (() => void) | undefined
    const cancelled = new Promise<never>((_resolve, reject) => {
      onAbort = () => {
        flight.waiters--
        if (flight.waiters === 0 && !flight.settled) flight.controller.abort(abort.reason)
        reject(new GateError('GATE_ERR_UNAVAILABLE', 'the request was cancelled before its observations were ready'))
      }
      if (abort.aborted) onAbort()
      else abort.addEventListener('abort', onAbort, { once: true })
    })
    cancelled.catch(() => {})
    try {
      return await Promise.race([flight.promise, cancelled])
    } finally {
      if (onAbort !== undefined) abort.removeEventListener('abort', onAbort)
      if (!abort.aborted) flight.waiters--
    }
  }

  /** Drops the oldest finished entries beyond the bound (Map keeps insertion order). */
  #evict (): void {
    if (this.#flights.size <= this.#maxEntries) return
    const now = this.#now()
    for (const [key, f] of this.#flights) {
      if (this.#flights.size <= this.#maxEntries) return
      if (f.settled || f.expires <= now) this.#flights.delete(key)
    }
  }
}
