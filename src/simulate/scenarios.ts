/**
 * Named scenarios of issue 15's targets, and the `--canary` / `--baseline` rate lists of
 * `agent-canary-gate simulate`. A scenario is the true rates of both arms and, for "quiet", the
 * traffic; the baseline is BASELINE_RATES (deny 1%, job failures 2%) unless it says otherwise.
 */
import { BASELINE_RATES, type ArmRates, type Traffic } from './traffic.js'

export interface Scenario {
  name: string
  description: string
  canary: ArmRates
  baseline: ArmRates
  /** Traffic the scenario implies (quiet); otherwise the command's. */
  traffic?: Traffic
}

export const BUSY: Traffic = { decisionsPerMinute: 600, jobsPerMinute: 200 }
export const QUIET: Traffic = { decisionsPerMinute: 60, jobsPerMinute: 20 }

const base = BASELINE_RATES
const overloaded = { ...base, overload: 0.005 }

export const SCENARIOS: Scenario[] = [
  { name: 'healthy', description: 'canary = baseline (deny 1%, job failures 2%)', canary: base, baseline: base },
  { name: 'deny-5pct', description: 'canary deny rate 5% (limit 3%)', canary: { ...base, deny: 0.05 }, baseline: base },
  { name: 'job-failures-4x', description: 'canary job failures 4x baseline (8% vs 2%)', canary: { ...base, jobFailures: 0.08 }, baseline: base },
  { name: 'overload-5x-canary', description: 'overload reason codes on 2.5% of canary jobs, 0.5% of baseline jobs', canary: { ...base, overload: 0.025 }, baseline: overloaded },
  { name: 'overload-both', description: 'healthy, overload reason codes on 0.5% of jobs in both arms (shared capacity)', canary: overloaded, baseline: overloaded },
  { name: 'quiet', description: 'healthy at 60 decisions/min and 20 jobs/min in all', canary: base, baseline: base, traffic: QUIET },
]

export function scenario (name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name)
}

/** The keys of a rate list and the field each sets. */
export const RATE_KEYS: Record<string, keyof ArmRates> = {
  deny: 'deny',
  failures: 'jobFailures',
  overload: 'overload',
  schema: 'schemaViolations',
  approvals: 'approvals',
  'approval-wait': 'approvalWaitSeconds',
}

/**
 * `deny=0.05,failures=0.02` applied over `start`: rates are shares 0..1 (or percentages with a
 * % sign, `deny=5%`); approval-wait is seconds. Throws an Error naming the bad item.
 */
export function parseRates (text: string, start: ArmRates, option: string): ArmRates {
  const out = { ...start }
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^([a-z-]+)=(.+)$/.exec(item)
    const key = m === null ? undefined : RATE_KEYS[m[1] as string]
    if (m === null || key === undefined) throw new Error(`${option}: '${item}' is not KEY=VALUE with KEY one of ${Object.keys(RATE_KEYS).join(', ')}`)
    const raw = m[2] as string
    const value = raw.endsWith('%') ? Number(raw.slice(0, -1)) / 100 : Number(raw)
    const ok = key === 'approvalWaitSeconds' ? Number.isFinite(value) && value >= 0 : Number.isFinite(value) && value >= 0 && value <= 1
    if (raw.trim() === '' || !ok) throw new Error(`${option}: ${m[1] as string} must be ${key === 'approvalWaitSeconds' ? 'a number of seconds >= 0' : 'a rate from 0 to 1 (or 0% to 100%)'}, got '${raw}'`)
    out[key] = value
  }
  return out
}
