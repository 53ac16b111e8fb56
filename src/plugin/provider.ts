/**
 * The metric provider Argo drives (types.RpcMetricProvider plus InitPlugin):
 *
 * - Run asks the gate for a verdict and maps it to the measurement (message: the decision in
 *   one line with the link to its page; metadata: verdict, score, decision id and link, top
 *   reasons): pass -> Successful,
 *   inconclusive -> Inconclusive (Argo pauses the rollout for a person), fail -> Failed;
 *   an unreachable or failing gate, a timeout, or a bad answer -> Error (Argo retries in 10 s
 *   and aborts after consecutiveErrorLimit). Run is synchronous and idempotent: each call is a
 *   fresh, complete measurement, so Argo never needs Resume.
 * - Resume and Terminate return the measurement unchanged (nothing is ever left running),
 *   GarbageCollect has nothing to collect (the gate keeps its own decision records), Type is
 *   "RPCPlugin" like Argo's own plugin provider, GetMetadata records the stage and gate.
 *
 * Messages and metadata never carry the API key or other arg values.
 */
import { isGateError } from '../errors.js'
import type { AnalysisRunView, Measurement, MetricView } from './argo.js'
import { configError, parsePluginConfig, scoreUrl, type PluginConfig } from './config.js'
import type { GateClient, ScoreRequest, ScoreVerdict } from './gate-client.js'
import { encodeGoTime } from './gob/time.js'
import type { PluginLogger } from './log.js'
import { argoLine } from '../report/argo-line.js'

export const PROVIDER_TYPE = 'RPCPlugin'

/** Argo's labels, annotations and conventional arg names (rollout/analysis.go, docs). */
const POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash'
const REVISION_ANNOTATION = 'rollout.argoproj.io/revision'
const CANARY_HASH_ARG = 'canary-hash'
const STABLE_HASH_ARG = 'stable-hash'

const PHASE = { pass: 'Successful', inconclusive: 'Inconclusive', fail: 'Failed' } as const
const TOP_REASONS = 3

export interface ProviderDeps {
  gate: Pick<GateClient, 'score'>
  log: PluginLogger
  now?: () => number
}

export class GateMetricProvider {
  private readonly now: () => number

  constructor (private readonly deps: ProviderDeps) {
    this.now = deps.now ?? Date.now
  }

  initPlugin (): { ErrorString: string } {
    return { ErrorString: '' }
  }

  type (): string {
    return PROVIDER_TYPE
  }

  getMetadata (metric: MetricView): Record<string, string> {
    try {
      const config = parsePluginConfig(metric.pluginConfig)
      return { stage: config.stage, gate: scoreUrl(config.address).href }
    } catch (err) {
      return { error: (err as Error).message }
    }
  }

  async run (run: AnalysisRunView, metric: MetricView): Promise<Measurement> {
    const startedAt = this.now()
    let config: PluginConfig
    let body: ScoreRequest
    try {
      config = parsePluginConfig(metric.pluginConfig)
      body = scoreRequest(config, run)
    } catch (err) {
      this.deps.log.warn('measurement refused: bad plugin config', { run: run.name, namespace: run.namespace, metric: metric.name, error: (err as Error).message })
      return this.error(startedAt, (err as Error).message, {})
    }
    const url = scoreUrl(config.address)
    const context = { stage: body.stage, canary: body.canary, ...(body.baseline === undefined ? {} : { baseline: body.baseline }) }
    let verdict: ScoreVerdict
    try {
      verdict = await this.deps.gate.score(url, body, { apiKey: config.apiKey, timeoutMs: config.timeoutSeconds * 1000 })
    } catch (err) {
      const message = isGateError(err) ? err.message : `gate call failed: ${(err as Error).message}`
      this.deps.log.warn('gate failed: Error measurement', { run: run.name, namespace: run.namespace, metric: metric.name, ...context, error: message, ms: this.now() - startedAt })
      return this.error(startedAt, message, context)
    }
    const finishedAt = this.now()
    const metadata: Record<string, string> = { verdict: verdict.verdict, score: String(verdict.score), ...context }
    if (verdict.decisionId !== undefined) metadata.decisionId = verdict.decisionId
    if (verdict.reportUrl !== undefined) metadata.reportUrl = verdict.reportUrl
    if (verdict.reasons.length > 0) metadata.reasons = verdict.reasons.slice(0, TOP_REASONS).join('; ')
    this.deps.log.info('measured', { run: run.name, namespace: run.namespace, metric: metric.name, ...context, verdict: verdict.verdict, score: verdict.score, decisionId: verdict.decisionId, ms: finishedAt - startedAt })
    return {
      Phase: PHASE[verdict.verdict],
      // The line the web provider's ?view=argo answers: Argo copies the message of the
      // measurement that ends a metric into the Rollout's message, so `kubectl argo rollouts
      // get rollout` shows the verdict, the reason and the link to the decision's page.
      Message: argoLine({ ...verdict, stage: verdict.stage ?? body.stage }),
      Value: String(verdict.score),
      Metadata: metadata,
      StartedAt: encodeGoTime(startedAt),
      FinishedAt: encodeGoTime(finishedAt),
    }
  }

  resume (_run: AnalysisRunView, _metric: MetricView, measurement: Measurement): Measurement {
    return measurement
  }

  terminate (run: AnalysisRunView, metric: MetricView, measurement: Measurement): Measurement {
    this.deps.log.debug('terminate: nothing in flight', { run: run.name, metric: metric.name })
    return measurement
  }

  garbageCollect (): { ErrorString: string } {
    return { ErrorString: '' }
  }

  private error (startedAt: number, message: string, metadata: Record<string, string>): Measurement {
    return {
      Phase: 'Error',
      Message: message,
      Metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
      StartedAt: encodeGoTime(startedAt),
      FinishedAt: encodeGoTime(this.now()),
    }
  }
}

/**
 * The score request for one measurement. Config wins; otherwise the AnalysisRun says what Argo
 * knows: namespace, the owning Rollout, its revision, the canary's pod-template hash (label or
 * `canary-hash` arg) and the stable one (`stable-hash` arg). No `since`: like the web
 * templates, the plugin asks in Argo's form, so the gate judges the canary over its own window
 * (from its first event; docs/argo.md, "The window") and both paths give the same verdict for
 * the same canary, stage and moment.
 */
export function scoreRequest (config: PluginConfig, run: AnalysisRunView): ScoreRequest {
  const owner = run.ownerReferences.find((o) => o.kind === 'Rollout' && o.controller) ?? run.ownerReferences.find((o) => o.kind === 'Rollout')
  const rollout = config.rollout ?? (owner?.name || undefined)
  const agent = config.agent ?? rollout
  const canaryHash = run.args.get(CANARY_HASH_ARG) ?? run.labels.get(POD_TEMPLATE_HASH_LABEL)
  const stableHash = run.args.get(STABLE_HASH_ARG)
  const canary = config.canary ?? (agent !== undefined && canaryHash ? `${agent}-${canaryHash}` : undefined)
  if (canary === undefined) {
    throw configError(`cannot tell the canary: set canary, or set agent (or run under a Rollout) with a '${CANARY_HASH_ARG}' arg or the ${POD_TEMPLATE_HASH_LABEL} label`)
  }
  const baseline = config.baseline ?? (agent !== undefined && stableHash ? `${agent}-${stableHash}` : undefined)
  const body: ScoreRequest = { stage: config.stage, canary }
  const optional: Array<[keyof ScoreRequest, string | number | undefined]> = [
    ['baseline', baseline],
    ['tenant', config.tenant],
    ['topic', config.topic],
    ['namespace', config.namespace ?? (run.namespace || undefined)],
    ['rollout', rollout],
    ['revision', config.revision ?? run.annotations.get(REVISION_ANNOTATION)],
    ['weight', config.weight],
  ]
  for (const [key, value] of optional) if (value !== undefined && value !== '') (body as unknown as Record<string, unknown>)[key] = value
  return body
}
