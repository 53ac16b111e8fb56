/** Decision entries for store tests: real judgements of the default policy. */
import { defaultPolicy } from '../../src/config/load.js'
import type { DecisionEntry, RecordedRequest } from '../../src/evidence/record.js'
import { judge } from '../../src/gate/verdict.js'
import { healthy, obs } from './policy.js'

const loaded = defaultPolicy()

export interface EntryOptions {
  tenant?: string
  namespace?: string
  rollout?: string
  revision?: string
  stage?: string
  since?: string
  deny?: number
  /** The canary's agent_id (default support-agent-healthy). */
  canary?: string
  until?: string
  /** How the window's start was chosen (default `default`: Argo's form). */
  windowRule?: RecordedRequest['windowRule']
  weight?: number
}

export function entry (o: EntryOptions = {}): DecisionEntry {
  const stageName = o.stage ?? 'canary-1'
  const stage = loaded.policy.stages[stageName]
  if (stage === undefined) throw new Error(`no stage ${stageName}`)
  const signals = healthy()
  if (o.deny !== undefined) signals.policy_deny_rate = { canary: { n: 4000, k: o.deny }, baseline: { n: 36000, k: 200 } }
  const observations = obs(signals)
  if (o.since !== undefined) observations.window = { ...observations.window, since: o.since }
  if (o.until !== undefined) observations.window = { ...observations.window, until: o.until }
  const judgement = judge(stage, observations)
  const tenant = o.tenant ?? 'default'
  const canary = o.canary ?? 'support-agent-healthy'
  const e: DecisionEntry = {
    tenant,
    stage: stageName,
    canary,
    baseline: 'support-agent-stable',
    verdict: judgement.verdict,
    score: judgement.score,
    request: { stage: stageName, canary, baseline: 'support-agent-stable', tenant, since: observations.window.since, until: observations.window.until, windowRule: o.windowRule ?? 'default' },
    observations,
    judgement,
    policy: { sha256: loaded.hash, file: loaded.file },
    sources: { cordum: { version: 'test' } },
    gate: { version: '0.0.0-test' },
  }
  if (o.weight !== undefined) e.request.weight = o.weight
  for (const k of ['namespace', 'rollout', 'revision'] as const) {
    if (o[k] !== undefined) {
      e[k] = o[k]
      e.request[k] = o[k]
    }
  }
  return e
}
