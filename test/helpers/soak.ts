/**
 * CI runs the heavy suites (fuzzing, overload, lifecycle) as a bounded smoke; `npm run soak`
 * (scripts/soak.ts) runs the same files with SOAK=1 for longer and collects the figures each
 * one reports into SOAK_REPORT, one JSON line per report.
 */
import { appendFileSync } from 'node:fs'

export const SOAK = process.env.SOAK === '1'

/** The CI figure, or the soak figure under `npm run soak`. */
export function scale (ci: number, soak: number): number {
  return SOAK ? soak : ci
}

/** Prints the figures as a TAP comment and, under soak, records them for the summary. */
export function report (t: { comment: (...args: unknown[]) => void }, name: string, figures: Record<string, unknown>): void {
  t.comment(`${name}: ${JSON.stringify(figures)}`)
  const file = process.env.SOAK_REPORT
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify({ name, ...figures })}\n`)
}
