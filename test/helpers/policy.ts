import { defaultPolicy, parseGates } from '../../src/config/load.js'
import type { Stage } from '../../src/config/policy.js'
import type { Observations, SignalObservation } from '../../src/gate/observations.js'

export function stage (name: string, yaml?: string): Stage {
  const { policy } = yaml === undefined ? defaultPolicy() : parseGates(yaml, 'test.yaml')
  const s = policy.stages[name]
  if (s === undefined) throw new Error(`no stage ${name}`)
  return s
}

export const WINDOW = { since: '2026-11-26T09:00:00Z', until: '2026-11-26T12:00:00Z' }

export function obs (signals: Record<string, SignalObservation>, extra: Partial<Observations> = {}): Observations {
  return { window: WINDOW, signals, ...extra }
}

/** Healthy canary-1 observations with plenty of data; tests change one thing at a time. */
export function healthy (): Record<string, SignalObservation> {
  return {
    policy_deny_rate: { canary: { n: 4000, k: 20 }, baseline: { n: 36000, k: 200 } },
    job_failure_rate: { canary: { n: 3600, k: 40 }, baseline: { n: 32400, k: 380 } },
    approval_backlog: { canary: { pending: 1, oldestAgeSeconds: 45 }, baseline: { pending: 6, oldestAgeSeconds: 140 } },
    overload_rate: { canary: { n: 3600, k: 0 }, baseline: { n: 32400, k: 3 } },
  }
}
