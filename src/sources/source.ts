/**
 * The seam between the gate and the systems it reads. A SignalSource turns one observation
 * request into one SignalObservation per signal it is asked for. Sources own all upstream I/O;
 * the judge (src/gate) never sees HTTP, and nobody above a source sees a library's error codes.
 *
 * Two kinds of failure, kept apart on purpose:
 *   - a signal the source cannot measure (e.g. Cordum answers 403 to a viewer key on an
 *     admin-only endpoint) comes back as `{ unavailable: { code, reason } }` for that signal;
 *   - a failure of the upstream as a whole (unreachable, timeout, 5xx after retries, a body it
 *     cannot use) throws a GateError with a GATE_ERR_UPSTREAM_* code and `source` set.
 * The score service decides what the second kind does to the verdict (stage on_source_error).
 */
import type { SignalSpec, SourceName } from '../config/policy.js'
import type { SignalObservation } from '../gate/observations.js'

export interface ObservationRequest {
  /** Cordum tenant (X-Tenant-ID). */
  tenant: string
  /** Restrict to one Cordum topic (e.g. `job.support.reply`), when the agents share a tenant. */
  topic?: string
  /** The canary arm's agent_id. */
  canary: string
  /** The baseline (stable) arm's agent_id; absent when there is nothing to compare with. */
  baseline?: string
  since: Date
  until: Date
  /** Width of the sub-intervals rate signals are bucketed into (for "sustained" rules). */
  subIntervalMinutes: number
  /** Reason codes that mean overload (gates policy `overload.reason_codes`). */
  overloadReasonCodes: string[]
  /**
   * Rate signals a "sustained" trigger reads: sources that count sub-intervals with extra
   * queries (Prometheus, Loki) do so only for these.
   */
  sustainedSignals?: string[]
}

export interface FirstSeenRequest {
  tenant: string
  topic?: string
  agent: string
  since: Date
  until: Date
}

export interface SignalSource {
  readonly name: SourceName
  /**
   * Observes `signals` for both arms over the window. Every signal asked for gets an entry,
   * possibly `unavailable`. Throws a GateError (GATE_ERR_UPSTREAM_*, `source` = name) when the
   * upstream as a whole fails. Honours `abort` (the caller's request and deadline).
   */
  observe (req: ObservationRequest, signals: SignalSpec[], abort: AbortSignal): Promise<Record<string, SignalObservation>>
  /**
   * When the agent was first seen in the window (its oldest event), or undefined when it has
   * none there: where a canary's own window starts (service/window.ts). Sources that cannot
   * tell leave it out. Throws like observe.
   */
  firstSeen? (req: FirstSeenRequest, abort: AbortSignal): Promise<Date | undefined>
  /** Resolves when the upstream answers its health endpoint; throws a GateError otherwise. */
  ready (abort: AbortSignal): Promise<void>
  /** Releases connections and timers. Idempotent. */
  close (): Promise<void>
}
