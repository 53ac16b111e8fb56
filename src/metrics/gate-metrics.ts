/**
 * The gate's Prometheus metrics (prom-client), one Registry per instance: tests build many
 * apps, and the global registry would refuse the second registration. Names follow
 * Prometheus practice: one prefix (`agentcanary_`), base units (seconds, ratios 0-1), `_total`
 * on counters, label values from bounded sets. The default process and Node.js metrics keep
 * their standard names (`process_*`, `nodejs_*`) so existing dashboards and alerts find them.
 * docs/observability.md lists every metric and how per-rollout series are bounded.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ErrorCode } from '../errors.js'
import type { Trigger } from '../config/policy.js'
import type { Judgement, Verdict } from '../gate/verdict.js'
import { rateLevels, rateTriggerLevel, ruleOf } from '../report/series.js'
import type { ObservationUse, RolloutStage, SliceCacheResult, Telemetry, UpstreamRequest } from '../telemetry.js'
import { RolloutSeries, type Labels, type SeriesValue } from './rollout-series.js'
import { hashPrefixNumber } from '../evidence/anchors.js'
import { DEFAULT_MAX_ROLLOUT_STAGES, DEFAULT_ROLLOUT_TTL_SECONDS } from '../config/settings.js'

export const METRIC_PREFIX = 'agentcanary_'

/** The verdict as a number, so a Grafana state timeline can colour it: pass 1, inconclusive 0, fail -1. */
export const VERDICT_VALUE: Record<Verdict, number> = { pass: 1, inconclusive: 0, fail: -1 }

export { DEFAULT_MAX_ROLLOUT_STAGES, DEFAULT_ROLLOUT_TTL_SECONDS }

export interface GateMetricsOptions {
  version: string
  /**
   * The policy's stages and their triggers: their counters start at 0, so rate() has data before
   * the first verdict. With the triggers' rules (`specs`), their levels become series too.
   */
  stages: { name: string, triggers: string[], specs?: Trigger[] }[]
  /** A rollout/stage not evaluated for this long loses its series (default 3600). */
  rolloutTtlSeconds?: number
  /** At most this many rollout/stage pairs keep series; the least recently evaluated goes first (default 500). */
  maxRolloutStages?: number
  /** Wall clock (ms) for evaluation timestamps and expiry. */
  now?: () => number
  /** Node.js and process metrics (default true). */
  defaultMetrics?: boolean
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const ROLLOUT = ['tenant', 'rollout_namespace', 'rollout', 'stage'] as const

export class GateMetrics implements Telemetry {
  readonly registry = new Registry()
  readonly #now: () => number
  readonly #rollouts: RolloutSeries

  readonly #verdicts: Counter<'stage' | 'verdict'>
  readonly #evaluationErrors: Counter<'stage' | 'code'>
  readonly #evaluationDuration: Histogram<'stage'>
  readonly #triggersFired: Counter<'stage' | 'trigger'>
  readonly #upstreamRequests: Counter<'source' | 'endpoint' | 'outcome'>
  readonly #upstreamDuration: Histogram<'source' | 'endpoint'>
  readonly #upstreamBytes: Counter<'source' | 'endpoint'>
  readonly #sliceCache: Counter<'source' | 'endpoint' | 'result'>
  readonly #ledgerPolls: Counter<string>
  readonly #ledgerRequests: Counter<string>
  readonly #observations: Counter<'source' | 'result'>
  readonly #answers: Counter<'result'>
  readonly #evidenceWrites: Counter<'outcome'>
  readonly #chainHeadSeq: Gauge<string>
  readonly #chainHeadHash: Gauge<string>
  readonly #evidenceDuration: Histogram<string>
  readonly #httpRequests: Counter<'method' | 'route' | 'status_code'>
  readonly #httpDuration: Histogram<'method' | 'route'>

  readonly #verdict: Gauge<string>
  readonly #score: Gauge<string>
  readonly #evaluatedAt: Gauge<string>
  readonly #signalRatio: Gauge<string>
  readonly #signalSeconds: Gauge<string>
  readonly #approvalsPending: Gauge<string>
  readonly #approvalAge: Gauge<string>
  readonly #triggerFired: Gauge<string>
  readonly #signalBound: Gauge<string>
  readonly #signalLevel: Gauge<string>
  readonly #triggerLevel: Gauge<string>
  readonly #ruleRatio: Gauge<string>
  readonly #pendingLevel: Gauge<string>
  readonly #ageLevel: Gauge<string>
  readonly #specs = new Map<string, Trigger[]>()

  constructor (opts: GateMetricsOptions) {
    this.#now = opts.now ?? Date.now
    const registers = [this.registry]
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> => new Counter({ name: METRIC_PREFIX + name, help, labelNames, registers })
    const gauge = (name: string, help: string, labelNames: readonly string[]): Gauge<string> => new Gauge({ name: METRIC_PREFIX + name, help, labelNames, registers })
    const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[]): Histogram<L> =>
      new Histogram({ name: METRIC_PREFIX + name, help, labelNames, buckets: SECONDS_BUCKETS, registers })

    this.#verdicts = counter('verdicts_total', 'Evaluations that ended in a verdict, by stage and verdict (an identical question answered again from the same evaluation counts in score_answers_total only).', ['stage', 'verdict'])
    this.#evaluationErrors = counter('evaluation_errors_total', 'Score requests that ended in an error instead of a verdict, by stage and GATE_ERR_* code.', ['stage', 'code'])
    this.#evaluationDuration = histogram('evaluation_duration_seconds', 'Time to answer a score request (sources, judge, decision record), by stage.', ['stage'])
    this.#triggersFired = counter('triggers_fired_total', 'Rollback triggers that fired in a verdict, by stage and trigger.', ['stage', 'trigger'])
    this.#upstreamRequests = counter('upstream_requests_total', 'Requests to upstreams (each attempt), by source, endpoint template and outcome.', ['source', 'endpoint', 'outcome'])
    this.#upstreamDuration = histogram('upstream_request_duration_seconds', 'Duration of requests to upstreams (each attempt), by source and endpoint template.', ['source', 'endpoint'])
    this.#upstreamBytes = counter('upstream_response_bytes_total', 'Response body bytes read from upstreams (each attempt), by source and endpoint template.', ['source', 'endpoint'])
    this.#sliceCache = counter('slice_cache_requests_total', 'Lookups of closed time slices in the slice cache: hit (counts reused, no upstream request) or miss (fetched), by source and endpoint template.', ['source', 'endpoint', 'result'])
    this.#ledgerPolls = counter('cordum_ledger_polls_total', 'Polls of Cordum\'s jobs list by the job ledger (background and on demand).', [])
    this.#ledgerRequests = counter('cordum_ledger_requests_total', 'Requests to Cordum\'s jobs list made by the job ledger\'s polls.', [])
    this.#observations = counter('observation_requests_total', 'Observation requests to a source: fetched, coalesced with an identical fetch in flight, or served from the short cache.', ['source', 'result'])
    this.#answers = counter('score_answers_total', 'Score answers by how they were obtained: fetched (evaluated and recorded), coalesced with an identical evaluation in flight, or cached (an identical question within the cache TTL, same decision record).', ['result'])
    this.#evidenceWrites = counter('evidence_writes_total', 'Decision records written to the evidence store, by outcome.', ['outcome'])
    // Prometheus keeps these outside the gate's database: an anchor for verifying the chain.
    this.#chainHeadSeq = gauge('evidence_chain_head_seq', 'The seq of the newest record of the tenant\'s evidence chain this gate has seen.', ['tenant'])
    this.#chainHeadHash = gauge('evidence_chain_head_hash', 'The first 13 hex digits of that record\'s hash, as a number (printf %013x gives them back).', ['tenant'])
    this.#evidenceDuration = histogram('evidence_write_duration_seconds', 'Duration of decision record writes.', [])
    this.#httpRequests = counter('http_requests_total', 'HTTP requests served, by method, route template and status code.', ['method', 'route', 'status_code'])
    this.#httpDuration = histogram('http_request_duration_seconds', 'HTTP request duration, by method and route template.', ['method', 'route'])

    this.#verdict = gauge('rollout_verdict', 'Latest verdict per rollout and stage: 1 pass, 0 inconclusive, -1 fail.', ROLLOUT)
    this.#score = gauge('rollout_score_ratio', 'Latest score per rollout and stage, 0-1 (the API\'s score / 100).', ROLLOUT)
    this.#evaluatedAt = gauge('rollout_last_evaluation_timestamp_seconds', 'When this gate instance last judged the rollout at the stage (Unix seconds).', ROLLOUT)
    this.#signalRatio = gauge('rollout_signal_ratio', 'Latest observed rate (hits / events) per rollout, stage, signal and arm (canary, baseline).', [...ROLLOUT, 'signal', 'arm'])
    this.#signalSeconds = gauge('rollout_signal_seconds', 'Latest latency quantile per rollout, stage, signal and arm.', [...ROLLOUT, 'signal', 'arm'])
    this.#approvalsPending = gauge('rollout_approvals_pending', 'Approvals pending at the end of the latest window, per rollout, stage and arm.', [...ROLLOUT, 'arm'])
    this.#approvalAge = gauge('rollout_approval_oldest_age_seconds', 'Age of the oldest pending approval at the end of the latest window, per rollout, stage and arm.', [...ROLLOUT, 'arm'])
    this.#triggerFired = gauge('rollout_trigger_fired', 'Whether a rollback trigger fired in the latest verdict (1) or not (0), per rollout, stage and trigger.', [...ROLLOUT, 'trigger'])
    // What the gate decides on (docs/observability.md "What the gate decides on"): the canary's
    // bound, and the levels the rule compares it with, on the rate scale.
    this.#signalBound = gauge('rollout_signal_bound_ratio', 'The anytime-valid bound of the canary\'s rate a rate rule decides on (lower, upper), per rollout, stage and signal.', [...ROLLOUT, 'signal', 'bound'])
    this.#signalLevel = gauge('rollout_signal_level_ratio', 'The levels a rate rule decides against: margin (passes when the upper bound is under it) and harm (fails when the lower bound is over it), per rollout, stage and signal.', [...ROLLOUT, 'signal', 'level'])
    this.#triggerLevel = gauge('rollout_trigger_level_ratio', 'The rate over which a rate trigger fires (its canary lower bound compared), per rollout, stage, trigger and signal.', [...ROLLOUT, 'trigger', 'signal'])
    // A comparative rule decides on the canary's rate over the baseline's, not on a rate: its
    // estimate, bound, margin, harm and trigger levels are on that scale, in a series of their own
    // (no rate-scale level is made up for it).
    this.#ruleRatio = gauge('rollout_rule_ratio', 'A comparative rate rule on its own scale, the canary\'s rate over the baseline\'s: value estimate, lower and upper (the anytime-valid bound), margin (passes when the upper bound is under it), harm (fails when the lower bound is over it), and trigger (a rate trigger\'s level on that scale, named by the trigger label), per rollout, stage and signal.', [...ROLLOUT, 'signal', 'value', 'trigger'])
    this.#pendingLevel = gauge('rollout_approvals_pending_level', 'Approvals pending over which the approval backlog fails (level harm) or a trigger fires (level trigger), per rollout and stage.', [...ROLLOUT, 'level', 'trigger'])
    this.#ageLevel = gauge('rollout_approval_oldest_age_level_seconds', 'Age of the oldest pending approval over which the approval backlog fails (level harm) or a trigger fires (level trigger), per rollout and stage.', [...ROLLOUT, 'level', 'trigger'])

    const evicted = counter('rollout_stage_evictions_total', 'Rollout/stage pairs whose series were removed: expired (not evaluated within the TTL) or capacity (over the cap).', ['reason'])
    this.#rollouts = new RolloutSeries({
      ttlMs: (opts.rolloutTtlSeconds ?? DEFAULT_ROLLOUT_TTL_SECONDS) * 1000,
      maxPairs: opts.maxRolloutStages ?? DEFAULT_MAX_ROLLOUT_STAGES,
      now: this.#now,
      onEvict: (reason) => evicted.inc({ reason }),
    })
    const rollouts = this.#rollouts
    // eslint-disable-next-line no-new -- the gauge lives in `registers`; its collect() reads the cache at scrape time.
    new Gauge({ name: `${METRIC_PREFIX}rollout_stages`, help: 'Rollout/stage pairs that currently have per-rollout series.', registers, collect () { this.set(rollouts.size) } })
    new Gauge({ name: `${METRIC_PREFIX}build_info`, help: 'Always 1; the labels say which build is running.', labelNames: ['version', 'nodejs'], registers }).set({ version: opts.version, nodejs: process.version }, 1)

    // Series that exist from the start, so rate() and absence-based alerts work before traffic.
    for (const stage of opts.stages) {
      if (stage.specs !== undefined) this.#specs.set(stage.name, stage.specs)
      for (const verdict of Object.keys(VERDICT_VALUE)) this.#verdicts.inc({ stage: stage.name, verdict }, 0)
      for (const trigger of stage.triggers) this.#triggersFired.inc({ stage: stage.name, trigger }, 0)
    }
    for (const outcome of ['ok', 'error']) this.#evidenceWrites.inc({ outcome }, 0)
    for (const reason of ['expired', 'capacity']) evicted.inc({ reason }, 0)

    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry })
      // Gauges named like counters, which `promtool check metrics` rejects; each is the sum of
      // its per-type twin (nodejs_active_handles{type} and so on), which stays.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name)
    }
  }

  /** A tenant's chain head (ChainAnchors): its seq and the start of its hash. */
  chainHead (tenant: string, head: { seq: number, hash: string }): void {
    this.#chainHeadSeq.set({ tenant }, head.seq)
    this.#chainHeadHash.set({ tenant }, hashPrefixNumber(head.hash))
  }

  /** The text exposition for a scrape; per-rollout series past their TTL are dropped first. */
  async exposition (): Promise<{ contentType: string, body: string }> {
    this.#rollouts.expire()
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }

  judged (subject: RolloutStage, j: Judgement, seconds: number): void {
    this.#verdicts.inc({ stage: j.stage, verdict: j.verdict })
    this.#evaluationDuration.observe({ stage: j.stage }, seconds)
    for (const t of j.triggers) if (t.fired) this.#triggersFired.inc({ stage: j.stage, trigger: t.name })

    const base: Labels = { tenant: subject.tenant, rollout_namespace: subject.namespace ?? '', rollout: subject.rollout, stage: j.stage }
    const values: SeriesValue[] = [
      { gauge: this.#verdict, labels: base, value: VERDICT_VALUE[j.verdict] },
      { gauge: this.#score, labels: base, value: j.score / 100 },
      { gauge: this.#evaluatedAt, labels: base, value: this.#now() / 1000 },
    ]
    for (const s of j.signals) {
      for (const arm of ['canary', 'baseline'] as const) {
        const e = s[arm]
        if (e === null) continue
        const labels = { ...base, signal: s.name, arm }
        if ('rate' in e) {
          if (e.n > 0) values.push({ gauge: this.#signalRatio, labels, value: e.rate })
        } else if ('pending' in e) {
          values.push({ gauge: this.#approvalsPending, labels: { ...base, arm }, value: e.pending })
          values.push({ gauge: this.#approvalAge, labels: { ...base, arm }, value: e.oldestAgeSeconds })
        } else if ('seconds' in e) {
          values.push({ gauge: this.#signalSeconds, labels, value: e.seconds })
        }
      }
    }
    for (const t of j.triggers) {
      if (t.evaluated) values.push({ gauge: this.#triggerFired, labels: { ...base, trigger: t.name }, value: t.fired ? 1 : 0 })
    }
    values.push(...this.#decidedOn(base, j))
    this.#rollouts.update(JSON.stringify([base.tenant, base.rollout_namespace, base.rollout, base.stage]), values)
  }

  /** The canary's bounds and the levels each rule and trigger compares them with. */
  #decidedOn (base: Labels, j: Judgement): SeriesValue[] {
    const values: SeriesValue[] = []
    const add = (gauge: Gauge<string>, labels: Labels, value: number | undefined): void => {
      if (value !== undefined && Number.isFinite(value)) values.push({ gauge, labels: { ...base, ...labels }, value })
    }
    for (const s of j.signals) {
      const c = s.canary
      if (s.kind === 'rate' && c !== null && 'rate' in c && c.n > 0) {
        const rule = ruleOf(s)
        const rated = rule?.scale === 'rate' ? rule : c
        add(this.#signalBound, { signal: s.name, bound: 'lower' }, rated.lower)
        add(this.#signalBound, { signal: s.name, bound: 'upper' }, rated.upper)
        const levels = rateLevels(s)
        add(this.#signalLevel, { signal: s.name, level: 'margin' }, levels?.margin)
        add(this.#signalLevel, { signal: s.name, level: 'harm' }, levels?.harm)
        if (rule?.scale === 'ratio') {
          for (const value of ['estimate', 'lower', 'upper', 'margin', 'harm'] as const) add(this.#ruleRatio, { signal: s.name, value, trigger: '' }, rule[value])
        }
      }
      if (s.kind === 'backlog') {
        add(this.#pendingLevel, { level: 'harm', trigger: '' }, s.threshold.maxPending)
        add(this.#ageLevel, { level: 'harm', trigger: '' }, s.threshold.maxOldestAgeSeconds)
      }
    }
    const specs = this.#specs.get(j.stage) ?? []
    for (const t of j.triggers) {
      const spec = specs.find((x) => x.name === t.name)
      if (spec?.kind === 'backlog') {
        add(this.#pendingLevel, { level: 'trigger', trigger: t.name }, spec.maxPending)
        add(this.#ageLevel, { level: 'trigger', trigger: t.name }, spec.maxOldestAgeSeconds)
      } else if (t.evaluated) {
        const signal = j.signals.find((s) => s.name === t.signal)
        add(this.#triggerLevel, { trigger: t.name, signal: t.signal }, rateTriggerLevel(t, spec, signal))
        if (signal !== undefined && ruleOf(signal)?.scale === 'ratio') add(this.#ruleRatio, { signal: t.signal, value: 'trigger', trigger: t.name }, (t as { level?: number }).level)
      }
    }
    return values
  }

  evaluationFailed (stage: string | undefined, code: ErrorCode, seconds: number): void {
    this.#evaluationErrors.inc({ stage: stage ?? 'unknown', code })
    this.#evaluationDuration.observe({ stage: stage ?? 'unknown' }, seconds)
  }

  upstreamRequest (r: UpstreamRequest): void {
    this.#upstreamRequests.inc({ source: r.source, endpoint: r.endpoint, outcome: r.outcome })
    this.#upstreamDuration.observe({ source: r.source, endpoint: r.endpoint }, r.seconds)
    if (r.bytes !== undefined) this.#upstreamBytes.inc({ source: r.source, endpoint: r.endpoint }, r.bytes)
  }

  /** One poll of Cordum's jobs list by the job ledger, and the requests it took. */
  ledgerPolled (requests: number): void {
    this.#ledgerPolls.inc()
    this.#ledgerRequests.inc(requests)
  }

  sliceCache (source: string, endpoint: string, result: SliceCacheResult): void {
    this.#sliceCache.inc({ source, endpoint, result })
  }

  observationShared (source: string, use: ObservationUse): void {
    this.#observations.inc({ source, result: use })
  }

  answerShared (use: ObservationUse): void {
    this.#answers.inc({ result: use })
  }

  evidenceWritten (outcome: 'ok' | 'error', seconds: number): void {
    this.#evidenceWrites.inc({ outcome })
    this.#evidenceDuration.observe(seconds)
  }

  /**
   * One HTTP request served: `route` is the route template, or `unmatched` for a 404 without a
   * route. Without `seconds`, only creates the series at 0 (a route being registered).
   */
  httpRequest (method: string, route: string, statusCode: number, seconds: number | undefined): void {
    this.#httpRequests.inc({ method, route, status_code: String(statusCode) }, seconds === undefined ? 0 : 1)
    if (seconds !== undefined) this.#httpDuration.observe({ method, route }, seconds)
  }
}
