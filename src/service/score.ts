/**
 * The score service: one question ("may this canary advance at this stage?") answered from
 * the sources and the judge. Used by the HTTP routes, and later by the Argo plugin and the
 * evidence store. It validates and normalizes the request, asks each source for the signals
 * the stage needs (sharing identical concurrent fetches), applies the stage's on_source_error,
 * and judges.
 *
 * Over 400 lines: the request's validation and normalisation, the two caches and the port
 * interfaces (DecisionRecorder, StageActions, Admission) still live here. They are to move out
 * (validation to http/, the interfaces to ports.ts; issue 19) once the window and split work
 * (issue 16), which changes this file, has landed.
 */
import type { ActionsTaken, ApprovalTaken, RollbackTaken } from './ports.js'
import { canonicalJson } from '../canonical-json.js'
import type { LoadedPolicy } from '../config/load.js'
import { unknownName } from '../config/names.js'
import type { SignalSpec, SourceName, Stage } from '../config/policy.js'
import { GateError, isGateError } from '../errors.js'
import { isRateArm, type ApprovalObservation, type Observations, type SignalObservation, type TrafficSplitCounts } from '../gate/observations.js'
import { judge, signalsNeeded, type Judgement } from '../gate/verdict.js'
import type { SourceRegistry } from '../sources/registry.js'
import type { FirstSeenRequest, ObservationRequest, SignalSource } from '../sources/source.js'
import { NO_TELEMETRY, secondsSince, type ObservationUse, type RolloutStage, type Telemetry } from '../telemetry.js'
import { Flights, signalOf, type Cancellation } from './flights.js'
import type { AnalysisStart, StepStart } from './ports.js'
import { badField, resolveWindow, startingAt, UNTIL_ROUNDING_MS, type WindowRule, type WindowStart } from './window.js'

/** A score request as the HTTP API and the CLI take it (all strings, as in a query string). */
export interface ScoreQuery {
  stage: string
  canary: string
  baseline?: string
  tenant?: string
  topic?: string
  namespace?: string
  rollout?: string
  revision?: string
  /** RFC 3339 time or a duration back from `until` (e.g. `30m`). */
  since?: string
  /** RFC 3339 time; default now, rounded down to 10 s. */
  until?: string
  /** Expected canary weight in percent (0-100), for the traffic-split check. */
  weight?: number
}

export interface NormalizedQuery {
  stage: Stage
  canary: string
  baseline?: string
  tenant: string
  topic?: string
  since: Date
  until: Date
  weight?: number
  /** Where the request came from (Argo fills these); kept for decision records. */
  rollout: { namespace?: string, rollout?: string, revision?: string }
  /** How `since` was chosen: by the request, the first record of this analysis, the canary's first event, or the default lifetime. */
  windowRule?: WindowRule
}

/**
 * The ScoreResponse: the judgement, the id of its decision record, and what the gate did in
 * Cordum. `reportUrl` (the decision's page) is added by the HTTP route, which knows the address.
 */
export type ScoreResponse = Judgement & { decisionId?: string, reportUrl?: string, actions?: ActionsTaken }

/**
 * Where the evidence store plugs in (src/evidence): called with every judgement before the
 * response is sent; returns the decision id to put in the response. A failure to record fails
 * the request (GATE_ERR_EVIDENCE_UNAVAILABLE): no answer goes out without its record.
 */
export interface DecisionRecorder {
  /**
   * An evaluation is starting: start the reads record() will need (the sources' versions), so
   * that a slow or unreachable source costs its timeout alongside the observation, not after it.
   */
  begin? (): void
  record (query: NormalizedQuery, observations: Observations, judgement: Judgement, actions?: ActionsTaken): Promise<string | undefined>
  /**
   * The window start and rule of the first decision of this analysis (tenant, namespace,
   * rollout, revision, stage) recorded in Argo's form, so a growing analysis keeps its start
   * (see window.ts).
   */
  analysisStart? (q: NormalizedQuery): Promise<AnalysisStart | undefined>
  /** When the gate first heard of this rollout revision at this weight in Argo's form (the traffic-split window). */
  stepStart? (q: NormalizedQuery, weight: number): Promise<StepStart>
}

/** Where Cordum-side actions plug in (src/actions): check signals before judging, approval and on_fail after. */
export interface StageActions {
  /** The observation of a check signal (the policy-simulation catalog). Throws GATE_ERR_UPSTREAM_* like a source. */
  check (q: NormalizedQuery, abort: AbortSignal): Promise<SignalObservation>
  /** The approval state of a stage that requires one; asked only when the judge would pass. */
  approval (q: NormalizedQuery, judgement: Judgement, abort: AbortSignal): Promise<{ observation?: ApprovalObservation, taken: ApprovalTaken }>
  /** The stage's on_fail, started when the verdict is fail. */
  rollback (q: NormalizedQuery, judgement: Judgement, abort: AbortSignal): Promise<RollbackTaken>
}

/**
 * Admission control around evaluations (the HTTP layer's MAX_SCORES_IN_FLIGHT): it refuses or
 * runs the work. Only evaluations take a place: a request answered by an identical evaluation
 * in flight, or reused, waits on no work of its own.
 */
export interface Admission {
  run: <T>(work: () => Promise<T>) => Promise<T>
}

export interface ScoreServiceOptions {
  policy: LoadedPolicy
  sources: SourceRegistry
  /** Tenant used when a request names none (CORDUM_TENANT). */
  defaultTenant: string
  now?: () => number
  /** How long finished observations are reused for an identical request (default 10 s). */
  cacheTtlMs?: number
  cacheMaxEntries?: number
  recorder?: DecisionRecorder
  /**
   * How long an identical question gets the answer (and decision record) of one evaluation
   * (default 10 s, SCORE_REUSE_SECONDS); 0: every request is evaluated and recorded on its own.
   */
  answerTtlMs?: number
  /** Where verdicts, errors, cache use and evidence writes are reported (metrics); default none. */
  telemetry?: Telemetry
  actions?: StageActions
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,252}$/

function checkName (field: string, value: string | undefined, required: boolean): string | undefined {
  if (value === undefined || value === '') {
    if (required) throw badField(field, 'is required')
    return undefined
  }
  if (!NAME.test(value)) throw badField(field, `must be 1-253 characters of letters, digits and . _ : @ / + -, got '${value.slice(0, 64)}'`, value.slice(0, 64))
  return value
}

export class ScoreService {
  readonly policy: LoadedPolicy
  readonly sources: SourceRegistry
  readonly #defaultTenant: string
  readonly #now: () => number
  readonly #flights: Flights<Record<string, SignalObservation>>
  readonly #answers: Flights<ScoreResponse> | undefined
  /** Answers by the exact text of their request (see `reused`), each until its question may change. */
  readonly #byText = new Map<string, { response: ScoreResponse, tenant: string, expires: number }>()
  readonly #maxEntries: number
  readonly #recorder: DecisionRecorder | undefined
  readonly #telemetry: Telemetry
  readonly #actions: StageActions | undefined

  constructor (opts: ScoreServiceOptions) {
    this.policy = opts.policy
    this.sources = opts.sources
    this.#defaultTenant = opts.defaultTenant
    this.#now = opts.now ?? Date.now
    this.#flights = new Flights({ ttlMs: opts.cacheTtlMs ?? 10_000, maxEntries: opts.cacheMaxEntries ?? 256, now: this.#now })
    const answerTtlMs = opts.answerTtlMs ?? 10_000
    this.#maxEntries = opts.cacheMaxEntries ?? 256
    this.#answers = answerTtlMs > 0 ? new Flights({ ttlMs: answerTtlMs, maxEntries: this.#maxEntries, now: this.#now }) : undefined
    this.#telemetry = opts.telemetry ?? NO_TELEMETRY
    this.#recorder = opts.recorder === undefined ? undefined : timedRecorder(opts.recorder, this.#telemetry)
    this.#actions = opts.actions
  }

  /**
   * Checks and completes a request; throws GATE_ERR_BAD_REQUEST / GATE_ERR_UNKNOWN_STAGE naming
   * the field. A window in Argo's form gets its start when evaluated (see #windowStart).
   */
  normalize (query: ScoreQuery): NormalizedQuery {
    if (query.stage === undefined || query.stage === '') throw badField('stage', `is required (one of ${Object.keys(this.policy.policy.stages).join(', ')})`)
    const stage = this.policy.policy.stages[query.stage]
    if (stage === undefined) {
      throw new GateError('GATE_ERR_UNKNOWN_STAGE', `stage: ${unknownName('stage', query.stage, Object.keys(this.policy.policy.stages))}`, { details: { field: 'stage', value: query.stage.slice(0, 64), allowed: Object.keys(this.policy.policy.stages) } })
    }
    const canary = checkName('canary', query.canary, true) as string
    const baseline = checkName('baseline', query.baseline, false)
    if (baseline === canary) throw badField('baseline', 'must differ from canary: comparing an agent with itself judges nothing', baseline)
    const tenant = checkName('tenant', query.tenant, false) ?? this.#defaultTenant
    const topic = checkName('topic', query.topic, false)
    if (query.weight !== undefined && !(Number.isFinite(query.weight) && query.weight >= 0 && query.weight <= 100)) {
      throw badField('weight', `must be a percentage between 0 and 100, got ${String(query.weight)}`, query.weight)
    }
    const { since, until, rule } = resolveWindow(query.since, query.until, this.policy.policy.canaryLifetimeHours, this.#now())
    const q: NormalizedQuery = { stage, canary, tenant, since, until, rollout: {}, windowRule: rule }
    if (baseline !== undefined) q.baseline = baseline
    if (topic !== undefined) q.topic = topic
    if (query.weight !== undefined) q.weight = query.weight
    for (const key of ['namespace', 'rollout', 'revision'] as const) {
      const v = checkName(key, query[key], false)
      if (v !== undefined) q.rollout[key] = v
    }
    return q
  }

  /**
   * Scores a request. Upstream failures throw (HTTP 503) unless the stage says inconclusive.
   *
   * One evaluation per question: identical requests (the same normalized query, whose default
   * `until` is rounded to 10 s) arriving together or within the cache TTL get the answer, and
   * the decision record, of a single evaluation. The judge is pure and the observations would
   * be the shared ones anyway, so a second evaluation could only repeat the first: this keeps
   * replicas of an AnalysisRun (and retries) from judging and recording the same thing twice.
   * Only the evaluation itself is reported as a verdict; every answer counts in answerShared.
   * `abort` may be a function making the signal: a reused answer never calls it. `text`, the
   * request's exact text (the HTTP route's URL), lets `reused(text)` find this answer again.
   */
  async score (query: ScoreQuery, abort: Cancellation, admission?: Admission, text?: string): Promise<ScoreResponse> {
    const started = performance.now()
    // Read before normalize: a defaulted `until` is rounded from a clock at least this late.
    const asked = this.#now()
    try {
      const q = this.normalize(query)
      let use: ObservationUse = 'fetched'
      const evaluate = async (signal: AbortSignal): Promise<ScoreResponse> => admission === undefined
        ? await this.#evaluate(q, signal)
        : await admission.run(async () => await this.#evaluate(q, signal))
      let response: ScoreResponse
      if (this.#answers === undefined) {
        response = await evaluate(signalOf(abort))
      } else {
        const key = answerKey(q)
        response = await this.#answers.run(key, evaluate, abort, (u) => { use = u })
        if (text !== undefined) this.#remember(text, query, q.tenant, response, this.#answers.expiry(key), asked)
      }
      this.#telemetry.answerShared(use)
      if (use === 'fetched') this.#telemetry.judged(rolloutStage(query, q.tenant, response.stage), response, secondsSince(started))
      return response
    } catch (err) {
      // Only a stage the policy defines becomes a label: a typo must not create a series.
      const stage = typeof query.stage === 'string' && Object.hasOwn(this.policy.policy.stages, query.stage) ? query.stage : undefined
      this.#telemetry.evaluationFailed(stage, isGateError(err) ? err.code : 'GATE_ERR_INTERNAL', secondsSince(started))
      throw err
    }
  }

  /**
   * The answer a request of exactly this text got, while it is still reused: what `score` would
   * answer, without parsing, validating or normalizing the request again (the HTTP route's
   * fast path for a repeated URL; validation depends only on the text and, for a defaulted
   * `until`, on the clock's 10 s step, which the entry does not outlive). Counted as a reuse.
   * `tenant` is the request's tenant, for the caller's key check.
   */
  reused (text: string): { response: ScoreResponse, tenant: string } | undefined {
    const entry = this.#byText.get(text)
    if (entry === undefined) return undefined
    if (entry.expires <= this.#now()) {
      this.#byText.delete(text)
      return undefined
    }
    this.#telemetry.answerShared('cached')
    return entry
  }

  #remember (text: string, query: ScoreQuery, tenant: string, response: ScoreResponse, reusedUntil: number | undefined, asked: number): void {
    if (reusedUntil === undefined) return
    // A defaulted `until` (now, rounded down to 10 s) makes the same text another question at the next step.
    const stepEnd = query.until === undefined || query.until === '' ? (Math.floor(asked / UNTIL_ROUNDING_MS) + 1) * UNTIL_ROUNDING_MS : Infinity
    this.#byText.delete(text)
    this.#byText.set(text, { response, tenant, expires: Math.min(reusedUntil, stepEnd) })
    // Map keeps insertion order: the oldest entries go first.
    for (const oldest of this.#byText.keys()) {
      if (this.#byText.size <= this.#maxEntries) break
      this.#byText.delete(oldest)
    }
  }

  async #evaluate (first: NormalizedQuery, abort: AbortSignal): Promise<ScoreResponse> {
    this.#recorder?.begin?.()
    let q = first
    // Argo's form (no `since`): the canary's own window. An upstream that failed while its
    // start was looked for is not read again (that would spend a second deadline on it).
    const failed = new Map<SourceName, GateError>()
    if (q.windowRule === 'default') {
      const start = await this.#windowStart(q, abort, failed)
      if (start !== undefined) {
        const w = startingAt({ since: q.since, until: q.until, rule: 'default' }, start)
        q = { ...q, since: w.since, windowRule: w.rule }
      }
    }
    const [observations, split] = await Promise.all([this.observe(q, abort, failed), failed.size > 0 ? undefined : this.#stepSplit(q, abort)])
    if (split !== undefined) observations.split = split
    let judgement = warmingUp(judge(q.stage, observations), observations)
    const actions: ActionsTaken = {}
    if (this.#actions !== undefined) {
      if (judgement.reasonCodes.includes('approval_required')) {
        const { observation, taken } = await this.#approval(q, judgement, abort)
        actions.approval = taken
        if (observation !== undefined) {
          observations.approval = observation
          judgement = judge(q.stage, observations)
        }
      }
      if (judgement.verdict === 'fail' && q.stage.onFail !== undefined) actions.rollback = await this.#actions.rollback(q, judgement, abort)
    }
    const taken = Object.keys(actions).length === 0 ? undefined : actions
    const decisionId = await this.#recorder?.record(q, observations, judgement, taken)
    const response: ScoreResponse = decisionId === undefined ? judgement : { ...judgement, decisionId }
    if (taken !== undefined) response.actions = taken
    return response
  }

  /**
   * Where a window in Argo's form starts: a growing analysis (a named rollout) keeps the start
   * of its first record in that form once that start was the canary's own; otherwise the
   * canary's first event within the lifetime (`q.since` .. `q.until`), or, for an analysis
   * whose first look saw no canary yet, within that look's window. Undefined: the lifetime.
   */
  async #windowStart (q: NormalizedQuery, abort: AbortSignal, failed: Map<SourceName, GateError>): Promise<WindowStart | undefined> {
    let stored: AnalysisStart | undefined
    if (q.rollout.rollout !== undefined && this.#recorder?.analysisStart !== undefined) {
      stored = await this.#recorder.analysisStart(q)
      if (stored !== undefined && stored.rule !== 'default') return { at: stored.since, rule: 'analysis' }
    }
    const since = stored !== undefined && stored.since < q.since ? stored.since : q.since
    const first = await this.#firstSeen(q, since, abort, failed)
    if (first !== undefined && first > since) return { at: first, rule: 'canary' }
    return stored === undefined ? undefined : { at: stored.since, rule: 'analysis' }
  }

  /**
   * The canary's first event in [since, q.until] from the first source that can tell, or
   * undefined. A failing upstream is the stage's on_source_error (warming aside, see observe):
   * with `inconclusive` the window stays as it is and the failure is put in `failed` for the
   * observation to report.
   */
  async #firstSeen (q: NormalizedQuery, since: Date, abort: AbortSignal, failed: Map<SourceName, GateError>): Promise<Date | undefined> {
    const source = this.sources.all().find((s) => s.firstSeen !== undefined)
    if (source?.firstSeen === undefined) return undefined
    const req: FirstSeenRequest = { tenant: q.tenant, agent: q.canary, since, until: q.until }
    if (q.topic !== undefined) req.topic = q.topic
    try {
      return await source.firstSeen(req, abort)
    } catch (err) {
      if (!(isGateError(err) && err.isUpstream && (isWarming(err) || q.stage.onSourceError === 'inconclusive'))) throw err
      failed.set(source.name, err)
      return undefined
    }
  }

  /**
   * The split signal's events per arm since the current step's weight took effect, when that
   * is after the window's start: the time of the first question in Argo's form about this
   * rollout revision at this weight, kept in the evidence store so replicas agree (the step's
   * first question itself has no events yet, and the check waits for the next). A weight that
   * took effect with the canary (no question at another weight before it) has the whole window.
   * Undefined: the judge checks the split over the window.
   */
  async #stepSplit (q: NormalizedQuery, abort: AbortSignal): Promise<TrafficSplitCounts | undefined> {
    const w = q.weight
    const policy = q.stage.trafficSplit
    if (w === undefined || w <= 0 || w >= 100 || !policy.enabled || q.baseline === undefined) return undefined
    if (q.windowRule === 'request' || q.rollout.rollout === undefined || this.#recorder?.stepStart === undefined) return undefined
    const step = await this.#recorder.stepStart(q, w)
    if (!step.afterOtherWeight) return undefined
    const since = step.at ?? q.until
    if (since <= q.since) return undefined
    if (since >= q.until) return { since: since.toISOString(), canary: 0, baseline: 0 }
    const spec = this.policy.policy.signals[policy.signal] as SignalSpec
    const source = this.sources.get(spec.source)
    if (source === undefined) return undefined
    let o: SignalObservation | undefined
    try {
      o = (await this.#observeShared(source, { ...this.#request(q), since }, [spec], abort))[spec.name]
    } catch (err) {
      // The stage's signals meet the same upstream and say so; the split is then not checked.
      if (!(isGateError(err) && err.isUpstream && q.stage.onSourceError === 'inconclusive')) throw err
      return undefined
    }
    if (!isRateArm(o?.canary) || !isRateArm(o?.baseline)) return undefined
    return { since: since.toISOString(), canary: o.canary.n, baseline: o.baseline.n }
  }

  /** The approval, with an upstream failure handled like a source's (on_source_error); never a pass. */
  async #approval (q: NormalizedQuery, judgement: Judgement, abort: AbortSignal): Promise<{ observation?: ApprovalObservation, taken: ApprovalTaken }> {
    try {
      return await (this.#actions as StageActions).approval(q, judgement, abort)
    } catch (err) {
      if (!(isGateError(err) && err.isUpstream && q.stage.onSourceError === 'inconclusive')) throw err
      return { taken: { status: 'error', reason: err.message } }
    }
  }

  /** The observations a normalized request needs, from every source it touches. */
  async observe (q: NormalizedQuery, abort: AbortSignal, failed?: Map<SourceName, GateError>): Promise<Observations> {
    const bySource = new Map<SourceName, SignalSpec[]>()
    const checks: SignalSpec[] = []
    for (const name of signalsNeeded(q.stage)) {
      const spec = this.policy.policy.signals[name] as SignalSpec
      // Check signals (the policy-simulation catalog) are the actions' to observe, not a source's.
      if (spec.kind === 'check') checks.push(spec)
      else bySource.set(spec.source, [...(bySource.get(spec.source) ?? []), spec])
    }
    const signals: Record<string, SignalObservation> = {}
    const checking = checks.map(async (spec) => {
      if (this.#actions === undefined) {
        signals[spec.name] = { unavailable: { code: 'GATE_ERR_UNAVAILABLE', reason: 'no Cordum actions are configured for this gate' } }
        return
      }
      try {
        signals[spec.name] = await this.#actions.check(q, abort)
      } catch (err) {
        if (!(isGateError(err) && err.isUpstream && q.stage.onSourceError === 'inconclusive')) throw err
        signals[spec.name] = { unavailable: { code: err.code, reason: err.message } }
      }
    })
    await Promise.all([...checking, ...[...bySource].map(async ([name, specs]) => {
      const source = this.sources.get(name)
      if (source === undefined) {
        for (const s of specs) signals[s.name] = { unavailable: { code: 'GATE_ERR_UNAVAILABLE', reason: `no ${name} source is configured for this gate` } }
        return
      }
      try {
        const known = failed?.get(name)
        if (known !== undefined) throw known
        Object.assign(signals, await this.#observeShared(source, this.#request(q), specs, abort))
      } catch (err) {
        // A cold window still being read (warming) is inconclusive whatever on_source_error says:
        // the reads go on, and a later question gets the verdict.
        const warming = isGateError(err) && isWarming(err)
        if (!(isGateError(err) && err.isUpstream && (warming || q.stage.onSourceError === 'inconclusive'))) throw err
        for (const s of specs) signals[s.name] = { unavailable: { code: err.code, reason: err.message, ...(warming ? { warming: true } : {}) } }
      }
    })])
    const observations: Observations = { window: { since: q.since.toISOString(), until: q.until.toISOString() }, signals }
    if (q.weight !== undefined) observations.expectedWeight = q.weight
    return observations
  }

  #request (q: NormalizedQuery): ObservationRequest {
    const req: ObservationRequest = {
      tenant: q.tenant,
      canary: q.canary,
      since: q.since,
      until: q.until,
      subIntervalMinutes: q.stage.subIntervalMinutes,
      overloadReasonCodes: this.policy.policy.overload.reasonCodes,
    }
    if (q.topic !== undefined) req.topic = q.topic
    if (q.baseline !== undefined) req.baseline = q.baseline
    return req
  }

  /** Identical observation requests (same source, arms, window, signals) share one fetch. */
  async #observeShared (source: SignalSource, req: ObservationRequest, specs: SignalSpec[], abort: AbortSignal): Promise<Record<string, SignalObservation>> {
    const key = canonicalJson({ source: source.name, ...req, since: req.since.toISOString(), until: req.until.toISOString(), signals: specs.map((s) => s.name).sort() })
    return await this.#flights.run(key, async (signal) => await source.observe(req, specs, signal), abort, (use) => this.#telemetry.observationShared(source.name, use))
  }

  /** Every source answers its health check (readiness). */
  async ready (abort: AbortSignal): Promise<{ source: SourceName, ok: boolean, error?: string }[]> {
    return await Promise.all(this.sources.all().map(async (s) => {
      try {
        await s.ready(abort)
        return { source: s.name, ok: true }
      } catch (err) {
        return { source: s.name, ok: false, error: isGateError(err) ? err.message : 'readiness check failed' }
      }
    }))
  }
}

/**
 * What makes two questions the same: the whole normalized request, window included. Every field
 * is named (the type makes a new field of NormalizedQuery a compile error here) in a fixed order,
 * so a flat JSON.stringify is as exact as canonical JSON and a fraction of its cost: this runs
 * for every score request but a repeated URL (see `reused`).
 */
function answerKey (q: NormalizedQuery): string {
  const key: { [K in keyof Required<NormalizedQuery>]: unknown } = {
    stage: q.stage.name,
    canary: q.canary,
    baseline: q.baseline,
    tenant: q.tenant,
    topic: q.topic,
    since: q.since.getTime(),
    until: q.until.getTime(),
    weight: q.weight,
    rollout: [q.rollout.namespace, q.rollout.rollout, q.rollout.revision],
    windowRule: q.windowRule,
  }
  return JSON.stringify(key)
}

/** A source's timeout while Cordum was answering: a cold window still being read (slices.ts, ledger.ts). */
function isWarming (err: GateError): boolean {
  return (err.details as { warming?: unknown } | undefined)?.warming !== undefined
}

/**
 * An inconclusive judgement with signals still being read says so first (reason code
 * `warming`, with how far the reads are), so Argo's next question is expected to differ. A
 * fail stands: it rests on what was read.
 */
function warmingUp (j: Judgement, o: Observations): Judgement {
  const warming = Object.values(o.signals).filter((s) => s.unavailable?.warming === true).map((s) => s.unavailable?.reason as string)
  if (warming.length === 0 || j.verdict !== 'inconclusive') return j
  const reason = `warming up: ${[...new Set(warming)].join('; ')}; ask again`
  return { ...j, reasonCodes: ['warming', ...j.reasonCodes], reasons: [reason, ...j.reasons], summary: `INCONCLUSIVE at ${j.stage} (score ${j.score}): ${reason}` }
}

/** The rollout a judgement is about (the query was validated by then); one naming no rollout is known by its canary. */
function rolloutStage (query: ScoreQuery, tenant: string, stage: string): RolloutStage {
  const subject: RolloutStage = { tenant, rollout: query.rollout === undefined || query.rollout === '' ? query.canary : query.rollout, stage }
  if (query.namespace !== undefined && query.namespace !== '') subject.namespace = query.namespace
  return subject
}

/** The recorder with its writes timed and counted (ok or error); everything else it offers passes through. */
function timedRecorder (recorder: DecisionRecorder, telemetry: Telemetry): DecisionRecorder {
  const timed: DecisionRecorder = {
    async record (query, observations, judgement, actions) {
      const started = performance.now()
      try {
        const id = await recorder.record(query, observations, judgement, actions)
        telemetry.evidenceWritten('ok', secondsSince(started))
        return id
      } catch (err) {
        telemetry.evidenceWritten('error', secondsSince(started))
        throw err
      }
    },
  }
  if (recorder.begin !== undefined) timed.begin = recorder.begin.bind(recorder)
  if (recorder.analysisStart !== undefined) timed.analysisStart = recorder.analysisStart.bind(recorder)
  if (recorder.stepStart !== undefined) timed.stepStart = recorder.stepStart.bind(recorder)
  return timed
}
