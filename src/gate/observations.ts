/**
 * Observations: the seam between sources (I/O) and the judge (pure). A source turns a score
 * request into one SignalObservation per signal, each with a canary arm and, where there is
 * one, a baseline arm (the stable version over the same window).
 */

/** Rate signals: n independent events (decisions, jobs), k of them hits (denies, failures). */
export interface RateArm {
  n: number
  k: number
  /** The same counts split into consecutive sub-intervals (oldest first), for "sustained" rules. */
  buckets?: RateBucket[]
}

export interface RateBucket {
  /** RFC 3339 start of the sub-interval. */
  start: string
  n: number
  k: number
}

/** Approval backlog: a gauge read at the end of the window. */
export interface BacklogArm {
  pending: number
  oldestAgeSeconds: number
}

/** A latency quantile (e.g. p95) in seconds; `n` is the number of requests behind it, when known. */
export interface QuantileArm {
  seconds: number
  n?: number
}

/**
 * Check signals: named yes/no checks with an expected and an actual outcome, e.g. each scenario
 * of a policy-simulation catalog. Deterministic, so judged without statistics: any failed check
 * is a failure.
 */
export interface CheckArm {
  total: number
  failed: number
  checks: CheckResult[]
}

export interface CheckResult {
  name: string
  ok: boolean
  expected: string
  actual: string
  /** What the upstream said (rule id, reason, failing step), for people. */
  detail?: string
}

export type Arm = RateArm | BacklogArm | QuantileArm | CheckArm

export interface SignalObservation {
  canary?: Arm
  baseline?: Arm
  /** Set when the source could not measure the signal (e.g. Cordum answered 403 for a viewer key). */
  unavailable?: { code: string, reason: string, warming?: boolean }
  /** Facts a person should see, e.g. "Cordum's decision log is empty for this window". */
  notes?: string[]
}

/** A human approval of the promotion, for stages that require one (asked only when the judge would pass). */
export interface ApprovalObservation {
  status: 'pending' | 'approved' | 'rejected'
  /** Cordum's approval_ref and the promotion job id, to find it in Cordum. */
  ref?: string
  jobId?: string
  reason?: string
}

export interface Observations {
  window: { since: string, until: string }
  /** The stage's required approval, when the gate asked for one. */
  approval?: ApprovalObservation
  /** The canary's expected share of traffic in percent (0-100), for the traffic-split check. */
  expectedWeight?: number
  /**
   * The split signal's events per arm since the current step's weight took effect (from
   * `since` to the window's end), when that is later than the window's start: the
   * traffic-split check reads these instead of the whole window's counts, which mix the
   * weights of earlier steps.
   */
  split?: TrafficSplitCounts
  signals: Record<string, SignalObservation>
}

export interface TrafficSplitCounts {
  /** RFC 3339: when the current step's weight took effect (as far as the gate knows). */
  since: string
  canary: number
  baseline: number
}

export function isRateArm (arm: Arm | undefined): arm is RateArm {
  return arm !== undefined && 'n' in arm && 'k' in arm
}

export function isBacklogArm (arm: Arm | undefined): arm is BacklogArm {
  return arm !== undefined && 'pending' in arm
}

export function isQuantileArm (arm: Arm | undefined): arm is QuantileArm {
  return arm !== undefined && 'seconds' in arm
}

export function isCheckArm (arm: Arm | undefined): arm is CheckArm {
  return arm !== undefined && 'checks' in arm && 'failed' in arm
}
