/**
 * The job ledger: every job outcome of a tenant, past Cordum's 1000-job cap.
 *
 * Over 400 lines: the poll loop, coverage and gaps, and the in-memory store are one mechanism
 * (a poll's coverage is only right with the store it writes); the SQL stores live in evidence/.
 *
 * Cordum's `GET /api/v1/jobs` holds only the newest 1000 jobs of all tenants, so a walk back
 * from now reaches a quarter of an hour at 60 jobs a minute. The ledger reads that list often
 * enough that nothing scrolls out unseen: each poll walks from now back to where the last poll
 * began (the mark) and keeps each job once by id, with the state of its newest `updated_at`
 * (a job's `updated_at` moves as it runs, so it may be seen several times). What a poll saw
 * end to end is coverage: [mark, now] when the walk reached the mark; when the list ended
 * first (it scrolled between polls), [oldest seen, now], and the time between is a gap that
 * answers name. Coverage and jobs are stored (the evidence store's SQLite or PostgreSQL, so
 * replicas and restarts share them; in memory, bounded, without one).
 *
 * The cadence follows the observed job rate: half the time the list takes to scroll by at that
 * rate, bounded by [minIntervalMs, maxIntervalMs] (CORDUM_LEDGER_MAX_INTERVAL_SECONDS). A
 * tenant is tracked from its first question until nobody asked about it for `idleMs`.
 */
import { GateError } from '../../errors.js'
import type { CallContext, CordumClient } from './client.js'
import { PAGE_LIMIT } from './feeds.js'
import { walkPages } from './pages.js'
import { listPage, parseJob } from './wire.js'

/** One job as the ledger keeps it (times in microseconds, as Cordum's jobs list). */
export interface LedgerJob {
  id: string
  agentId: string
  topic: string
  state: string
  updatedUs: number
  attempts: number
}

/** Where the ledger keeps jobs and coverage (the evidence store implements it). */
export interface LedgerStore {
  /** Upserts by (tenant, id): a row changes only for a newer `updatedUs`. */
  putJobs (tenant: string, jobs: LedgerJob[]): Promise<void>
  /** Records that every job updated in [fromUs, untilUs] was seen. */
  addCoverage (tenant: string, fromUs: number, untilUs: number): Promise<void>
  /** Jobs of these agents updated in [sinceUs, untilUs]. */
  ledgerJobs (tenant: string, agents: string[], sinceUs: number, untilUs: number): Promise<LedgerJob[]>
  /** Coverage intervals overlapping [sinceUs, untilUs], in any order, possibly overlapping. */
  ledgerCoverage (tenant: string, sinceUs: number, untilUs: number): Promise<Array<[number, number]>>
  /** The newest covered instant of the tenant, if any (where the next poll may stop). */
  ledgerMark (tenant: string): Promise<number | undefined>
  /** Forgets jobs and coverage older than this. */
  pruneLedger (beforeUs: number): Promise<void>
}

export interface LedgerOptions {
  client: CordumClient
  store: LedgerStore
  /** Tenants tracked from the start (CORDUM_TENANT). */
  tenants?: string[]
  now?: () => number
  /** Bounds of the poll cadence (ms). */
  minIntervalMs?: number
  maxIntervalMs?: number
  /** A tenant nobody asked about for this long is no longer polled (ms). */
  idleMs?: number
  /** Jobs older than this are forgotten (ms). */
  retentionMs?: number
  /** Cordum's cap on its jobs list (1000), for the cadence. */
  listCap?: number
  /** Pages one poll may take. */
  maxPages?: number
  /** Deadline of one poll (ms). */
  deadlineMs?: number
  /** Reports each poll's requests (metrics). */
  onPoll?: (tenant: string, requests: number) => void
  /** Reports a failed poll (log); the next poll retries. */
  onError?: (tenant: string, err: unknown) => void
  /** At most this many tenants tracked at once; the least recently asked goes. */
  maxTenants?: number
  /** Poll in the background (default true); false: only on demand (tests, the bench). */
  background?: boolean
  /**
   * Warming (CORDUM_WARM_SECONDS): a poll's budget (ms) when longer than `deadlineMs`; a request
   * that stops waiting at its deadline then says how far the poll got, and the poll goes on.
   */
  warmMs?: number
}

export const DEFAULT_LEDGER_MAX_INTERVAL_MS = 60_000
const DEFAULT_MIN_INTERVAL_MS = 2_000
const DEFAULT_IDLE_MS = 3_600_000
export const DEFAULT_LEDGER_RETENTION_MS = 72 * 3_600_000
const DEFAULT_LIST_CAP = 1_000
const DEFAULT_MAX_TENANTS = 1_000
const FLUSH_JOBS = 5_000

interface Tracked {
  askedAt: number
  /** Where the last poll began (µs): the next stops there. */
  mark?: number
  timer?: NodeJS.Timeout
  polling?: Promise<void>
  /** When the last poll began (ms). */
  polledAt?: number
  /** Jobs per ms observed by the last poll, for the cadence. */
  rate?: number
  /** Jobs and pages the poll under way has read so far (warming progress). */
  read?: number
  pages?: number
}

/** What the ledger knows of a window: covered share, gaps, and the start of the covered run reaching its end. */
export interface LedgerCoverage {
  /** Share of [since, until] covered, 0..1. */
  share: number
  /** Uncovered stretches, oldest first (ms). */
  gaps: Array<[number, number]>
  /** Start (ms) of the covered stretch that reaches `until`, or `until` when none does. */
  coveredFromMs: number
}

export class JobLedger {
  readonly #o: Required<Omit<LedgerOptions, 'tenants' | 'onPoll' | 'onError'>> & Pick<LedgerOptions, 'onPoll' | 'onError'>
  readonly #tracked = new Map<string, Tracked>()
  #closed = false
  #lastPrune = 0

  constructor (opts: LedgerOptions) {
    this.#o = {
      client: opts.client,
      store: opts.store,
      now: opts.now ?? Date.now,
      minIntervalMs: opts.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS,
      maxIntervalMs: opts.maxIntervalMs ?? DEFAULT_LEDGER_MAX_INTERVAL_MS,
      idleMs: opts.idleMs ?? DEFAULT_IDLE_MS,
      retentionMs: opts.retentionMs ?? DEFAULT_LEDGER_RETENTION_MS,
      listCap: opts.listCap ?? DEFAULT_LIST_CAP,
      maxPages: opts.maxPages ?? 50,
      deadlineMs: opts.deadlineMs ?? 8_000,
      maxTenants: opts.maxTenants ?? DEFAULT_MAX_TENANTS,
      background: opts.background ?? true,
      warmMs: opts.warmMs ?? 0,
      onPoll: opts.onPoll,
      onError: opts.onError,
    }
    if (!(this.#o.maxIntervalMs >= this.#o.minIntervalMs)) throw new Error(`the ledger's longest poll interval must be at least ${this.#o.minIntervalMs} ms`)
    for (const t of opts.tenants ?? []) this.track(t)
  }

  /** Tenants polled now. */
  get tenants (): string[] {
    return [...this.#tracked.keys()]
  }

  /** The wait before a tenant's next background poll (ms), from the job rate its last poll saw. */
  intervalMs (tenant: string): number | undefined {
    const t = this.#tracked.get(tenant)
    return t === undefined ? undefined : this.#interval(t)
  }

  /** Starts (or keeps) polling a tenant: it was just asked about. */
  track (tenant: string): void {
    if (this.#closed) return
    const t = this.#tracked.get(tenant)
    if (t !== undefined) {
      t.askedAt = this.#o.now()
      this.#tracked.delete(tenant)
      this.#tracked.set(tenant, t)
      return
    }
    this.#tracked.set(tenant, { askedAt: this.#o.now() })
    for (const [oldest, o] of this.#tracked) {
      if (this.#tracked.size <= this.#o.maxTenants) break
      clearTimeout(o.timer)
      this.#tracked.delete(oldest)
    }
    this.#schedule(tenant, 0)
  }

  /**
   * Polls now unless a poll began at or after `untilMs` (then what it saw reaches the window's
   * end); concurrent callers share one poll per tenant.
   */
  async refresh (tenant: string, sinceMs: number, untilMs: number, ctx?: CallContext): Promise<void> {
    this.track(tenant)
    const t = this.#tracked.get(tenant)
    if (t === undefined) return
    if (t.polledAt !== undefined && t.polledAt >= untilMs) return
    const poll = this.#poll(tenant, t, sinceMs)
    if (ctx === undefined) return await poll
    // The poll runs under its own budget (shared with other callers); this request stops
    // waiting at its own deadline or cancellation.
    let onAbort: (() => void) | undefined
    const cancelled = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(this.#stopped(ctx.signal, t))
      if (ctx.signal.aborted) onAbort()
      else ctx.signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      await Promise.race([poll, cancelled])
    } finally {
      if (onAbort !== undefined) ctx.signal.removeEventListener('abort', onAbort)
    }
  }

  /** Why a request stopped waiting for a poll: its deadline (warming, with progress, when the poll goes on) or its cancellation. */
  #stopped (signal: AbortSignal, t: Tracked): GateError {
    if ((signal.reason as { name?: string } | undefined)?.name !== 'TimeoutError') {
      return new GateError('GATE_ERR_UNAVAILABLE', 'GET /api/v1/jobs to Cordum was cancelled: the request that needed it has ended', { source: 'cordum' })
    }
    // Warming only while Cordum answers: a poll that has read no page yet may be an outage.
    const details = this.#o.warmMs > this.#o.deadlineMs && (t.pages ?? 0) > 0 ? { details: { warming: { done: t.read ?? 0 } } } : {}
    return new GateError('GATE_ERR_UPSTREAM_TIMEOUT', `Cordum's jobs list is still being read by the job ledger: ${t.read ?? 0} jobs so far`, { source: 'cordum', ...details })
  }

  /** What the stored coverage says of [sinceMs, untilMs]. */
  async coverage (tenant: string, sinceMs: number, untilMs: number): Promise<LedgerCoverage> {
    const intervals = await this.#o.store.ledgerCoverage(tenant, sinceMs * 1000, untilMs * 1000)
    return coverageOf(intervals.map(([a, b]) => [Math.floor(a / 1000), Math.floor(b / 1000)]), sinceMs, untilMs)
  }

  async jobs (tenant: string, agents: string[], sinceMs: number, untilMs: number): Promise<LedgerJob[]> {
    return await this.#o.store.ledgerJobs(tenant, agents, sinceMs * 1000, untilMs * 1000 + 999)
  }

  close (): void {
    this.#closed = true
    for (const t of this.#tracked.values()) clearTimeout(t.timer)
    this.#tracked.clear()
  }

  #schedule (tenant: string, delayMs: number): void {
    const t = this.#tracked.get(tenant)
    if (t === undefined || this.#closed || !this.#o.background) return
    clearTimeout(t.timer)
    t.timer = setTimeout(() => {
      const now = this.#o.now()
      if (now - t.askedAt > this.#o.idleMs) {
        this.#tracked.delete(tenant)
        return
      }
      this.#poll(tenant, t).catch(() => { /* reported by onError; the next poll retries */ }).finally(() => this.#schedule(tenant, this.#interval(t)))
    }, delayMs)
    t.timer.unref()
  }

  /** Half the time Cordum's list takes to scroll by at the observed rate, within the bounds. */
  #interval (t: Tracked): number {
    const scrollMs = t.rate === undefined || t.rate <= 0 ? Infinity : this.#o.listCap / t.rate
    return Math.max(this.#o.minIntervalMs, Math.min(this.#o.maxIntervalMs, scrollMs / 2))
  }

  async #poll (tenant: string, t: Tracked, sinceMs?: number): Promise<void> {
    t.polling ??= this.#walk(tenant, t, sinceMs).finally(() => { t.polling = undefined })
    await t.polling
  }

  /**
   * One poll: from now back to the mark, or on a tenant's first poll back to `sinceMs` (the
   * window asked about) or the retention, whichever the list reaches first.
   */
  async #walk (tenant: string, t: Tracked, sinceMs?: number): Promise<void> {
    const startedMs = this.#o.now()
    const startUs = startedMs * 1000
    const budget = Math.max(this.#o.deadlineMs, this.#o.warmMs)
    const ctx: CallContext = { signal: AbortSignal.timeout(budget), deadline: Date.now() + budget }
    t.read = 0
    t.pages = 0
    let requests = 0
    try {
      t.mark ??= await this.#o.store.ledgerMark(tenant)
      const mark = t.mark ?? (sinceMs ?? startedMs - this.#o.retentionMs) * 1000
      let oldest = Infinity
      let seen = 0
      let reachedMark = false
      const batch: LedgerJob[] = []
      const pages = walkPages(async (cursor) => {
        requests++
        const page = listPage(await this.#o.client.getJson('/api/v1/jobs', { limit: PAGE_LIMIT, cursor: cursor ?? startUs }, tenant, ctx), 'GET /api/v1/jobs', parseJob, 'number')
        t.pages = (t.pages ?? 0) + 1
        const low = page.items.reduce((min, j) => Math.min(min, j.updated_at), Infinity)
        const done = page.items.length === 0 || low < mark
        return { items: page.items, next: done ? null : low - 1 }
      }, { what: 'GET /api/v1/jobs', maxPages: this.#o.maxPages, setting: 'CORDUM_MAX_PAGES' })
      for await (const items of pages) {
        for (const j of items) {
          if (j.updated_at > startUs) continue
          oldest = Math.min(oldest, j.updated_at)
          if (j.updated_at < mark) { reachedMark = true; continue }
          seen++
          t.read = seen
          batch.push({ id: j.id, agentId: j.agent_id, topic: j.topic, state: j.state, updatedUs: j.updated_at, attempts: j.attempts })
        }
        // Written as it goes, so a long first walk holds a few pages, not the list.
        if (batch.length >= FLUSH_JOBS) await this.#o.store.putJobs(tenant, batch.splice(0))
      }
      await this.#o.store.putJobs(tenant, batch)
      // Every job updated in [from, start] was on the list this poll walked.
      const from = reachedMark ? mark : oldest === Infinity ? startUs : oldest
      await this.#o.store.addCoverage(tenant, from, startUs)
      t.rate = seen / Math.max(1, startedMs - Math.floor(from / 1000))
      t.mark = startUs
      t.polledAt = startedMs
      if (startedMs - this.#lastPrune > 600_000) {
        this.#lastPrune = startedMs
        await this.#o.store.pruneLedger((startedMs - this.#o.retentionMs) * 1000)
      }
    } catch (err) {
      this.#o.onError?.(tenant, err)
      throw err instanceof GateError ? err : new GateError('GATE_ERR_UPSTREAM_RESPONSE', `the job ledger could not read Cordum's jobs list: ${(err as Error).message}`, { source: 'cordum', cause: err })
    } finally {
      this.#o.onPoll?.(tenant, requests)
    }
  }
}

/** Merges intervals (ms, inclusive) and measures what they cover of [since, until]. */
export function coverageOf (intervals: Array<[number, number]>, sinceMs: number, untilMs: number): LedgerCoverage {
  const merged: Array<[number, number]> = []
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    const lo = Math.max(a, sinceMs)
    const hi = Math.min(b, untilMs)
    if (hi < lo) continue
    const last = merged[merged.length - 1]
    // Touching intervals (a poll's coverage starts where the last one began) join.
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi)
    else merged.push([lo, hi])
  }
  const gaps: Array<[number, number]> = []
  let at = sinceMs
  let covered = 0
  for (const [a, b] of merged) {
    if (a > at) gaps.push([at, a])
    covered += b - a
    at = Math.max(at, b)
  }
  if (at < untilMs) gaps.push([at, untilMs])
  const span = untilMs - sinceMs
  const last = merged[merged.length - 1]
  return { share: span <= 0 ? 1 : Math.min(1, covered / span), gaps, coveredFromMs: last !== undefined && last[1] >= untilMs ? last[0] : untilMs }
}

/** A bounded in-memory LedgerStore, for a gate without an evidence store (and tests). */
export class MemoryLedgerStore implements LedgerStore {
  readonly #jobs = new Map<string, Map<string, LedgerJob>>()
  readonly #coverage = new Map<string, Array<[number, number]>>()
  readonly #maxJobs: number
  #size = 0

  constructor (maxJobs = 500_000) {
    this.#maxJobs = maxJobs
  }

  async putJobs (tenant: string, jobs: LedgerJob[]): Promise<void> {
    let m = this.#jobs.get(tenant)
    if (m === undefined) this.#jobs.set(tenant, m = new Map())
    for (const j of jobs) {
      const old = m.get(j.id)
      if (old !== undefined && old.updatedUs > j.updatedUs) continue
      if (old === undefined) this.#size++
      m.set(j.id, j)
    }
    if (this.#size > this.#maxJobs) this.#evict()
  }

  async addCoverage (tenant: string, fromUs: number, untilUs: number): Promise<void> {
    const c = this.#coverage.get(tenant) ?? []
    c.push([fromUs, untilUs])
    this.#coverage.set(tenant, mergeUs(c))
  }

  async ledgerJobs (tenant: string, agents: string[], sinceUs: number, untilUs: number): Promise<LedgerJob[]> {
    const want = new Set(agents)
    return [...(this.#jobs.get(tenant)?.values() ?? [])].filter((j) => want.has(j.agentId) && j.updatedUs >= sinceUs && j.updatedUs <= untilUs)
  }

  async ledgerCoverage (tenant: string, sinceUs: number, untilUs: number): Promise<Array<[number, number]>> {
    return (this.#coverage.get(tenant) ?? []).filter(([a, b]) => b >= sinceUs && a <= untilUs)
  }

  async ledgerMark (tenant: string): Promise<number | undefined> {
    const c = this.#coverage.get(tenant)
    return c === undefined || c.length === 0 ? undefined : Math.max(...c.map(([, b]) => b))
  }

  async pruneLedger (beforeUs: number): Promise<void> {
    for (const [tenant, m] of this.#jobs) {
      for (const [id, j] of m) if (j.updatedUs < beforeUs) { m.delete(id); this.#size-- }
      this.#trim(tenant, beforeUs)
    }
  }

  /** Over the bound: the oldest tenth of all jobs goes, and coverage before them with it. */
  #evict (): void {
    const all = [...this.#jobs.values()].flatMap((m) => [...m.values()].map((j) => j.updatedUs)).sort((a, b) => a - b)
    const cut = all[Math.floor(all.length / 10)] ?? 0
    for (const [tenant, m] of this.#jobs) {
      for (const [id, j] of m) if (j.updatedUs < cut) { m.delete(id); this.#size-- }
      this.#trim(tenant, cut)
    }
  }

  #trim (tenant: string, beforeUs: number): void {
    const c = this.#coverage.get(tenant)
    if (c === undefined) return
    this.#coverage.set(tenant, c.filter(([, b]) => b >= beforeUs).map(([a, b]) => [Math.max(a, beforeUs), b]))
  }
}

function mergeUs (intervals: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1]
    if (last !== undefined && a <= last[1] + 1) last[1] = Math.max(last[1], b)
    else out.push([a, b])
  }
  return out
}
