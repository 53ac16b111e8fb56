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
  /** request: `since` was given; analysis: the start of this analysis's first record; default: until - lifetime. */
  rule: 'request' | 'analysis' | 'default'
}

/**
 * The window of a request. With no `since`, a growing analysis (Argo asking again and again
 * about the same rollout, revision and stage) starts where its first recorded decision's window
 * started (`analysisStart`), so each look sees all the evidence since the analysis began and the
 * confidence sequences apply; otherwise it is the last `defaultHours` before `until`. The start
 * is never more than the 30-day maximum before `until`, and never after it.
 */
export function resolveWindow (since: string | undefined, until: string | undefined, defaultHours: number, now: number, analysisStart?: Date): Window {
  const untilDate = until === undefined || until === '' ? new Date(Math.floor(now / UNTIL_ROUNDING_MS) * UNTIL_ROUNDING_MS) : parseTime('until', until)
  if (untilDate.getTime() > now + FUTURE_SLACK_MS) throw badField('until', `is in the future (${untilDate.toISOString()}); nothing has been observed there yet`, until)
  let sinceDate: Date
  let rule: Window['rule'] = 'request'
  if (since === undefined || since === '') {
    const start = analysisStart?.getTime()
    if (start !== undefined && start < untilDate.getTime()) {
      sinceDate = new Date(Math.max(start, untilDate.getTime() - MAX_WINDOW_MS))
      rule = 'analysis'
    } else {
      sinceDate = new Date(untilDate.getTime() - defaultHours * 3_600_000)
      rule = 'default'
    }
  } else {
    const back = parseDuration(since)
    if (back !== undefined && back <= 0) throw badField('since', `the duration must be positive, got '${since}'`, since)
    // Checked before subtracting: a duration of 10^20 days is no date at all (found by test/http/fuzz-score).
    if (back !== undefined && back > MAX_WINDOW_MS) throw badField('since', 'the window may be at most 30 days (Cordum keeps its decision log 30 days)', since)
    sinceDate = back === undefined ? parseTime('since', since) : new Date(untilDate.getTime() - back)
  }
  if (sinceDate.getTime() >= untilDate.getTime()) throw badField('since', `must be before until (${untilDate.toISOString()}), got ${sinceDate.toISOString()}`, since)
  if (untilDate.getTime() - sinceDate.getTime() > MAX_WINDOW_MS) throw badField('since', 'the window may be at most 30 days (Cordum keeps its decision log 30 days)', since)
  return { since: sinceDate, until: untilDate, rule }
}
