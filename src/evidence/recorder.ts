/**
 * The ScoreService's DecisionRecorder backed by an EvidenceStore: every judgement becomes a
 * decision record before its response is sent, with the request as normalized, the judge's
 * input and output, the actions taken, the gates-policy hash and the versions of the sources.
 */
import type { ActionsTaken } from '../service/ports.js'
import type { LoadedPolicy } from '../config/load.js'
import type { Observations } from '../gate/observations.js'
import type { Judgement } from '../gate/verdict.js'
import type { DecisionRecorder, NormalizedQuery } from '../service/score.js'
import type { AnalysisKey, DecisionEntry, RecordedRequest, SourceVersions } from './record.js'
import type { ChainAnchors } from './anchors.js'
import type { AnalysisStart, EvidenceStore, StepStart } from './store.js'

export interface EvidenceRecorderOptions {
  store: EvidenceStore
  policy: LoadedPolicy
  gateVersion: string
  /** Versions of the sources (cached by the caller; never throws). */
  sourceVersions: () => Promise<SourceVersions>
  /** Told each record written: the heads kept outside the database. */
  anchors?: ChainAnchors
}

export class EvidenceRecorder implements DecisionRecorder {
  readonly #opts: EvidenceRecorderOptions

  constructor (opts: EvidenceRecorderOptions) {
    this.#opts = opts
  }

  /** Starts reading the sources' versions (cached; a read rarely happens) while the evaluation observes. */
  begin (): void {
    void this.#opts.sourceVersions()
  }

  async record (q: NormalizedQuery, observations: Observations, judgement: Judgement, actions?: ActionsTaken): Promise<string> {
    const request: RecordedRequest = { stage: q.stage.name, canary: q.canary, tenant: q.tenant, since: q.since.toISOString(), until: q.until.toISOString(), windowRule: q.windowRule ?? 'default' }
    if (q.baseline !== undefined) request.baseline = q.baseline
    if (q.topic !== undefined) request.topic = q.topic
    if (q.weight !== undefined) request.weight = q.weight
    const entry: DecisionEntry = {
      tenant: q.tenant,
      stage: q.stage.name,
      canary: q.canary,
      verdict: judgement.verdict,
      score: judgement.score,
      request,
      observations,
      judgement,
      policy: { sha256: this.#opts.policy.hash, file: this.#opts.policy.file },
      sources: await this.#opts.sourceVersions(),
      gate: { version: this.#opts.gateVersion },
    }
    if (q.baseline !== undefined) entry.baseline = q.baseline
    for (const key of ['namespace', 'rollout', 'revision'] as const) {
      const v = q.rollout[key]
      if (v !== undefined) {
        entry[key] = v
        request[key] = v
      }
    }
    if (actions !== undefined) entry.actions = actions
    const record = await this.#opts.store.append(entry)
    this.#opts.anchors?.saw(record.tenant, record)
    return record.id
  }

  async analysisStart (q: NormalizedQuery): Promise<AnalysisStart | undefined> {
    return await this.#opts.store.analysisStart(analysisKey(q))
  }

  async stepStart (q: NormalizedQuery, weight: number): Promise<StepStart> {
    const { stage: _stage, ...rollout } = analysisKey(q)
    return await this.#opts.store.stepStart(rollout, weight)
  }
}

function analysisKey (q: NormalizedQuery): AnalysisKey {
  return { tenant: q.tenant, namespace: q.rollout.namespace ?? '', rollout: q.rollout.rollout ?? '', revision: q.rollout.revision ?? '', stage: q.stage.name }
}

/**
 * A source's version, read at most every `ttlMs` (Cordum: GET /api/v1/status build.version),
 * remembered as 'unknown' for a minute when the read fails: a record is never refused for it.
 */
export function cachedVersion (read: () => Promise<{ version: string, commit?: string }>, opts: { ttlMs?: number, now?: () => number } = {}): () => Promise<{ version: string, commit?: string }> {
  const now = opts.now ?? Date.now
  let value: { version: string, commit?: string } | undefined
  let expires = 0
  let pending: Promise<void> | undefined
  return async () => {
    if (value !== undefined && expires > now()) return value
    pending ??= read().then((v) => {
      value = v
      expires = now() + (opts.ttlMs ?? 600_000)
    }, () => {
      value = { version: 'unknown' }
      expires = now() + 60_000
    }).finally(() => { pending = undefined })
    await pending
    return value as { version: string, commit?: string }
  }
}
