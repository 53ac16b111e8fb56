/**
 * How long an analysis run of one metric can take, from its timing fields, following Argo's
 * scheduler (analysis/analysis.go): the first measurement after `initialDelay`, each next one
 * `interval` after the previous one finished, an Error retried after 10s and not counted.
 * Request time is left out (seconds at most per measurement).
 */
import { effectiveCount, intOrStringValue, parseGoDuration } from '../../../src/simulate/analysis.js'

export interface MetricTiming {
  initialDelay: number
  interval: number
  /** null: no count, the metric runs until the Rollout ends the run. */
  count: number | null
  consecutiveSuccessLimit: number
  /** Earliest end of a run whose answers are all `pass` (Successful). */
  earliestSuccess: number | null
  /** End of a run that reaches its count without S passes in a row (Inconclusive). */
  latestEnd: number | null
  /** Consecutive errors a run survives; one more ends it as Error. */
  consecutiveErrorLimit: number
}

export function metricTiming (metric: Record<string, unknown>): MetricTiming {
  const seconds = (v: unknown): number => (typeof v === 'string' && v !== '' ? parseGoDuration(v) ?? NaN : 0)
  const initialDelay = seconds(metric.initialDelay)
  const interval = seconds(metric.interval)
  const count = effectiveCount(metric)
  const s = intOrStringValue(metric.consecutiveSuccessLimit) ?? 0
  const at = (n: number): number => initialDelay + (n - 1) * interval
  return {
    initialDelay,
    interval,
    count,
    consecutiveSuccessLimit: s,
    earliestSuccess: s > 0 ? at(s) : count === null ? null : at(count),
    latestEnd: count === null ? null : at(count),
    consecutiveErrorLimit: intOrStringValue(metric.consecutiveErrorLimit) ?? 4,
  }
}

/** 0 -> "0m", 600 -> "10m", 5400 -> "1h 30m", 86400 -> "24h". */
export function formatMinutes (seconds: number): string {
  const minutes = Math.round(seconds / 60)
  const h = Math.floor(minutes / 60)
  const m = minutes % 60
  if (h === 0) return `${m}m`
  return m === 0 ? `${h}h` : `${h}h ${m}m`
}
