/**
 * What the gate reports about its own work, as an interface: the score service and every
 * source call it, and only src/metrics/ knows it becomes Prometheus metrics. Nothing here
 * imports prom-client, so services, sources and tests can run with NO_TELEMETRY, and the judge
 * (src/gate) stays pure: the service reports the judgement after the judge has returned it.
 *
 * Label values passed here must come from bounded sets: stage names of the policy, error
 * codes, route templates such as `/api/v1/jobs` (never a URL with ids or a query string).
 * Per-rollout values are bounded by the implementation (expiry and a cap).
 */
import type { ErrorCode } from './errors.js'
import { isGateError } from './errors.js'
import type { Judgement } from './gate/verdict.js'

/** How one request to an upstream ended (one attempt: a retried call reports each attempt). */
export type UpstreamOutcome =
  | 'ok'
  | 'timeout'
  | 'unreachable'
  | 'error_status'
  | 'unauthorized'
  | 'forbidden'
  | 'bad_response'
  | 'cancelled'

export interface UpstreamRequest {
  /** The source that made it: `cordum`, `prometheus`, `loki`. */
  source: string
  /** A route template such as `/api/v1/jobs`: never a raw URL, an id or a query string. */
  endpoint: string
  outcome: UpstreamOutcome
  seconds: number
  /** Response body bytes read (what the upstream cost in transfer); absent when the source does not measure it. */
  bytes?: number
}

/** How the score service obtained a source's observations (its single-flight with a short cache). */
export type ObservationUse = 'fetched' | 'coalesced' | 'cached'

/**
 * A closed time slice's counts were found in the slice cache (hit), joined a fetch of the same
 * slice already under way (shared), or had to be fetched (miss).
 */
export type SliceCacheResult = 'hit' | 'shared' | 'miss'

/** What a judgement is about: the rollout (or, when a request names none, the canary) and stage. */
export interface RolloutStage {
  /** The Cordum tenant asked about: two tenants' rollouts of the same name are two series. */
  tenant: string
  /** Kubernetes namespace of the rollout, when the request names one. */
  namespace?: string
  rollout: string
  stage: string
}

export interface Telemetry {
  /** A score request was answered with a verdict (after any decision record was written). */
  judged (subject: RolloutStage, judgement: Judgement, seconds: number): void
  /** A score request ended in an error instead of a verdict. `stage` is undefined when the request named no known stage. */
  evaluationFailed (stage: string | undefined, code: ErrorCode, seconds: number): void
  upstreamRequest (request: UpstreamRequest): void
  observationShared (source: string, use: ObservationUse): void
  /** How a score answer was obtained: evaluated ('fetched'), joined an identical evaluation in flight, or reused from the short cache. */
  answerShared (use: ObservationUse): void
  /** A closed time slice of `endpoint` (a route template) was looked up in the slice cache. */
  sliceCache (source: string, endpoint: string, result: SliceCacheResult): void
  /** A decision record was written to the evidence store, or the write failed. */
  evidenceWritten (outcome: 'ok' | 'error', seconds: number): void
}

/** Reports nothing: the default wherever no telemetry is wired in. */
export const NO_TELEMETRY: Telemetry = {
  judged () {},
  evaluationFailed () {},
  upstreamRequest () {},
  observationShared () {},
  answerShared () {},
  sliceCache () {},
  evidenceWritten () {},
}

/** The outcome label of an upstream failure, from the GateError a source maps it to. */
export function upstreamOutcome (err: unknown): UpstreamOutcome {
  if (!isGateError(err)) return 'unreachable'
  switch (err.code) {
    case 'GATE_ERR_UPSTREAM_TIMEOUT': return 'timeout'
    case 'GATE_ERR_UPSTREAM_UNREACHABLE': return 'unreachable'
    case 'GATE_ERR_UPSTREAM_STATUS':
    case 'GATE_ERR_UPSTREAM_QUERY': return 'error_status'
    case 'GATE_ERR_UPSTREAM_RESPONSE': return 'bad_response'
    case 'GATE_ERR_UPSTREAM_AUTH': return (err.details as { status?: number } | undefined)?.status === 403 ? 'forbidden' : 'unauthorized'
    case 'GATE_ERR_UNAVAILABLE': return 'cancelled'
    default: return 'bad_response'
  }
}

/** Seconds since a `performance.now()` reading. */
export function secondsSince (started: number): number {
  return (performance.now() - started) / 1000
}
