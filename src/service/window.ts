/**
 * The analysis window of a score request: `since` as an RFC 3339 time or a duration back from
 * `until` (`30m`, `3h`, `1h30m`), `until` defaulting to now rounded down to 10 s so that
 * identical requests arriving together ask the same question (and share one upstream fetch).
 */
import { GateError } from '../errors.js'
import { parseRfc3339 } from './rfc3339.js'

export const UNTIL_ROUNDING_MS = 10_000
/** Cordum keeps its decision log 30 days; a longer window cannot be answered. */
export const MAX_WINDOW_MS = 30 * 24 * 3600_000
/** Clock skew tolerated for an `until` in the future. */
const FUTURE_SLACK_MS = 60_000

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/

export function badField (field: string, message: string, value?: unknown): GateError {
  const details: Record<string, unknown> = { field }
  if (value !== undefined) details.value = value
  return new GateError('GATE_ERR_BAD_REQUEST', `${field}: ${message}`, { details })
}

/** Milliseconds of a Go-style duration (`90s`, `30m`, `1h30m`, `2d`), or undefined if it is not one. */
export function parseDuration (text: string): number | undefined {
  if (!DURATION.test(text)) return undefined
  let total = 0
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * (UNIT_MS[m[2] as string] as number)
  return total
}

function parseTime (field: string, text: string): Date {
  const t = parseRfc3339(text)
  if (t === undefined) throw badField(field, `must be an RFC 3339 time such as 2026-11-26T09:00:00Z${field === 'since' ? ' or a duration such as 30m' : ''}, got '${text.slice(0, 64)}'`, text.slice(0, 64))
  return new Date(t)
}

export interface Window {
  since: Date
  until: Date
  /**
   * request: `since` was given (that request only); analysis: the start of this analysis's
   * first record in Argo's form; canary: the canary's first event within the lifetime;
   * default: until - lifetime.
   */
  rule: WindowRule
}

export type WindowRule = 'request' | 'analysis' | 'canary' | 'default'

/** Where a window in Argo's form (no `since`) starts, when the gate knows more than the lifetime. */
export interface WindowStart {
  at: Date
  rule: 'analysis' | 'canary'
}

/**
 * A window in Argo's form moved to start where the gate knows the canary's window starts
 * (never more than the 30-day maximum before `until`); unchanged when that start is not
 * before `until`.
 */
export function startingAt (w: Window, start: WindowStart): Window {
  const at = start.at.getTime()
  if (at >= w.until.getTime()) return w
  return { since: new Date(Math.max(at, w.until.getTime() - MAX_WINDOW_MS)), until: w.until, rule: start.rule }
}

/**
 * The window of a request. With no `since` (Argo's form), the window is the canary's own:
 * a growing analysis (Argo asking again and again about the same rollout, revision and stage)
 * starts where its first recorded decision's window started (`start` with rule `analysis`), so
 * each look sees all the evidence since the analysis began and the confidence sequences apply;
 * a first question starts at the canary's first event within the lifetime (rule `canary`), so
 * hours when only the baseline ran are not in it; otherwise it is the last `defaultHours`
 * before `until`. A start is never more than the 30-day maximum before `until`, and never
 * after it.
 */
export function resolveWindow (since: string | undefined, until: string | undefined, defaultHours: number, now: number, start?: WindowStart): Window {
  const untilDate = until === undefined || until === '' ? new Date(Math.floor(now / UNTIL_ROUNDING_MS) * UNTIL_ROUNDING_MS) : parseTime('until', until)
  if (untilDate.getTime() > now + FUTURE_SLACK_MS) throw badField('until', `is in the future (${untilDate.toISOString()}); nothing has been observed there yet`, until)
  let sinceDate: Date
  if (since === undefined || since === '') {
    const lifetime: Window = { since: new Date(untilDate.getTime() - defaultHours * 3_600_000), until: untilDate, rule: 'default' }
    return start === undefined ? lifetime : startingAt(lifetime, start)
  } else {
    const back = parseDuration(since)
    if (back !== undefined && back <= 0) throw badField('since', `the duration must be positive, got '${since}'`, since)
    // Checked before subtracting: a duration of 10^20 days is no date at all (found by test/http/fuzz-score).
    if (back !== undefined && back > MAX_WINDOW_MS) throw badField('since', 'the window may be at most 30 days (Cordum keeps its decision log 30 days)', since)
    sinceDate = back === undefined ? parseTime('since', since) : new Date(untilDate.getTime() - back)
  }
  if (sinceDate.getTime() >= untilDate.getTime()) throw badField('since', `must be before until (${untilDate.toISOString()}), got ${sinceDate.toISOString()}`, since)
  if (untilDate.getTime() - sinceDate.getTime() > MAX_WINDOW_MS) throw badField('since', 'the window may be at most 30 days (Cordum keeps its decision log 30 days)', since)
  return { since: sinceDate, until: untilDate, rule: 'request' }
}
