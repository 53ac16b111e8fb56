/** Decision records of one analysis, judged by the real judge under the default policy, chained as a store would chain them. */
import { defaultPolicy } from '../../src/config/load.js'
import { nextDecision, type DecisionRecord } from '../../src/evidence/record.js'
import type { SignalObservation } from '../../src/gate/observations.js'
import { judge } from '../../src/gate/verdict.js'
import { entry } from './evidence.js'

export const POLICY = defaultPolicy()

export interface Look { until: string, signals: Record<string, SignalObservation> }

/** Looks of one analysis (rollout shop/support-agent, revision 7) at `stage`, seq 1, 2, ... with ids in time order. */
export function analysis (looks: Look[], stage = 'canary-1'): DecisionRecord[] {
  const records: DecisionRecord[] = []
  looks.forEach((l, i) => {
    const e = entry({ stage, namespace: 'shop', rollout: 'support-agent', revision: '7' })
    const since = '2026-11-26T09:00:00.000Z'
    e.observations = { window: { since, until: l.until }, signals: l.signals }
    e.judgement = judge(POLICY.policy.stages[stage] as NonNullable<typeof POLICY.policy.stages[string]>, e.observations)
    e.verdict = e.judgement.verdict
    e.score = e.judgement.score
    e.request = { ...e.request, since, until: l.until, windowRule: i === 0 ? 'default' : 'analysis' }
    const head = records[records.length - 1]
    const ms = Date.parse(l.until) + 1_000
    const id = `01a00000-0000-7000-8000-${String(i + 1).padStart(12, '0')}`
    records.push(nextDecision(e, head, id, ms))
  })
  return records
}
