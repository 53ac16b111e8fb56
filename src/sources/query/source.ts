/**
 * A SignalSource over a PromQL- or LogQL-speaking query API: the gates policy gives each
 * signal's queries by role (roles.ts); this runs them per arm, instant queries at the window's
 * end for the counts over {{window}}, range queries for the sub-interval buckets "sustained"
 * triggers read, and turns the numbers into observations.
 *
 * No data is never a zero rate: a rate arm whose events query returns nothing has n = 0 (too
 * little data to judge), and a hits query that returns nothing beside events makes the signal
 * unavailable (a misspelt metric must not read as "no failures"). A query the upstream refuses
 * makes only its signal unavailable; any other upstream failure throws and cancels the rest.
 */
import { setMaxListeners } from 'node:events'
import type { SignalSpec } from '../../config/policy.js'
import { GateError } from '../../errors.js'
import type { BacklogArm, QuantileArm, RateArm, RateBucket, SignalObservation } from '../../gate/observations.js'
import type { ObservationRequest, SignalSource } from '../source.js'
import { QueryClient, type CallContext, type QueryClientOptions, type QueryResult } from './client.js'
import { compileQueries, DIALECT, type ArmName, type Role, type SignalQueries } from '../../config/query/roles.js'
import { duration, MissingValueError, renderTemplate, type QueryTemplate, type TemplateValues } from '../../config/query/template.js'
import { DEFAULT_DEADLINE_MS } from '../../config/settings.js'

export interface QueryApi {
  instantPath: string
  rangePath: string
  readyPath: string
  /** How the API takes an instant (Prometheus: unix seconds; Loki: unix nanoseconds). */
  time: (ms: number) => string
}

export interface QuerySourceOptions extends Omit<QueryClientOptions, 'source' | 'label'> {
  /** Overall deadline of one observation, every query and retry included (ms). */
  deadlineMs?: number
}

export { DEFAULT_DEADLINE_MS }

/** A signal-level problem: the signal is unavailable with this reason; the others go on. */
class SignalProblem extends Error {
  constructor (readonly code: string, message: string) {
    super(message)
  }
}

interface Arm { name: ArmName, value: string }

export class QuerySource implements SignalSource {
  readonly name: 'prometheus' | 'loki'
  readonly client: QueryClient
  readonly #label: string
  readonly #api: QueryApi
  readonly #deadlineMs: number
  readonly #compiled = new Map<string, SignalQueries>()

  constructor (name: 'prometheus' | 'loki', label: string, api: QueryApi, opts: QuerySourceOptions) {
    this.name = name
    this.#label = label
    this.#api = api
    this.#deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS
    const { deadlineMs: _, ...clientOpts } = opts
    this.client = new QueryClient({ ...clientOpts, source: name, label })
  }

  async ready (abort: AbortSignal): Promise<void> {
    const ctx = this.#context(abort)
    try {
      await this.client.ready(this.#api.readyPath, ctx.call)
    } finally {
      ctx.done()
    }
  }

  async close (): Promise<void> {
    await this.client.close()
  }

  async observe (req: ObservationRequest, signals: SignalSpec[], abort: AbortSignal): Promise<Record<string, SignalObservation>> {
    const arms: Arm[] = [{ name: 'canary', value: req.canary }]
    if (req.baseline !== undefined && req.baseline !== req.canary) arms.push({ name: 'baseline', value: req.baseline })
    const ctx = this.#context(abort)
    try {
      const entries = await Promise.all(signals.map(async (spec) => {
        try {
          return [spec.name, await this.#observeSignal(spec, req, arms, ctx.call)] as const
        } catch (err) {
          if (err instanceof SignalProblem) return [spec.name, { unavailable: { code: err.code, reason: err.message } }] as const
          ctx.abort()
          throw err
        }
      }))
      return Object.fromEntries(entries)
    } finally {
      ctx.done()
    }
  }

  #queries (spec: SignalSpec): SignalQueries {
    const key = JSON.stringify([spec.kind, spec.query])
    let q = this.#compiled.get(key)
    if (q === undefined) {
      if (spec.source !== this.name) throw new SignalProblem('GATE_ERR_UNAVAILABLE', `signal '${spec.name}' reads from ${spec.source}, not ${this.name}`)
      const { queries, problems } = compileQueries(spec.kind, DIALECT[this.name], spec.query ?? {})
      // The policy loader refuses such queries; this guards policies built some other way.
      if (problems.length > 0) throw new SignalProblem('GATE_ERR_UNAVAILABLE', `signal '${spec.name}' has unusable queries: ${problems.map((p) => p.message).join('; ')}`)
      q = queries
      this.#compiled.set(key, q)
    }
    return q
  }

  async #observeSignal (spec: SignalSpec, req: ObservationRequest, arms: Arm[], call: CallContext): Promise<SignalObservation> {
    const queries = this.#queries(spec)
    const notes = new Set<string>()
    const observed = await Promise.all(arms.map(async (arm) => {
      const values: TemplateValues = { arm: arm.value, canary: req.canary, tenant: req.tenant }
      if (req.baseline !== undefined) values.baseline = req.baseline
      if (req.topic !== undefined) values.topic = req.topic
      const run = new ArmRun(this, spec, arm, values, req, call, notes)
      switch (spec.kind) {
        case 'rate': return await run.rate(queries, req.sustainedSignals?.includes(spec.name) ?? false)
        case 'quantile': return await run.quantile(queries)
        case 'backlog': return await run.backlog(queries)
      }
    }))
    const obs: SignalObservation = {}
    arms.forEach((arm, i) => {
      const value = observed[i]
      if (value !== undefined) obs[arm.name] = value
    })
    if (notes.size > 0) obs.notes = [...notes]
    return obs
  }

  /** Runs one query; a query the upstream refuses becomes a SignalProblem naming the signal and role. */
  async run (spec: SignalSpec, role: string, arm: ArmName, template: QueryTemplate, values: TemplateValues, params: Record<string, string>, range: boolean, call: CallContext): Promise<QueryResult> {
    let query: string
    try {
      query = renderTemplate(template, values)
    } catch (err) {
      if (err instanceof MissingValueError) throw new SignalProblem('GATE_ERR_BAD_REQUEST', `${spec.name}: ${err.message}`)
      throw err
    }
    try {
      return await this.client.query(range ? this.#api.rangePath : this.#api.instantPath, { query, ...params }, call)
    } catch (err) {
      if (err instanceof GateError && err.code === 'GATE_ERR_UPSTREAM_QUERY') {
        throw new SignalProblem(err.code, `${spec.name}: the ${arm} arm's ${role} query failed: ${err.message}; query: ${query.slice(0, 300)}`)
      }
      throw err
    }
  }

  get label (): string { return this.#label }
  get api (): QueryApi { return this.#api }

  #context (abort: AbortSignal): { call: CallContext, abort: () => void, done: () => void } {
    const own = new AbortController()
    const deadline = Date.now() + this.#deadlineMs
    const timer = setTimeout(() => own.abort(new DOMException('deadline', 'TimeoutError')), this.#deadlineMs)
    timer.unref()
    const signal = AbortSignal.any([abort, own.signal])
    // Every query in flight listens on it: a stage's signals times arms times roles.
    setMaxListeners(256, signal)
    return {
      call: { signal, deadline },
      abort: () => own.abort(new DOMException('a sibling query failed', 'AbortError')),
      done: () => clearTimeout(timer),
    }
  }
}

/** The queries of one signal for one arm. */
class ArmRun {
  constructor (
    readonly source: QuerySource,
    readonly spec: SignalSpec,
    readonly arm: Arm,
    readonly values: TemplateValues,
    readonly req: ObservationRequest,
    readonly call: CallContext,
    readonly notes: Set<string>
  ) {}

  get #who (): string { return `${this.spec.name}: the ${this.arm.name} arm's` }

  /** The single number an instant query over the whole window returns, or undefined for no data. */
  async #instant (queries: SignalQueries, role: Role): Promise<number | undefined> {
    const template = queries[role]?.[this.arm.name] as QueryTemplate
    const values = { ...this.values, window: duration(this.req.until.getTime() - this.req.since.getTime()) }
    const result = await this.source.run(this.spec, role, this.arm.name, template, values, { time: this.source.api.time(this.req.until.getTime()) }, false, this.call)
    const samples = result.kind === 'vector' ? result.samples : []
    if (result.kind !== 'vector') throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} query returned a range of values; it must return one number (an instant vector or scalar)`)
    if (samples.length > 1) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} query returned ${samples.length} series; it must return one number: aggregate it, e.g. sum(...)`)
    const v = samples[0]?.value
    if (v !== undefined && Number.isFinite(v) && v < 0) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} query returned ${v}, a negative count`)
    return v
  }

  #count (v: number, role: Role): number {
    if (!Number.isFinite(v)) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} query returned ${v}, not a count`)
    const whole = Math.round(v)
    // increase() extrapolates to the window's edges; events are whole.
    if (Math.abs(v - whole) > 1e-6) this.notes.add(`${this.spec.name}: ${this.source.label} returned fractional counts (increase() extrapolates to the window's edges); they were rounded to whole events`)
    return whole
  }

  async rate (queries: SignalQueries, bucketed: boolean): Promise<RateArm> {
    const [events, hits, buckets] = await Promise.all([
      this.#instant(queries, 'events'),
      this.#instant(queries, 'hits'),
      bucketed ? this.#buckets(queries) : Promise.resolve(undefined),
    ])
    const label = this.source.label
    if (events === undefined) {
      this.notes.add(`${this.spec.name}: ${label} has no data for the ${this.arm.name} arm's events query in this window: no events are counted, so the signal cannot pass on this data`)
      const arm: RateArm = { n: 0, k: 0 }
      if (buckets !== undefined) arm.buckets = buckets
      return arm
    }
    const n = this.#count(events, 'events')
    if (hits === undefined) {
      if (n > 0) {
        throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} hits query returned no data while its events query counts ${n}: a missing series is not a zero; if no hits is a real zero here, end the hits query with \`or vector(0)\``)
      }
      return buckets === undefined ? { n: 0, k: 0 } : { n: 0, k: 0, buckets }
    }
    const k = this.#count(hits, 'hits')
    if (k > n) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} hits query counts ${k}, more than its events query's ${n}: the two queries must count the same population`)
    return buckets === undefined ? { n, k } : { n, k, buckets }
  }

  /** Whole sub-intervals inside the window, aligned to the clock like the Cordum source's. */
  async #buckets (queries: SignalQueries): Promise<RateBucket[]> {
    const widthMs = this.req.subIntervalMinutes * 60_000
    const first = Math.ceil(this.req.since.getTime() / widthMs) * widthMs
    const lastEnd = Math.floor(this.req.until.getTime() / widthMs) * widthMs
    if (lastEnd - first < widthMs) {
      this.notes.add(`${this.spec.name}: the window holds no whole ${this.req.subIntervalMinutes}-minute sub-interval, so there are no sub-interval counts`)
      return []
    }
    const params = { start: this.source.api.time(first + widthMs), end: this.source.api.time(lastEnd), step: String(widthMs / 1000) }
    const values = { ...this.values, window: duration(widthMs) }
    const [events, hits] = await Promise.all((['events', 'hits'] as const).map(async (role) => {
      const result = await this.source.run(this.spec, role, this.arm.name, queries[role]?.[this.arm.name] as QueryTemplate, values, params, true, this.call)
      if (result.kind !== 'matrix') throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} range query did not return a range of values`)
      if (result.series.length > 1) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} range query returned ${result.series.length} series; it must return one: aggregate it, e.g. sum(...)`)
      return new Map((result.series[0]?.points ?? []).map(([t, v]) => [Math.round(t * 1000), v]))
    })) as [Map<number, number>, Map<number, number>]
    const out: RateBucket[] = []
    let missing = 0
    for (let start = first; start + widthMs <= lastEnd; start += widthMs) {
      const end = start + widthMs
      const e = events.get(end)
      const h = hits.get(end)
      if (e === undefined || h === undefined) missing++
      out.push({ start: new Date(start).toISOString(), n: e === undefined ? 0 : this.#count(e, 'events'), k: h === undefined ? 0 : this.#count(h, 'hits') })
    }
    if (missing > 0) this.notes.add(`${this.spec.name}: ${this.source.label} had no data for ${missing} of the ${this.arm.name} arm's ${out.length} sub-intervals; they count as no events`)
    return out
  }

  async quantile (queries: SignalQueries): Promise<QuantileArm | undefined> {
    const [seconds, events] = await Promise.all([
      this.#instant(queries, 'seconds'),
      queries.events === undefined ? Promise.resolve(undefined) : this.#instant(queries, 'events'),
    ])
    const n = events === undefined ? undefined : this.#count(events, 'events')
    // histogram_quantile gives no series, or NaN, when nothing was observed.
    if (seconds === undefined || Number.isNaN(seconds)) {
      if (n !== undefined && n > 0) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} seconds query returned no value while its events query counts ${n}`)
      this.notes.add(`${this.spec.name}: ${this.source.label} has no data for the ${this.arm.name} arm in this window`)
      // No requests observed: the canary arm has n = 0 (too little data); a baseline without data is left out.
      return this.arm.name === 'canary' ? { seconds: 0, n: 0 } : undefined
    }
    if (!Number.isFinite(seconds)) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} seconds query returned ${seconds}: the quantile lies in the histogram's +Inf bucket; add a bucket above it`)
    return n === undefined ? { seconds } : { seconds, n }
  }

  async backlog (queries: SignalQueries): Promise<BacklogArm> {
    const [pending, age] = await Promise.all([this.#instant(queries, 'pending'), this.#instant(queries, 'oldest_age_seconds')])
    for (const [role, v] of [['pending', pending], ['oldest_age_seconds', age]] as const) {
      if (v === undefined) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} query returned no data: the backlog cannot be judged without it; if no data means 0 here, end the query with \`or vector(0)\``)
      if (!Number.isFinite(v)) throw new SignalProblem('GATE_ERR_UPSTREAM_QUERY', `${this.#who} ${role} query returned ${v}`)
    }
    return { pending: Math.round(pending as number), oldestAgeSeconds: age as number }
  }
}
