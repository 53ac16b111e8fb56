/**
 * Cordum as a SignalSource: plans which lists the asked-for signals need, reads them
 * concurrently under one deadline, and turns the counts into observations per arm.
 *
 * A 403 on an endpoint (a viewer key on an admin-only route) makes the signals that need it
 * `unavailable` with the reason; any other upstream failure throws and cancels the other reads.
 * A signal whose counts could only be partial (e.g. overload without the DLQ) is unavailable
 * rather than undercounted: an undercount could let a bad canary pass.
 */
import type { SignalSpec } from '../../config/policy.js'
import { isGateError, type GateError } from '../../errors.js'
import { seconds } from '../../gate/format.js'
import type { RateArm, SignalObservation } from '../../gate/observations.js'
import type { FirstSeenRequest, ObservationRequest, SignalSource } from '../source.js'
import { NO_TELEMETRY } from '../../telemetry.js'
import { CordumClient, isForbidden, type CallContext, type CordumClientOptions } from './client.js'
import { approvalBacklog, busyPools, countJobs, countJobsFromLedger, decisionLogHasEntries, dlqReasons, MAX_PAGES_SETTING, type ArmJobCounts, type Backlog, type DecisionCounts, type JobCounts } from './feeds.js'
import { readsFor, refusedReads, type Refusal } from './permissions.js'
import { checkLadder, countDecisionsSliced, DEFAULT_SLICES, firstDecisionSliced, SliceCache, type SlicedReads, type SliceOptions } from './slices.js'
import { DEFAULT_MAX_PAGES } from './pages.js'
import { micros } from './wire.js'
import { JobLedger, type LedgerCoverage, type LedgerOptions } from './ledger.js'
import { DEFAULT_DEADLINE_MS, DEFAULT_SLICE_CACHE_ENTRIES, DEFAULT_SLICE_CACHE_MB } from '../../config/settings.js'

export interface CordumSourceOptions extends CordumClientOptions {
  /** Overall deadline of one observation, all pages and retries included (ms). */
  deadlineMs?: number
  /** Tenant sent with readiness checks (CORDUM_TENANT). */
  tenant?: string
  /** How the decision log is cut into time slices (docs/cordum.md); marginMs is CORDUM_SLICE_MARGIN_SECONDS. */
  slices?: Partial<SliceOptions>
  /** Closed slices kept, at most (CORDUM_SLICE_CACHE_ENTRIES; 0 turns the cache off). */
  sliceCacheEntries?: number
  /** Estimated bytes the closed slices may hold (CORDUM_SLICE_CACHE_MB). */
  sliceCacheBytes?: number
  /** Wall clock (ms): which slices are closed. */
  now?: () => number
  /** Pages one walk of the jobs list or the DLQ may take before it is refused (CORDUM_MAX_PAGES). */
  maxPages?: number
  /** The job ledger (ledger.ts): job signals count every job it saw, past Cordum's 1000-job cap. */
  ledger?: Omit<LedgerOptions, 'client'>
  /** Warming budget of a closed slice's fetch (ms; CORDUM_WARM_SECONDS); undefined: the request's deadline. */
  warmMs?: number
}

export { DEFAULT_DEADLINE_MS, DEFAULT_SLICE_CACHE_ENTRIES }
export const DEFAULT_SLICE_CACHE_BYTES = DEFAULT_SLICE_CACHE_MB * 1024 * 1024
/** A window that ended longer ago than this is a past one for the job ledger. */
const PAST_WINDOW_MS = 10 * 60_000
/** Canaries whose first decision is remembered (each a few hundred bytes). */
const FIRST_SEEN_ENTRIES = 10_000

/** A read that may be refused with 403: its value, or why it is unavailable. */
type Outcome<T> = { ok: true, value: T } | { ok: false, unavailable: { code: string, reason: string }, error: GateError }

export class CordumSource implements SignalSource {
  readonly name = 'cordum' as const
  readonly client: CordumClient
  readonly #deadlineMs: number
  readonly #tenant: string
  readonly #reads: SlicedReads
  readonly #maxPages: number
  readonly #ledger: JobLedger | undefined
  /**
   * An agent's first decision, by tenant, topic and agent, with the window start it was found
   * from: nothing of the agent lies between that start and the first decision, so it answers
   * any later window starting at or after that start. Oldest entries go first.
   */
  readonly #firstSeen = new Map<string, { fromMs: number, firstMs: number }>()

  constructor (opts: CordumSourceOptions) {
    this.client = new CordumClient(opts)
    this.#deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS
    this.#tenant = opts.tenant ?? 'default'
    this.#maxPages = opts.maxPages ?? DEFAULT_MAX_PAGES
    this.#ledger = opts.ledger === undefined ? undefined : new JobLedger({ ...opts.ledger, client: this.client })
    if (!Number.isInteger(this.#maxPages) || this.#maxPages < 1) throw new Error(`${MAX_PAGES_SETTING}: must be a whole number >= 1`)
    const slices = { ...DEFAULT_SLICES, ...opts.slices }
    checkLadder(slices.ladderMs)
    if (!(slices.maxPerWindow >= 1) || !(slices.marginMs >= 0)) throw new Error('slices: maxPerWindow must be at least 1 and marginMs at least 0')
    this.#reads = {
      client: this.client,
      cache: new SliceCache<DecisionCounts>({ maxEntries: opts.sliceCacheEntries ?? DEFAULT_SLICE_CACHE_ENTRIES, maxBytes: opts.sliceCacheBytes ?? DEFAULT_SLICE_CACHE_BYTES }),
      inflight: new Map(),
      slices,
      now: opts.now ?? Date.now,
      telemetry: opts.telemetry ?? NO_TELEMETRY,
      ...(opts.warmMs === undefined ? {} : { warmMs: opts.warmMs }),
    }
  }

  /** The job ledger, when configured (tests and the bench). */
  get ledger (): JobLedger | undefined {
    return this.#ledger
  }

  /** The closed-slice cache (entries and estimated bytes), for tests and the bench. */
  get sliceCache (): { size: number, bytes: number } {
    return this.#reads.cache
  }

  async ready (abort: AbortSignal): Promise<void> {
    const ctx = this.#context(abort)
    try {
      await this.client.getJson('/api/v1/status', {}, this.#tenant, ctx.call)
    } finally {
      ctx.done()
    }
  }

  /** The reads these signals need that Cordum refuses the gate's key (permissions.ts). */
  async refusedReads (signals: Iterable<string>, abort: AbortSignal): Promise<Refusal[]> {
    const ctx = this.#context(abort)
    try {
      return await refusedReads(this.client, this.#tenant, readsFor(signals), ctx.call)
    } finally {
      ctx.done()
    }
  }

  async close (): Promise<void> {
    this.#ledger?.close()
    await this.client.close()
  }

  async firstSeen (req: FirstSeenRequest, abort: AbortSignal): Promise<Date | undefined> {
    const key = JSON.stringify([req.tenant, req.topic ?? null, req.agent])
    const sinceMs = req.since.getTime()
    const known = this.#firstSeen.get(key)
    if (known !== undefined && known.fromMs <= sinceMs && known.firstMs <= req.until.getTime()) {
      // Started before this window: nothing to narrow.
      return known.firstMs < sinceMs ? undefined : new Date(known.firstMs)
    }
    const ctx = this.#context(abort)
    try {
      const obs: ObservationRequest = { tenant: req.tenant, canary: req.agent, since: req.since, until: req.until, subIntervalMinutes: 5, overloadReasonCodes: [] }
      if (req.topic !== undefined) obs.topic = req.topic
      const firstMs = await firstDecisionSliced(this.#reads, obs, req.agent, ctx.call)
      if (firstMs === undefined) return undefined
      this.#firstSeen.delete(key)
      this.#firstSeen.set(key, { fromMs: sinceMs, firstMs })
      for (const oldest of this.#firstSeen.keys()) {
        if (this.#firstSeen.size <= FIRST_SEEN_ENTRIES) break
        this.#firstSeen.delete(oldest)
      }
      return new Date(firstMs)
    } finally {
      ctx.done()
    }
  }

  async observe (req: ObservationRequest, signals: SignalSpec[], abort: AbortSignal): Promise<Record<string, SignalObservation>> {
    const names = new Set(signals.map((s) => s.name))
    const arms = req.baseline === undefined || req.baseline === req.canary ? [req.canary] : [req.canary, req.baseline]
    const ctx = this.#context(abort)
    const call = ctx.call
    const needJobs = names.has('job_failure_rate') || names.has('schema_violation_rate') || names.has('overload_rate')
    const needDlq = names.has('schema_violation_rate') || names.has('overload_rate')
    try {
      const decisions = names.has('policy_deny_rate') ? forbiddenAsUnavailable(Promise.all(arms.map(async (a) => await countDecisionsSliced(this.#reads, req, a, call)))) : undefined
      const backlog = names.has('approval_backlog') ? forbiddenAsUnavailable(approvalBacklog(this.client, req, arms, call)) : undefined
      const pools = names.has('overload_rate') ? forbiddenAsUnavailable(busyPools(this.client, req, call)) : undefined
      const dlq = needDlq ? forbiddenAsUnavailable(dlqReasons(this.client, req, call, this.#maxPages)) : undefined
      const jobs = needJobs
        ? forbiddenAsUnavailable((async () => {
          const reasons = dlq === undefined ? undefined : await dlq
          const dlqCodes = reasons?.ok === true ? reasons.value : undefined
          if (this.#ledger !== undefined) {
            try {
              // A window that ended a while ago: the ledger's reads go from now back, so it
              // answers only what it already covers; the rest is walked from `until` as before.
              const past = req.until.getTime() < this.#reads.now() - PAST_WINDOW_MS
              if (!past || (await this.#ledger.coverage(req.tenant, req.since.getTime(), req.until.getTime())).share >= 1) {
                return await countJobsFromLedger(this.#ledger, req, arms, dlqCodes, call, !past)
              }
            } catch (err) {
              // The ledger's store failed, not Cordum: count what Cordum's list still holds.
              if (!(isGateError(err) && err.code === 'GATE_ERR_EVIDENCE_UNAVAILABLE')) throw err
            }
          }
          return await countJobs(this.client, req, arms, dlqCodes, call, this.#maxPages)
        })())
        : undefined
      const [d, b, p, q, j] = await Promise.all([decisions, backlog, pools, dlq, jobs])
      // Refused everywhere (e.g. the tenant is not the key's): the source as a whole failed.
      const outcomes = [d, b, q, j].filter((o) => o !== undefined)
      const refused = outcomes.find((o) => !o.ok)
      if (refused !== undefined && !refused.ok && outcomes.every((o) => !o.ok)) throw refused.error

      const out: Record<string, SignalObservation> = {}
      if (d !== undefined) out.policy_deny_rate = d.ok ? await this.#denyRate(req, d.value, call) : { unavailable: d.unavailable }
      if (b !== undefined) out.approval_backlog = backlogObservation(req, b)
      if (j !== undefined) Object.assign(out, jobSignals(req, names, j, q, p))
      for (const s of signals) {
        out[s.name] ??= { unavailable: { code: 'GATE_ERR_UPSTREAM_RESPONSE', reason: `Cordum cannot measure a signal named '${s.name}'` } }
      }
      return out
    } catch (err) {
      ctx.abort()
      throw err
    } finally {
      ctx.done()
    }
  }

  async #denyRate (req: ObservationRequest, counts: DecisionCounts[], call: CallContext): Promise<SignalObservation> {
    const [canary, baseline] = counts as [DecisionCounts, DecisionCounts | undefined]
    const obs: SignalObservation = { canary: { n: canary.decisions, k: canary.denies } }
    if (baseline !== undefined) obs.baseline = { n: baseline.decisions, k: baseline.denies }
    if (canary.decisions === 0) {
      // An empty result is not a 0% deny rate: say whether the log is empty or only this agent.
      const any = await decisionLogHasEntries(this.client, req, call)
      obs.notes = [any
        ? `Cordum's decision log has entries in this window but none with agent_id '${req.canary}': check the canary jobs' agent_id label`
        : `Cordum's decision log is empty for tenant '${req.tenant}' in this window: this install may not be writing it (see docs/cordum.md); the deny rate cannot be judged`]
    }
    return obs
  }

  /** One AbortSignal for every read of an observation: the caller's, the deadline, and our own (fail fast). */
  #context (abort: AbortSignal): { call: CallContext, abort: () => void, done: () => void } {
    const own = new AbortController()
    const deadline = Date.now() + this.#deadlineMs
    const timer = setTimeout(() => own.abort(new DOMException('deadline', 'TimeoutError')), this.#deadlineMs)
    timer.unref()
    return {
      call: { signal: AbortSignal.any([abort, own.signal]), deadline },
      abort: () => own.abort(new DOMException('a sibling read failed', 'AbortError')),
      done: () => clearTimeout(timer),
    }
  }
}

async function forbiddenAsUnavailable<T> (p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p }
  } catch (err) {
    if (isForbidden(err)) return { ok: false, unavailable: { code: err.code, reason: err.message }, error: err }
    throw err
  }
}

function window (req: ObservationRequest): string {
  return seconds((req.until.getTime() - req.since.getTime()) / 1000)
}

function coverageNotes (req: ObservationRequest, j: JobCounts): string[] {
  if (j.coverage !== undefined) return [ledgerNote(req, j.coverage)]
  if (!j.truncated) return []
  if (j.seen === 0) {
    return [`Cordum's jobs list holds no jobs of tenant '${req.tenant}' in this window (it keeps only the 1000 most recent jobs of all tenants): job counts are empty`]
  }
  const covered = seconds((req.until.getTime() - j.coveredFromMs) / 1000)
  return [`Cordum's jobs list keeps only the 1000 most recent jobs of all tenants; it reaches back to ${new Date(j.coveredFromMs).toISOString()}, so job counts cover the last ${covered} of the ${window(req)} window`]
}

/** The share of the window the job ledger covers, and each gap by its times. */
function ledgerNote (req: ObservationRequest, c: LedgerCoverage): string {
  const share = `the job ledger covers ${c.share >= 1 ? 'all' : `${(Math.floor(c.share * 1000) / 10).toFixed(1)}%`} of the ${window(req)} window`
  if (c.gaps.length === 0) return `${share}: every job outcome of tenant '${req.tenant}' in it is counted`
  const shown = c.gaps.slice(0, 3).map(([a, b]) => `${new Date(a).toISOString()} to ${new Date(b).toISOString()}`).join(', ')
  const more = c.gaps.length > 3 ? ` and ${c.gaps.length - 3} more` : ''
  return `${share}; not covered: ${shown}${more} (before the gate tracked tenant '${req.tenant}', or Cordum's 1000-job list scrolled past between two reads)`
}

function jobObservation (req: ObservationRequest, j: JobCounts, count: (c: ArmJobCounts) => RateArm): SignalObservation {
  const canary = j.arms.get(req.canary) as ArmJobCounts
  const obs: SignalObservation = { canary: count(canary) }
  const baseline = req.baseline === undefined ? undefined : j.arms.get(req.baseline)
  if (baseline !== undefined) obs.baseline = count(baseline)
  const notes = coverageNotes(req, j)
  if (notes.length > 0) obs.notes = notes
  return obs
}

function jobSignals (
  req: ObservationRequest, names: Set<string>, j: Outcome<JobCounts>, q: Outcome<Map<string, string>> | undefined, p: Outcome<PoolList> | undefined
): Record<string, SignalObservation> {
  const out: Record<string, SignalObservation> = {}
  const wanted = ['job_failure_rate', 'schema_violation_rate', 'overload_rate'].filter((n) => names.has(n))
  if (!j.ok) {
    for (const n of wanted) out[n] = { unavailable: j.unavailable }
    return out
  }
  const jobs = j.value
  if (names.has('job_failure_rate')) out.job_failure_rate = jobObservation(req, jobs, (c) => ({ n: c.succeeded + c.failed + c.timedOut, k: c.failed + c.timedOut }))
  if (names.has('schema_violation_rate')) {
    out.schema_violation_rate = q?.ok === false
      ? { unavailable: { code: q.unavailable.code, reason: `schema failure codes need Cordum's DLQ, which refused the gate's key: ${q.unavailable.reason}` } }
      : jobObservation(req, jobs, (c) => ({ n: c.succeeded + c.failed + c.timedOut + c.quarantined, k: c.quarantined + c.schemaFailed }))
  }
  if (names.has('overload_rate')) out.overload_rate = overloadObservation(req, jobs, q, p)
  return out
}

type PoolList = { name: string, utilization: number }[]

function overloadObservation (req: ObservationRequest, j: JobCounts, dlq: Outcome<Map<string, string>> | undefined, pools: Outcome<PoolList> | undefined): SignalObservation {
  if (dlq?.ok === false) {
    return { unavailable: { code: dlq.unavailable.code, reason: `overload reason codes need Cordum's DLQ, which refused the gate's key: ${dlq.unavailable.reason}` } }
  }
  const untilMs = req.until.getTime()
  const arm = (c: ArmJobCounts): RateArm => {
    const buckets = c.overload.buckets(j.coveredFromMs, untilMs)
    return { n: buckets.reduce((s, b) => s + b.n, 0), k: buckets.reduce((s, b) => s + b.k, 0), buckets }
  }
  const obs: SignalObservation = { canary: arm(j.arms.get(req.canary) as ArmJobCounts) }
  const baseline = req.baseline === undefined ? undefined : j.arms.get(req.baseline)
  if (baseline !== undefined) obs.baseline = arm(baseline)
  const notes = coverageNotes(req, j)
  if (pools?.ok === true && pools.value.length > 0) {
    notes.push(`Cordum pools at or over 90% utilization now: ${pools.value.map((p) => `${p.name} ${Math.round(p.utilization * 100)}%`).join(', ')}`)
  } else if (pools?.ok === false) {
    notes.push('pool utilization not shown: the gate\'s Cordum key may not read /api/v1/pools (admin only)')
  }
  if (notes.length > 0) obs.notes = notes
  return obs
}

function backlogObservation (req: ObservationRequest, b: Outcome<Backlog>): SignalObservation {
  if (!b.ok) return { unavailable: b.unavailable }
  const untilUs = micros(req.until)
  const arm = (name: string): { pending: number, oldestAgeSeconds: number } => {
    const a = b.value.arms.get(name) as { pending: number, oldestUpdatedUs: number | undefined }
    return { pending: a.pending, oldestAgeSeconds: a.oldestUpdatedUs === undefined ? 0 : Math.max(0, (untilUs - a.oldestUpdatedUs) / 1e6) }
  }
  const obs: SignalObservation = { canary: arm(req.canary) }
  if (req.baseline !== undefined && b.value.arms.has(req.baseline)) obs.baseline = arm(req.baseline)
  const notes: string[] = []
  if (b.value.more) notes.push('more than 500 approvals are pending in this tenant: pending counts are lower bounds (the oldest are counted)')
  if (Date.now() - req.until.getTime() > 60_000) notes.push('Cordum keeps no history of the approval queue: this is the queue as it is now, limited to approvals requested before the window\'s end')
  if (notes.length > 0) obs.notes = notes
  return obs
}
