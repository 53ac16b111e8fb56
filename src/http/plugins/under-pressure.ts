/**
 * Load shedding (@fastify/under-pressure): past these limits the gate answers 503 with
 * Retry-After instead of queueing work it cannot finish inside Argo's 10 s timeout. The 503 is
 * an Error measurement for Argo, which retries; it is never a verdict. No heap/RSS limits by
 * default: those depend on the container, and the event loop is the signal that matters here.
 * @see https://github.com/fastify/under-pressure
 */
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import { GateError } from '../../errors.js'

export interface PressureOptions {
  maxEventLoopDelay?: number
  maxEventLoopUtilization?: number
  maxHeapUsedBytes?: number
  maxRssBytes?: number
}

export async function registerUnderPressure (app: FastifyInstance, opts: PressureOptions = {}): Promise<void> {
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelay ?? 1_000,
    maxEventLoopUtilization: opts.maxEventLoopUtilization ?? 0.98,
    maxHeapUsedBytes: opts.maxHeapUsedBytes ?? 0,
    maxRssBytes: opts.maxRssBytes ?? 0,
    retryAfter: 10,
    customError: class extends GateError {
      constructor () {
        super('GATE_ERR_UNAVAILABLE', 'the gate is under pressure; retry shortly')
      }
    },
  })
}
