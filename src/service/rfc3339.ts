/**
 * RFC 3339 times as the gate's requests give them (`since`, `until` of a score request or a
 * decisions list): one strict parser for every route. `Date.parse` alone accepts
 * 2026-02-30 and reads it as 2 March, and accepts forms RFC 3339 does not; here the date must
 * be a real calendar date and every part in range, or the time is refused.
 */

const FORM = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/i

function daysIn (year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/**
 * Epoch milliseconds of an RFC 3339 time (seconds optional, as Argo's templates sometimes
 * write them), or undefined when the text is not one: a wrong form, a day the month does not
 * have, an hour past 23, a minute or second past 59 (a leap second is not accepted: JavaScript
 * time has none), an offset past 23:59.
 */
export function parseRfc3339 (text: string): number | undefined {
  const m = FORM.exec(text)
  if (m === null) return undefined
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i])) as [number, number, number, number, number]
  const second = m[6] === undefined ? 0 : Number(m[6])
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined
  const t = Date.parse(text.toUpperCase())
  return Number.isNaN(t) ? undefined : t
}
