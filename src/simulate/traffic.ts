/**
 * The traffic model of the rollout simulator: what Cordum would have recorded for each arm, as
 * the Observations the Cordum source builds from it (src/sources/cordum/source.ts), so the judge
 * sees exactly the shapes it sees in service.
 *
 * The agent handles `decisionsPerMinute` policy decisions and `jobsPerMinute` finished jobs in
 * all; the canary takes `weight` percent of both, the baseline (stable version) the rest.
 * Arrivals are Poisson; each event is a hit independently with its arm's true rate:
 *
 *   policy_deny_rate       decisions denied            (n decisions, k denies)
 *   job_failure_rate       jobs FAILED or TIMEOUT      (n finished jobs, k failed)
 *   overload_rate          jobs with an overload reason code or requeued by the scheduler
 *                          (n jobs, k overloaded), also per sub-interval bucket aligned to the
 *                          epoch, as the source's BucketCounter gives them
 *   schema_violation_rate  jobs with output or schema violations
 *   approval_backlog       a gauge at the window's end: the arm's jobs that wait for a human
 *                          (a share `approvals` of its jobs, each waiting an exponential time
 *                          of mean `approvalWaitSeconds`: pending ~ Poisson(arrivals x mean
 *                          wait) and, for an M/M/infinity queue at equilibrium, the ages of
 *                          those pending are exponential with the same mean)
 *
 * Hits of different signals are drawn independently (a failed job may also be overloaded).
 * Signals from other sources (Prometheus, Loki) and check signals are not modelled: a stage
 * that reads them is refused, naming them.
 */
import type { Stage } from '../config/policy.js'
import type { RateArm, RateBucket, SignalObservation } from '../gate/observations.js'
import { binomial, poisson, type Random } from './random.js'

/** True rates of one arm: shares of its events, 0..1. */
export interface ArmRates {
  deny: number
  jobFailures: number
  overload: number
  schemaViolations: number
  /** Share of jobs that wait for a human approval. */
  approvals: number
  approvalWaitSeconds: number
}

/** The agent's traffic in all, both arms together. */
export interface Traffic {
  decisionsPerMinute: number
  jobsPerMinute: number
}

/** The rates of the scenarios' baseline: deny 1%, job failures 2%, no overload. */
export const BASELINE_RATES: ArmRates = { deny: 0.01, jobFailures: 0.02, overload: 0, schemaViolations: 0.002, approvals: 0, approvalWaitSeconds: 120 }

/** The Cordum signals the model produces, and the stream each counts. */
export const MODELLED: Record<string, { stream: 'decisions' | 'jobs', rate?: keyof ArmRates }> = {
  policy_deny_rate: { stream: 'decisions', rate: 'deny' },
  job_failure_rate: { stream: 'jobs', rate: 'jobFailures' },
  overload_rate: { stream: 'jobs', rate: 'overload' },
  schema_violation_rate: { stream: 'jobs', rate: 'schemaViolations' },
  approval_backlog: { stream: 'jobs' },
}

/** The names of the signals a stage reads that the model cannot produce (empty: it can). */
export function unmodelled (stage: Stage, needed: string[]): string[] {
  return needed.filter((name) => {
    const spec = stage.signals.find((s) => s.name === name)
    return MODELLED[name] === undefined || (spec !== undefined && spec.source !== 'cordum')
  })
}

/** One arm's counts from the start of the window, growing as time passes. */
export interface ArmCounts {
  decisions: number
  denies: number
  jobs: number
  /** Per rate signal on jobs: its hits. */
  hits: { jobFailures: number, overload: number, schemaViolations: number }
  /** Overload per sub-interval bucket, keyed by the bucket's start (ms since the epoch). */
  overloadBuckets: Map<number, { n: number, k: number }>
}

export function emptyCounts (): ArmCounts {
  return { decisions: 0, denies: 0, jobs: 0, hits: { jobFailures: 0, overload: 0, schemaViolations: 0 }, overloadBuckets: new Map() }
}

/**
 * Adds what one arm receives over `minutes` at `share` (0..1) of the traffic: Poisson arrivals,
 * binomial hits. `bucketStart` is the sub-interval the whole piece falls in (callers split
 * their time at bucket boundaries).
 */
export function addTraffic (counts: ArmCounts, random: Random, traffic: Traffic, share: number, rates: ArmRates, minutes: number, bucketStart: number): void {
  if (share <= 0 || minutes <= 0) return
  const decisions = poisson(random, traffic.decisionsPerMinute * share * minutes)
  counts.decisions += decisions
  counts.denies += binomial(random, decisions, rates.deny)
  const jobs = poisson(random, traffic.jobsPerMinute * share * minutes)
  counts.jobs += jobs
  counts.hits.jobFailures += binomial(random, jobs, rates.jobFailures)
  counts.hits.schemaViolations += binomial(random, jobs, rates.schemaViolations)
  const overloaded = binomial(random, jobs, rates.overload)
  counts.hits.overload += overloaded
  const bucket = counts.overloadBuckets.get(bucketStart) ?? { n: 0, k: 0 }
  bucket.n += jobs
  bucket.k += overloaded
  counts.overloadBuckets.set(bucketStart, bucket)
}

/** The approval queue of an arm receiving `share` of the jobs, read at one instant. */
export function drawBacklog (random: Random, traffic: Traffic, share: number, rates: ArmRates): { pending: number, oldestAgeSeconds: number } {
  const arrivalsPerSecond = (traffic.jobsPerMinute * share * rates.approvals) / 60
  const pending = poisson(random, arrivalsPerSecond * rates.approvalWaitSeconds)
  let oldest = 0
  for (let i = 0; i < pending; i++) oldest = Math.max(oldest, -Math.log(1 - random()) * rates.approvalWaitSeconds)
  return { pending, oldestAgeSeconds: Math.round(oldest) }
}

/** The buckets of [sinceMs, untilMs) as the source lists them: consecutive, oldest first, empty ones included. */
function bucketsOf (counts: ArmCounts, sinceMs: number, untilMs: number, widthMs: number): RateBucket[] {
  const out: RateBucket[] = []
  const first = Math.floor(sinceMs / widthMs) * widthMs
  for (let start = first; start < untilMs || start === first; start += widthMs) {
    const c = counts.overloadBuckets.get(start) ?? { n: 0, k: 0 }
    out.push({ start: new Date(start).toISOString(), n: c.n, k: c.k })
  }
  return out
}

/** One signal's observation from the two arms' counts, shaped as the Cordum source shapes it. */
export function observeSignal (
  name: string,
  arms: { canary: ArmCounts, baseline: ArmCounts },
  window: { sinceMs: number, untilMs: number, bucketMs: number },
  backlog: () => { canary: { pending: number, oldestAgeSeconds: number }, baseline: { pending: number, oldestAgeSeconds: number } }
): SignalObservation {
  const rate = (f: (c: ArmCounts) => RateArm): SignalObservation => ({ canary: f(arms.canary), baseline: f(arms.baseline) })
  switch (name) {
    case 'policy_deny_rate': return rate((c) => ({ n: c.decisions, k: c.denies }))
    case 'job_failure_rate': return rate((c) => ({ n: c.jobs, k: c.hits.jobFailures }))
    case 'schema_violation_rate': return rate((c) => ({ n: c.jobs, k: c.hits.schemaViolations }))
    case 'overload_rate': return rate((c) => {
      const buckets = bucketsOf(c, window.sinceMs, window.untilMs, window.bucketMs)
      return { n: c.jobs, k: c.hits.overload, buckets }
    })
    case 'approval_backlog': return backlog()
    default: throw new Error(`the simulator has no model for signal ${name}`)
  }
}
