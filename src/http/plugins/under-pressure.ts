/**
 * Load shedding: past these limits the gate answers 503 GATE_ERR_UNAVAILABLE with Retry-After
 * instead of queueing work it cannot finish inside Argo's 10 s timeout. The 503 is an Error
 * measurement for Argo, which retries; it is never a verdict.
 *
 * Two limits: a cap on score requests being answered at once (the gate's own queue), and
 * @fastify/under-pressure on the event loop (delay, utilization) for everything else that can
 * starve it. Probes and /metrics are never shed: a kubelet that cannot reach /healthz under
 * load restarts a gate that is only busy, and a scrape that fails hides the overload it shows.
 * No heap/RSS limits by default: those depend on the container.
 * @see https://github.com/fastify/under-pressure
 */
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GateError } from '../../errors.js'

export interface PressureOptions {
  maxEventLoopDelay?: number
  maxEventLoopUtilization?: number
  maxHeapUsedBytes?: number
  maxRssBytes?: number
}

/** Seconds a shed client is told to wait (the Retry-After header of every GATE_ERR_UNAVAILABLE). */
export const RETRY_AFTER_SECONDS = 10

/** Paths answered whatever the pressure. */
export const NEVER_SHED = new Set(['/healthz', '/readyz', '/metrics'])

function path (request: FastifyRequest): string {
  return request.url.split('?')[0] ?? ''
}

export async function registerUnderPressure (app: FastifyInstance, opts: PressureOptions = {}): Promise<void> {
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelay ?? 1_000,
    maxEventLoopUtilization: opts.maxEventLoopUtilization ?? 0,
    maxHeapUsedBytes: opts.maxHeapUsedBytes ?? 0,
    maxRssBytes: opts.maxRssBytes ?? 0,
    retryAfter: RETRY_AFTER_SECONDS,
    // Returning nothing lets the request through; a rejection goes to the error handler,
    // which answers 503 with Retry-After (src/http/errors.ts).
    pressureHandler: (request: FastifyRequest, _reply: unknown, type: string) => {
      if (NEVER_SHED.has(path(request))) return undefined
      return Promise.reject(new GateError('GATE_ERR_UNAVAILABLE', `the gate is under pressure (${type}); retry shortly`))
    },
  })
}

/**
 * Counts score evaluations under way and refuses work past `max` (0: no cap). Requests that
 * join an identical evaluation in flight, or reuse a finished one, take no place (the score
 * service runs only evaluations through `run`). The count is kept around the work
 * (try/finally), so an evaluation that fails or is abandoned gives its place back.
 */
export class InFlightLimit {
  private current = 0

  constructor (readonly max: number) {}

  get inFlight (): number {
    return this.current
  }

  /** The refusal when full, else undefined: asked in onRequest too, so a shed request is not parsed or validated. */
  refusal (): GateError | undefined {
    if (this.max > 0 && this.current >= this.max) {
      return new GateError('GATE_ERR_UNAVAILABLE', `the gate is evaluating ${this.max} score requests already (MAX_SCORES_IN_FLIGHT); retry shortly`)
    }
    return undefined
  }

  async run<T> (work: () => Promise<T>): Promise<T> {
    const refused = this.refusal()
    if (refused !== undefined) throw refused
    this.current++
    try {
      return await work()
    } finally {
      this.current--
    }
  }
}
