/**
 * Time-sliced reads of Cordum's decision log, and the cache of closed slices.
 *
 * A window [since, until] is cut at fixed boundaries (multiples of the slice length since the
 * epoch), so two measurements of a growing window share every slice but the last few. Each
 * slice is walked with its own cursor, concurrently with the others (the client's limiter
 * bounds what actually goes out), and is reduced to counts as its pages arrive: nothing holds
 * a window's items.
 *
 * A slice that ended more than a safety margin ago is closed: Cordum's decision records are
 * immutable once written, and the margin covers records written late (the scheduler appends
 * them after the policy check, and a backfill may lag). A closed slice's counts are cached;
 * open slices are always read. Errors are never cached, and a failure of any slice fails the
 * whole count (no partial counts): the other slices are cancelled.
 *
 * Bounds. Cordum's `since` and `until` are both inclusive, in milliseconds
 * (`matchesDecisionQuery`: `Timestamp < Since || Timestamp > Until` is out). A slice is the
 * half-open [start, end) and is asked for as since=start, until=end-1ms, so a record exactly on
 * a boundary belongs to exactly one slice; the window's last slice ends at until+1ms, so the
 * sliced window is exactly the unsliced [since, until].
 */
import { setMaxListeners } from 'node:events'
import { canonicalJson } from '../../canonical-json.js'
import { GateError } from '../../errors.js'
import type { Telemetry } from '../../telemetry.js'
import type { ObservationRequest } from '../source.js'
import type { CallContext, CordumClient } from './client.js'
import { countDecisions, firstDecision, PAGE_LIMIT, type DecisionCounts } from './feeds.js'
import { DEFAULT_SLICE_MARGIN_SECONDS } from '../../config/settings.js'

export interface SliceOptions {
  /** Slice lengths to choose from (ms), ascending, each a whole multiple of the one before. */
  ladderMs: number[]
  /** A window is cut into at most this many slices: the shortest length that keeps under it is used. */
  maxPerWindow: number
  /** A slice is closed (cacheable) once it ended at least this long ago (ms). */
  marginMs: number
}

const MINUTE = 60_000

export const DEFAULT_SLICES: SliceOptions = {
  // Multiples of each other, so a slice of one length is a whole number of the next shorter
  // and can be put together from them when a growing window moves up the ladder.
  ladderMs: [MINUTE, 5 * MINUTE, 15 * MINUTE, 60 * MINUTE, 6 * 60 * MINUTE, 24 * 60 * MINUTE],
  maxPerWindow: 24,
  marginMs: DEFAULT_SLICE_MARGIN_SECONDS * 1000,
}

/** [start, end) in epoch ms; `closed` when it ended at least the margin before now. */
export interface Slice {
  start: number
  end: number
  closed: boolean
  /** Index in the ladder of the length this slice was cut with. */
  level: number
}

/** Checks a ladder: ascending positive whole milliseconds, each a multiple of the one before. */
export function checkLadder (ladderMs: number[]): void {
  if (ladderMs.length === 0) throw new Error('the slice ladder needs at least one length')
  ladderMs.forEach((l, i) => {
    if (!Number.isInteger(l) || l <= 0) throw new Error(`slice lengths must be positive whole milliseconds, got ${l}`)
    const before = ladderMs[i - 1]
    if (before !== undefined && (l <= before || l % before !== 0)) throw new Error(`slice length ${l} must be a multiple of ${before} and longer`)
  })
}

/** The ladder level used for a window of `spanMs`: the shortest length giving at most maxPerWindow slices. */
export function sliceLevel (spanMs: number, opts: SliceOptions): number {
  for (let i = 0; i < opts.ladderMs.length; i++) {
    if (Math.ceil(spanMs / (opts.ladderMs[i] as number)) <= opts.maxPerWindow) return i
  }
  return opts.ladderMs.length - 1
}

/** Cuts [start, end) at multiples of `length` since the epoch. */
export function cut (start: number, end: number, length: number): { start: number, end: number }[] {
  const out: { start: number, end: number }[] = []
  for (let s = start; s < end;) {
    const next = Math.min(end, (Math.floor(s / length) + 1) * length)
    out.push({ start: s, end: next })
    s = next
  }
  return out
}

/**
 * The slices of the inclusive window [sinceMs, untilMs], oldest first. The window is cut at
 * the level `sliceLevel` picks; a slice that straddles the closing line (now - margin) is cut
 * again at the next shorter length, down the ladder, so what stays open (read every time) is
 * at most one shortest slice plus the margin, while old data comes in few, long slices. The
 * short closed slices cached near the line later make up the long slice that contains them.
 */
export function planSlices (sinceMs: number, untilMs: number, nowMs: number, opts: SliceOptions): Slice[] {
  if (untilMs < sinceMs) return []
  const closeBy = nowMs - opts.marginMs
  const out: Slice[] = []
  const add = (start: number, end: number, level: number): void => {
    for (const s of cut(start, end, opts.ladderMs[level] as number)) {
      const closed = s.end <= closeBy
      if (!closed && level > 0 && s.start < closeBy) add(s.start, s.end, level - 1)
      else out.push({ ...s, level, closed })
    }
  }
  add(sinceMs, untilMs + 1, sliceLevel(untilMs - sinceMs, opts))
  // Two kinds of last slice join the one before: one of a single millisecond (an `until`
  // exactly on a boundary), a request for almost nothing; and one starting after now (an
  // `until` a little ahead, within the service's clock-skew slack), which a gateway that
  // clamps `until` to its own now would refuse as until < since. Both are open and read anyway,
  // so the odd bounds cost no cache sharing.
  for (;;) {
    const last = out[out.length - 1]
    const before = out[out.length - 2]
    if (last === undefined || before === undefined || !(last.end - last.start === 1 || last.start > nowMs)) break
    out.splice(-2, 2, { start: before.start, end: last.end, level: before.level, closed: last.end <= closeBy })
  }
  return out
}

/**
 * Counts of closed slices, least recently used first out, bounded by entries and by an
 * estimate of the bytes they hold (key text plus a fixed overhead per entry and value field).
 */
export class SliceCache<V extends object> {
  readonly #entries = new Map<string, { value: V, bytes: number }>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  #bytes = 0

  constructor (opts: { maxEntries: number, maxBytes: number }) {
    this.#maxEntries = opts.maxEntries
    this.#maxBytes = opts.maxBytes
  }

  get size (): number {
    return this.#entries.size
  }

  /** Estimated bytes held. */
  get bytes (): number {
    return this.#bytes
  }

  get (key: string): V | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    // Map order is the LRU order: a hit moves the entry to the young end.
    this.#entries.delete(key)
    this.#entries.set(key, e)
    return e.value
  }

  set (key: string, value: V): void {
    const bytes = entryBytes(key, value)
    if (bytes > this.#maxBytes || this.#maxEntries === 0) return
    const old = this.#entries.get(key)
    if (old !== undefined) {
      this.#bytes -= old.bytes
      this.#entries.delete(key)
    }
    this.#entries.set(key, { value: { ...value }, bytes })
    this.#bytes += bytes
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break
      this.#entries.delete(k)
      this.#bytes -= e.bytes
    }
  }

  clear (): void {
    this.#entries.clear()
    this.#bytes = 0
  }
}

/** A rough size of one entry: UTF-16 key, a Map entry and object overhead, 8 bytes a number. */
function entryBytes (key: string, value: object): number {
  return 2 * key.length + 96 + 32 * Object.keys(value).length
}

export interface SlicedReads {
  client: CordumClient
  cache: SliceCache<DecisionCounts>
  /**
   * Closed slices being fetched now, by cache key: an observation needing one joins the fetch
   * instead of repeating it (many canaries compared with one baseline ask for the same slices).
   */
  inflight: Map<string, Promise<DecisionCounts>>
  slices: SliceOptions
  now: () => number
  telemetry: Telemetry
  /**
   * Warming (CORDUM_WARM_SECONDS): closed slices are fetched under this budget (ms) rather than
   * the request's, so a cold window too large for one request's deadline fills the cache over
   * a few requests; the request that times out says how far it got. Undefined: no warming.
   */
  warmMs?: number
}

const DECISIONS = '/api/v1/governance/decisions'

/**
 * Pages one slice may take (500000 decisions). Higher than a whole walk's 200: the slice
 * length is chosen from the window's span, not its density, so a short window over a very busy
 * agent puts many pages in each slice; the deadline still bounds the time, and a repeating
 * cursor is still caught.
 */
export const SLICE_MAX_PAGES = 1_000

function decisionKey (req: ObservationRequest, agentId: string | undefined, start: number, end: number): string {
  return canonicalJson([req.tenant, DECISIONS, agentId ?? null, req.topic ?? null, start, end])
}

/**
 * A closed slice's counts from the cache: the slice itself, or, when the window has moved up
 * the ladder since, the shorter slices it is made of (all of which must be cached).
 */
function cachedDecisions (r: SlicedReads, req: ObservationRequest, agentId: string | undefined, start: number, end: number, level: number): DecisionCounts | undefined {
  const key = decisionKey(req, agentId, start, end)
  const hit = r.cache.get(key)
  if (hit !== undefined || level === 0) return hit
  const sum: DecisionCounts = { decisions: 0, denies: 0 }
  for (const part of cut(start, end, r.slices.ladderMs[level - 1] as number)) {
    const c = cachedDecisions(r, req, agentId, part.start, part.end, level - 1)
    if (c === undefined) return undefined
    sum.decisions += c.decisions
    sum.denies += c.denies
  }
  r.cache.set(key, sum)
  return sum
}

/**
 * The decisions of one agent in the window, read slice by slice (closed slices from the cache)
 * and summed. Equal to countDecisions over the whole window; fails as a whole if any slice fails.
 */
export async function countDecisionsSliced (r: SlicedReads, req: ObservationRequest, agentId: string | undefined, ctx: CallContext): Promise<DecisionCounts> {
  const parts = await sliceCounts(r, req, agentId, ctx)
  return parts.reduce((sum, p) => ({ decisions: sum.decisions + p.counts.decisions, denies: sum.denies + p.counts.denies }), { decisions: 0, denies: 0 })
}

/**
 * The time (ms) of the agent's first decision in the window, or undefined when it has none:
 * the window's slice counts (closed ones from the cache, shared with the deny-rate reads)
 * name the first slice holding any, and only that slice is walked for its oldest record.
 */
export async function firstDecisionSliced (r: SlicedReads, req: ObservationRequest, agentId: string, ctx: CallContext): Promise<number | undefined> {
  const parts = await sliceCounts(r, req, agentId, ctx)
  const first = parts.find((p) => p.counts.decisions > 0)
  if (first === undefined) return undefined
  return await firstDecision(r.client, { ...req, since: new Date(first.slice.start), until: new Date(first.slice.end - 1) }, agentId, ctx, SLICE_MAX_PAGES)
}

/** The counts of each slice of the window, oldest first. */
async function sliceCounts (r: SlicedReads, req: ObservationRequest, agentId: string | undefined, ctx: CallContext): Promise<{ slice: Slice, counts: DecisionCounts }[]> {
  const slices = planSlices(req.since.getTime(), req.until.getTime(), r.now(), r.slices)
  // Our own abort, so the first failing slice stops its siblings rather than letting them run on.
  const siblings = new AbortController()
  const sub: CallContext = { signal: AbortSignal.any([ctx.signal, siblings.signal]), deadline: ctx.deadline }
  // Every slice's request (and its wait for a slot) listens on this signal: many listeners are expected.
  setMaxListeners(2 * slices.length + 10, sub.signal)
  // Pages Cordum answered for this request's fetches: warming needs Cordum to be answering.
  let pages = 0
  try {
    const parts = await Promise.all(slices.map(async (s) => {
      const fetch = async (): Promise<DecisionCounts> => await countDecisions(r.client, { ...req, since: new Date(s.start), until: new Date(s.end - 1) }, agentId, sub, PAGE_LIMIT, SLICE_MAX_PAGES)
      if (!s.closed) return await fetch()
      const hit = cachedDecisions(r, req, agentId, s.start, s.end, s.level)
      if (hit !== undefined) {
        r.telemetry.sliceCache('cordum', DECISIONS, 'hit')
        return hit
      }
      const key = decisionKey(req, agentId, s.start, s.end)
      const pending = r.inflight.get(key)
      if (pending !== undefined) {
        r.telemetry.sliceCache('cordum', DECISIONS, 'shared')
        const joined = await join(pending, sub.signal)
        if (joined !== undefined) return joined
      }
      r.telemetry.sliceCache('cordum', DECISIONS, 'miss')
      // Warming: a closed slice is fetched under its own budget, so it lands in the cache even
      // when this request stops waiting at its deadline (a sibling's failure still stops it).
      const own = r.warmMs === undefined ? sub : warmContext(r.warmMs, siblings.signal)
      const fetching = countDecisions(r.client, { ...req, since: new Date(s.start), until: new Date(s.end - 1) }, agentId, own, PAGE_LIMIT, SLICE_MAX_PAGES, () => { pages++ }).then((counts) => {
        r.cache.set(key, counts)
        return counts
      })
      r.inflight.set(key, fetching)
      // Gone once settled, failed or not: errors are never kept.
      const settled = (): void => { if (r.inflight.get(key) === fetching) r.inflight.delete(key) }
      fetching.then(settled, settled)
      return r.warmMs === undefined ? await fetching : await waitFor(fetching, sub.signal)
    }))
    return parts.map((counts, i) => ({ slice: slices[i] as Slice, counts }))
  } catch (err) {
    const timedOut = (ctx.signal.reason as { name?: string } | undefined)?.name === 'TimeoutError'
    if (r.warmMs !== undefined && timedOut && pages > 0) {
      // The deadline while Cordum answers, not a failure: say how far the closed slices are,
      // and let them go on. A Cordum that answered nothing is a plain timeout (an outage).
      const closed = slices.filter((s) => s.closed)
      const done = closed.filter((s) => cachedDecisions(r, req, agentId, s.start, s.end, s.level) !== undefined).length
      throw new GateError('GATE_ERR_UPSTREAM_TIMEOUT', `Cordum's decision log is still being read: ${done} of ${slices.length} time slices of agent '${agentId ?? 'all'}' counted`, { source: 'cordum', details: { warming: { done, total: slices.length } } })
    }
    siblings.abort(new DOMException('a sibling slice failed', 'AbortError'))
    throw err
  }
}

/** The context of a slice fetched to warm the cache: its own deadline, and the siblings' failure. */
function warmContext (warmMs: number, siblings: AbortSignal): CallContext {
  return { signal: AbortSignal.any([siblings, AbortSignal.timeout(warmMs)]), deadline: Date.now() + warmMs }
}

/** The fetch's result, or its failure; the caller's cancellation ends the wait only. */
async function waitFor<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: (() => void) | undefined
  const cancelled = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(cancellation(signal))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, cancelled])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The counts of a fetch another observation started, or undefined when it failed: that fetch
 * ran under the other observation's deadline and cancellation, so its failure says little about
 * ours, and the caller then fetches the slice itself. Our own cancellation still ends the wait.
 */
async function join (pending: Promise<DecisionCounts>, signal: AbortSignal): Promise<DecisionCounts | undefined> {
  return await waitFor(pending.catch(() => undefined), signal)
}

/** Why a wait ended, in the client's terms: the deadline, or the request that needed it went away. */
function cancellation (signal: AbortSignal): GateError {
  const what = `GET ${DECISIONS}`
  if ((signal.reason as { name?: string } | undefined)?.name === 'TimeoutError') {
    return new GateError('GATE_ERR_UPSTREAM_TIMEOUT', `Cordum did not answer ${what} within the gate's deadline`, { source: 'cordum' })
  }
  return new GateError('GATE_ERR_UNAVAILABLE', `${what} to Cordum was cancelled: the request that needed it has ended`, { source: 'cordum' })
}
