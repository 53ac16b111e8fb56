/**
 * Time-sliced reads of Cordum's decision log, over real loopback HTTP: sliced counts equal the
 * unsliced walk (records on slice boundaries included), closed slices are cached and never
 * read again, open ones always are, the cache is bounded, the per-gateway limiter holds, and a
 * failing or cancelled slice fails the whole observation without caching anything.
 */
import fc from 'fast-check'
import t from 'tap'
import { GateError } from '../../src/errors.js'
import { readConfig } from '../../src/config/env.js'
import { AGENTS } from '../../src/sandbox/scenarios.js'
import { CordumClient } from '../../src/sources/cordum/client.js'
import { countDecisions, type DecisionCounts } from '../../src/sources/cordum/feeds.js'
import { Limiter } from '../../src/sources/limiter.js'
import { countDecisionsSliced, cut, DEFAULT_SLICES, planSlices, SLICE_MAX_PAGES, SliceCache, type SlicedReads, type SliceOptions } from '../../src/sources/cordum/slices.js'
import { CordumSource } from '../../src/sources/cordum/source.js'
import { NO_TELEMETRY } from '../../src/telemetry.js'
import { decisionLog, expected, type Decision, type DecisionLog } from '../helpers/decision-log.js'
import { assertProperty } from '../helpers/property.js'
import { call, request, SANDBOX_ADMIN_KEY, sandboxFor, specs, T0 } from '../helpers/sandbox.js'
import { RecordingTelemetry } from '../helpers/telemetry.js'
import { failure } from '../helpers/failure.js'
import { eventually } from '../helpers/order.js'

type Teardown = { teardown: (fn: () => unknown) => void }

/** A whole multiple of a day, so every default slice length divides it. */
const BASE = Date.UTC(2026, 10, 20)
const HOUR = 3600_000

async function server (t: Teardown, data: Decision[], opts: Parameters<typeof decisionLog>[1] = {}): Promise<DecisionLog> {
  const log = await decisionLog(data, opts)
  t.teardown(log.close)
  return log
}

function source (t: Teardown, url: string, opts: Partial<ConstructorParameters<typeof CordumSource>[0]> = {}): CordumSource {
  const s = new CordumSource({ url, maxRetries: 0, ...opts })
  t.teardown(async () => await s.close())
  return s
}

function reads (client: CordumClient, now: number, slices: SliceOptions = DEFAULT_SLICES, cache = new SliceCache<DecisionCounts>({ maxEntries: 10_000, maxBytes: 1 << 24 })): SlicedReads {
  return { client, cache, inflight: new Map(), slices, now: () => now, telemetry: NO_TELEMETRY }
}

/** One decision every `everyMs` for `agent` over [from, to), every 20th a deny. */
function steady (agent: string, from: number, to: number, everyMs: number): Decision[] {
  const out: Decision[] = []
  for (let i = 0, at = from; at < to; i++, at += everyMs) out.push({ t: at, id: `${agent}-${i}`, agent, verdict: i % 20 === 0 ? 'deny' : 'allow' })
  return out
}

const window = (since: number, until: number): { since: Date, until: Date } => ({ since: new Date(since), until: new Date(until) })

t.test('planning: aligned cuts, the window exactly covered, the open tail cut short', async (t) => {
  t.same(cut(1_500, 7_000, 2_000), [{ start: 1_500, end: 2_000 }, { start: 2_000, end: 4_000 }, { start: 4_000, end: 6_000 }, { start: 6_000, end: 7_000 }])
  const opts: SliceOptions = { ladderMs: [60_000, 300_000, 900_000], maxPerWindow: 4, marginMs: 120_000 }
  const since = BASE + 7 * 60_000
  const until = BASE + 60 * 60_000 - 1
  const now = BASE + 50 * 60_000 + 30_000
  const slices = planSlices(since, until, now, opts)
  t.equal(slices[0]?.start, since, 'starts at since')
  t.equal(slices[slices.length - 1]?.end, until + 1, 'ends just after until: until is inclusive')
  for (let i = 1; i < slices.length; i++) t.equal(slices[i]?.start, slices[i - 1]?.end, `slice ${i} follows on`)
  for (const s of slices) {
    t.equal(s.end <= now - opts.marginMs, s.closed, `[${s.start - BASE}, ${s.end - BASE}) closed iff it ended a margin ago`)
    if (s.end !== until + 1) t.equal(s.end % (opts.ladderMs[s.level] as number), 0, 'ends on a boundary of its length')
  }
  t.same(slices.filter((s) => !s.closed).map((s) => [s.start - BASE, s.end - BASE, s.level]), [[48 * 60_000, 49 * 60_000, 0], [49 * 60_000, 50 * 60_000, 0], [50 * 60_000, 60 * 60_000, 1]],
    'only the short slices at the closing line and after it stay open (the one after now joins the one holding now)')
  t.ok(slices.filter((s) => s.closed && s.level === 2).length >= 2, 'old data comes in long slices')
  const ahead = planSlices(BASE, BASE + HOUR + 50_000, BASE + HOUR + 5_000, DEFAULT_SLICES)
  t.ok(ahead.every((s) => s.start <= BASE + HOUR + 5_000), 'no slice starts after now (an until ahead of the clock joins the slice holding now)')
  t.equal(ahead[ahead.length - 1]?.end, BASE + HOUR + 50_001)
  const onBoundary = planSlices(BASE, BASE + 6 * HOUR, BASE + 10 * HOUR, DEFAULT_SLICES)
  t.equal(onBoundary.length, 24, 'a 6 h window is 24 slices of 15 minutes')
  t.same(onBoundary[23], { start: BASE + 6 * HOUR - 15 * 60_000, end: BASE + 6 * HOUR + 1, level: 2, closed: true }, 'an until on a boundary (inclusive) joins the last slice, no 1 ms slice of its own')
})

t.test('sliced counts equal the unsliced walk, records on slice boundaries included (property)', async (t) => {
  const log = await server(t, [], { maxLimit: 3 })
  const client = new CordumClient({ url: log.url, maxRetries: 0 })
  t.teardown(async () => await client.close())
  const ladder = [1_000, 5_000, 15_000]
  // Offsets from BASE: anywhere, or exactly on (or next to) a boundary of every ladder length.
  const offset = fc.oneof(
    fc.integer({ min: 0, max: 100_000 }),
    fc.integer({ min: 0, max: 100 }).map((k) => k * 1_000),
    fc.tuple(fc.integer({ min: 1, max: 100 }), fc.constantFrom(-1, 1)).map(([k, d]) => k * 1_000 + d)
  )
  const record = fc.record({ at: offset, agent: fc.constantFrom('a', 'b'), deny: fc.boolean() })
  let runs = 0
  await assertProperty(fc.asyncProperty(
    fc.array(record, { maxLength: 60 }), offset, fc.integer({ min: 0, max: 90_000 }), fc.integer({ min: 0, max: 200_000 }),
    fc.integer({ min: 1, max: 6 }), fc.constantFrom(0, 2_000, 7_000), fc.tuple(fc.constantFrom('a', 'b'), fc.boolean()),
    async (records, sinceOff, length, nowOff, maxPerWindow, marginMs, [edgeAgent, edgeDeny]) => {
      const since = BASE + sinceOff
      const until = since + length
      const data: Decision[] = records.map((r, i) => ({ t: BASE + r.at, id: `d${i}`, agent: r.agent, verdict: r.deny ? 'deny' : 'allow' }))
      // Records just outside and exactly on both ends of the window.
      for (const [i, at] of [since - 1, since, until, until + 1].entries()) data.push({ t: at, id: `e${i}`, agent: edgeAgent, verdict: edgeDeny ? 'deny' : 'allow' })
      log.data = data
      const opts: SliceOptions = { ladderMs: ladder, maxPerWindow, marginMs }
      const r = reads(client, BASE + nowOff, opts)
      const req = request('a', window(since, until))
      for (const agent of ['a', 'b']) {
        const truth = expected(data, agent, since, until)
        const unsliced = await countDecisions(client, req, agent, call())
        if (unsliced.decisions !== truth.decisions || unsliced.denies !== truth.denies) return false
        const cold = await countDecisionsSliced(r, req, agent, call())
        log.reset()
        const warm = await countDecisionsSliced(r, req, agent, call())
        if (cold.decisions !== truth.decisions || cold.denies !== truth.denies) return false
        if (warm.decisions !== truth.decisions || warm.denies !== truth.denies) return false
        // The warm read asked only for open slices: everything closed came from the cache.
        if (log.requests.some((q) => q.until + 1 <= BASE + nowOff - marginMs)) return false
      }
      if (r.inflight.size !== 0) return false
      runs++
      return true
    }), { numRuns: 120 })
  t.equal(runs, 120, 'every generated case held: sliced (cold and warm) = unsliced = the data')
})

t.test('a growing window: the second measurement reads only new and still-open slices', async (t) => {
  const log = await server(t, steady('a', BASE, BASE + 8 * HOUR, 997))
  const client = new CordumClient({ url: log.url, maxRetries: 0 })
  t.teardown(async () => await client.close())
  const until1 = BASE + 6 * HOUR + 17_000
  const now1 = until1 + 9_000
  const cache = new SliceCache<DecisionCounts>({ maxEntries: 10_000, maxBytes: 1 << 24 })
  const first = await countDecisionsSliced(reads(client, now1, DEFAULT_SLICES, cache), request('a', window(BASE, until1)), 'a', call())
  t.same(first, expected(log.data, 'a', BASE, until1))
  const bytes1 = log.bytes
  const requests1 = log.requests.length
  log.reset()
  const until2 = until1 + 60_000
  const second = await countDecisionsSliced(reads(client, now1 + 60_000, DEFAULT_SLICES, cache), request('a', window(BASE, until2)), 'a', call())
  t.same(second, expected(log.data, 'a', BASE, until2), 'the grown window is counted exactly')
  const closedBefore = now1 - DEFAULT_SLICES.marginMs
  t.ok(log.requests.length > 0, 'the new part is read')
  t.ok(log.requests.every((q) => q.until + 1 > closedBefore), 'no slice closed at the first measurement is read again')
  t.ok(log.bytes <= 0.1 * bytes1, `second read ${log.bytes} B of the first's ${bytes1} B (${(100 * log.bytes / bytes1).toFixed(1)}%), ${log.requests.length} of ${requests1} requests`)
})

t.test('a closed slice is never read again, an open one always is; errors are not cached', async (t) => {
  const log = await server(t, steady('a', BASE, BASE + 4 * HOUR, 1_500), { maxLimit: 100 })
  const s = source(t, log.url, { now: () => BASE + 10 * HOUR })
  const req = request('a', { ...window(BASE + 10 * 60_000, BASE + 3 * HOUR), baseline: 'b' })
  const obs = await s.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  t.same(obs.policy_deny_rate?.canary, { n: expected(log.data, 'a', req.since.getTime(), req.until.getTime()).decisions, k: expected(log.data, 'a', req.since.getTime(), req.until.getTime()).denies })
  t.ok(s.sliceCache.size > 0, `closed slices cached (${s.sliceCache.size})`)
  log.reset()
  const again = await s.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  t.same(again, obs)
  t.equal(log.requests.length, 0, 'a window wholly in the past is answered from the cache')

  // Now the window's end is recent: the open slices are read every time, the rest never again.
  const now = BASE + 3 * HOUR + 30_000
  const recent = source(t, log.url, { now: () => now })
  await recent.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  const open = planSlices(req.since.getTime(), req.until.getTime(), now, DEFAULT_SLICES).filter((x) => !x.closed)
  t.ok(open.length > 0, 'the plan has open slices')
  for (let i = 0; i < 2; i++) {
    log.reset()
    await recent.observe(req, specs('policy_deny_rate'), new AbortController().signal)
    const asked = log.requests.filter((q) => q.cursor === '').map((q) => `${q.agent} ${q.since}-${q.until + 1}`).sort()
    t.same(asked, ['a', 'b'].flatMap((agent) => open.map((x) => `${agent} ${x.start}-${x.end}`)).sort(), `read ${i + 2}: exactly the open slices of both arms`)
  }

  // A failed slice is not cached: it is read again once the upstream answers.
  const failing = source(t, log.url, { now: () => BASE + 10 * HOUR })
  const victim = planSlices(req.since.getTime(), req.until.getTime(), BASE + 10 * HOUR, DEFAULT_SLICES)[3]
  if (victim === undefined) throw new Error('the plan is too short')
  log.opts.fail = (q) => q.since === victim.start && q.agent === 'a'
  log.reset()
  const err = await failure(failing.observe(req, specs('policy_deny_rate'), new AbortController().signal))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_STATUS', 'one failing slice fails the observation: no partial counts')
  log.opts.fail = undefined
  log.reset()
  const healed = await failing.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  t.same(healed, obs, 'the next read counts the whole window')
  t.ok(log.requests.some((q) => q.since === victim.start && q.agent === 'a'), 'the failed slice was read again')
})

t.test('the slice cache is bounded by entries and by bytes, least recently used out first', async (t) => {
  const c = new SliceCache<DecisionCounts>({ maxEntries: 3, maxBytes: 1 << 20 })
  for (const k of ['k1', 'k2', 'k3']) c.set(k, { decisions: 1, denies: 0 })
  t.ok(c.get('k1') !== undefined, 'k1 used: now the most recent')
  c.set('k4', { decisions: 4, denies: 1 })
  t.equal(c.size, 3)
  t.equal(c.get('k2'), undefined, 'the least recently used went')
  t.same(c.get('k1'), { decisions: 1, denies: 0 })
  t.same(c.get('k4'), { decisions: 4, denies: 1 })
  const before = c.bytes
  c.set('k4', { decisions: 5, denies: 1 })
  t.equal(c.bytes, before, 'replacing an entry does not grow the estimate')

  const small = new SliceCache<DecisionCounts>({ maxEntries: 1_000, maxBytes: 1_000 })
  for (let i = 0; i < 100; i++) small.set(`key-${i}`.padEnd(80, 'x'), { decisions: i, denies: 0 })
  t.ok(small.bytes <= 1_000 && small.size > 0 && small.size < 100, `bytes bound holds (${small.size} entries, ${small.bytes} B)`)
  t.same(small.get('key-99'.padEnd(80, 'x')), { decisions: 99, denies: 0 }, 'the newest is kept')

  const log = await server(t, steady('a', BASE, BASE + 4 * HOUR, 2_000))
  const s = source(t, log.url, { now: () => BASE + 10 * HOUR, sliceCacheEntries: 3 })
  const req = request('a', { ...window(BASE, BASE + 3 * HOUR), baseline: 'b' })
  await s.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  t.equal(s.sliceCache.size, 3, 'the source keeps at most CORDUM_SLICE_CACHE_ENTRIES slices')
  log.reset()
  await s.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  t.ok(log.requests.length > 0, 'what was evicted is read again')
  const off = source(t, log.url, { now: () => BASE + 10 * HOUR, sliceCacheEntries: 0 })
  await off.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  t.equal(off.sliceCache.size, 0, '0 entries: no cache')
})

t.test('the limiter: never more than CORDUM_MAX_CONCURRENCY requests open, over all observations', async (t) => {
  const data = ['a', 'b', 'c', 'd', 'base'].flatMap((agent) => steady(agent, BASE, BASE + 6 * HOUR, 30_000))
  const log = await server(t, data, { delayMs: 25 })
  const s = source(t, log.url, { now: () => BASE + 10 * HOUR, maxConcurrency: 3 })
  const results = await Promise.all(['a', 'b', 'c', 'd'].map(async (agent) => await s.observe(request(agent, { ...window(BASE, BASE + 6 * HOUR), baseline: 'base' }), specs('policy_deny_rate'), new AbortController().signal)))
  t.equal(log.maxInFlight, 3, `at most 3 open at the server, and the 3 were used (${log.requests.length} requests)`)
  t.ok(results.every((r) => r.policy_deny_rate?.canary !== undefined && (r.policy_deny_rate.canary as { n: number }).n === expected(data, 'a', BASE, BASE + 6 * HOUR).decisions), 'every observation counted in full')

  const one = source(t, log.url, { now: () => BASE + 10 * HOUR, maxConcurrency: 1 })
  log.reset()
  await one.observe(request('a', { ...window(BASE, BASE + 2 * HOUR), baseline: 'base' }), specs('policy_deny_rate'), new AbortController().signal)
  t.equal(log.maxInFlight, 1, 'one slot: strictly one at a time')

  const limiter = new Limiter(1)
  let release!: () => void
  const holding = limiter.run(new AbortController().signal, () => new Error('x'), async () => await new Promise<void>((resolve) => { release = resolve }))
  const quitter = new AbortController()
  const queued = limiter.run(quitter.signal, () => new Error('gave up waiting'), async () => 'ran')
  t.equal(limiter.waiting, 1)
  quitter.abort()
  await t.rejects(queued, /gave up waiting/, 'a waiter that is cancelled leaves the queue with the caller\'s error')
  t.equal(limiter.waiting, 0)
  release()
  await holding
  t.equal(limiter.active, 0, 'no slot leaked')
  t.equal(await limiter.run(new AbortController().signal, () => new Error('x'), async () => 'next'), 'next')
})

t.test('a failing slice cancels its siblings; the deadline and the caller cancel every slice', async (t) => {
  const data = steady('a', BASE, BASE + 6 * HOUR, 10_000)
  const log = await server(t, data, { delayMs: 40 })
  const req = request('a', { ...window(BASE, BASE + 6 * HOUR), baseline: 'b' })
  const plan = planSlices(req.since.getTime(), req.until.getTime(), BASE + 10 * HOUR, DEFAULT_SLICES)
  const first = plan[0] as { start: number }
  log.opts.fail = (q) => q.since === first.start
  const s = source(t, log.url, { now: () => BASE + 10 * HOUR, maxConcurrency: 2 })
  const err = await failure(s.observe(req, specs('policy_deny_rate'), new AbortController().signal))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_STATUS')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.ok(log.requests.length <= 4, `the other ${2 * plan.length - 1} slices were not read (${log.requests.length} requests in all)`)
  t.equal(s.sliceCache.size, 0, 'nothing cached from a failed read')
  log.opts.fail = undefined

  log.opts.delayMs = 2_000
  log.reset()
  const slow = source(t, log.url, { now: () => BASE + 10 * HOUR, maxConcurrency: 4, deadlineMs: 300 })
  const timeout = await failure(slow.observe(req, specs('policy_deny_rate'), new AbortController().signal))
  t.equal(timeout.code, 'GATE_ERR_UPSTREAM_TIMEOUT')
  const sent = log.requests.length
  t.ok(sent <= 4, `only the requests holding a slot went out (${sent}); the queued ones never did`)
  await eventually(() => log.inFlight === 0)
  t.equal(log.abandoned, sent, 'each was given up before its slow answer came: at the deadline, not after the slow answers')
  t.equal(log.requests.length, sent, 'no slice starts after the deadline')

  log.reset()
  const caller = new AbortController()
  const pending = source(t, log.url, { now: () => BASE + 10 * HOUR, maxConcurrency: 4 }).observe(req, specs('policy_deny_rate'), caller.signal)
  setTimeout(() => caller.abort(), 100)
  const cancelled = await failure(pending)
  t.equal(cancelled.code, 'GATE_ERR_UNAVAILABLE', 'the caller gave up')
  const atCancel = log.requests.length
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(atCancel <= 4 && log.requests.length === atCancel, `nothing more was sent after the cancel (${atCancel})`)
})

t.test('concurrent observations share the fetch of a closed slice; a joiner outlives the fetcher giving up', async (t) => {
  const data = ['a', 'b', 'base'].flatMap((agent) => steady(agent, BASE, BASE + 6 * HOUR, 20_000))
  const log = await server(t, data, { delayMs: 30 })
  const telemetry = new RecordingTelemetry()
  const s = source(t, log.url, { now: () => BASE + 10 * HOUR, telemetry })
  const win = window(BASE, BASE + 6 * HOUR)
  const plan = planSlices(win.since.getTime(), win.until.getTime(), BASE + 10 * HOUR, DEFAULT_SLICES)
  const [ra, rb] = await Promise.all(['a', 'b'].map(async (agent) => await s.observe(request(agent, { ...win, baseline: 'base' }), specs('policy_deny_rate'), new AbortController().signal)))
  const truth = expected(data, 'base', win.since.getTime(), win.until.getTime())
  t.same(ra?.policy_deny_rate?.baseline, { n: truth.decisions, k: truth.denies })
  t.same(rb?.policy_deny_rate?.baseline, { n: truth.decisions, k: truth.denies })
  t.equal(log.requests.filter((q) => q.agent === 'base').length, plan.length, `the shared baseline's ${plan.length} slices were each read once for both canaries`)
  t.equal(telemetry.slices.filter((x) => x.result === 'shared').length, plan.length, 'and reported as shared')

  // The first observation gives up while the second waits on its fetches: the second reads them itself.
  const watched = new RecordingTelemetry()
  const fresh = source(t, log.url, { now: () => BASE + 10 * HOUR, telemetry: watched })
  log.reset()
  const quitter = new AbortController()
  const gone = fresh.observe(request('a', { ...win, baseline: 'base' }), specs('policy_deny_rate'), quitter.signal)
  await new Promise((resolve) => setTimeout(resolve, 5))
  const stays = fresh.observe(request('b', { ...win, baseline: 'base' }), specs('policy_deny_rate'), new AbortController().signal)
  setTimeout(() => quitter.abort(), 10)
  t.equal((await failure(gone)).code, 'GATE_ERR_UNAVAILABLE')
  t.same((await stays).policy_deny_rate?.baseline, { n: truth.decisions, k: truth.denies }, 'counted in full, not failed by the other\'s cancel')
  t.equal(watched.slices.filter((x) => x.result === 'shared').length, plan.length, 'it had joined the baseline slices under way')
  t.equal(watched.slices.filter((x) => x.result === 'miss').length, 4 * plan.length, 'and, when they were cancelled, fetched them itself (each of the 2 observations: 2 arms)')
})

t.test('a dense slice may take up to SLICE_MAX_PAGES pages; past that the read fails, naming the list', async (t) => {
  // 1017 decisions in one minute, one per page.
  const log = await server(t, steady('a', BASE, BASE + 60_000, 59), { maxLimit: 1 })
  const client = new CordumClient({ url: log.url, maxRetries: 0 })
  t.teardown(async () => await client.close())
  const r = reads(client, BASE + HOUR, { ...DEFAULT_SLICES, ladderMs: [60_000] })
  const dense = request('a', window(BASE, BASE + 60_000 - 1))
  t.equal(log.data.length, 1_017)
  const few = request('a', window(BASE, BASE + 59 * 500))
  t.same(await countDecisionsSliced(r, few, 'a', call(30_000)), expected(log.data, 'a', BASE, BASE + 59 * 500), '501 pages in one slice: more than a whole walk may take, fine for a slice')
  t.ok(log.requests.length > 200, `that took ${log.requests.length} requests`)
  const err = await failure(countDecisionsSliced(r, dense, 'a', call(30_000)))
  t.equal(err.code, 'GATE_ERR_UPSTREAM_RESPONSE')
  t.match(err.message, /GET \/api\/v1\/governance\/decisions: more than 1000 pages/)
  t.equal(SLICE_MAX_PAGES, 1_000)
})

t.test('against the sandbox: sliced counts equal the unsliced walk for every agent', async (t) => {
  const sb = await sandboxFor(t)
  const client = new CordumClient({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await client.close())
  // The last window ends 50 s after the sandbox's now (the service allows 60 s of clock skew); the sandbox clamps until to its now.
  const windows: [number, number][] = [[T0 - 3 * HOUR, T0], [T0 - 47 * 60_000 - 123, T0 - 5 * 60_000], [T0 - 26 * HOUR, T0 - HOUR + 1], [T0 - 2 * HOUR, T0 + 50_000]]
  const r = reads(client, T0)
  for (const a of AGENTS.filter((x) => x.tenant === 'default')) {
    for (const [since, until] of windows) {
      const req = request(a.agentId, window(since, until))
      const unsliced = await countDecisions(client, req, a.agentId, call())
      t.same(await countDecisionsSliced(r, req, a.agentId, call()), unsliced, `${a.agentId} ${new Date(since).toISOString()}..${new Date(until).toISOString()}: cold`)
      t.same(await countDecisionsSliced(r, req, a.agentId, call()), unsliced, 'warm')
    }
  }
})

t.test('telemetry: response bytes per request, slice cache hits and misses', async (t) => {
  const log = await server(t, steady('a', BASE, BASE + 4 * HOUR, 5_000))
  const telemetry = new RecordingTelemetry()
  const s = source(t, log.url, { now: () => BASE + 10 * HOUR, telemetry })
  const req = request('a', { ...window(BASE, BASE + 3 * HOUR), baseline: 'b' })
  await s.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  const bytes = telemetry.upstream.reduce((sum, u) => sum + (u.bytes ?? 0), 0)
  t.equal(bytes, log.bytes, `the bytes reported are the bytes the server sent (${bytes})`)
  t.equal(telemetry.upstream.length, log.requests.length, 'one report per request')
  const slices = planSlices(req.since.getTime(), req.until.getTime(), BASE + 10 * HOUR, DEFAULT_SLICES).length
  t.same(telemetry.slices.map((x) => x.result), Array(2 * slices).fill('miss'), 'cold: every closed slice of both arms missed')
  telemetry.slices = []
  await s.observe(req, specs('policy_deny_rate'), new AbortController().signal)
  t.same(telemetry.slices.map((x) => x.result), Array(2 * slices).fill('hit'), 'warm: every one hit')
  t.ok(telemetry.slices.every((x) => x.source === 'cordum' && x.endpoint === '/api/v1/governance/decisions'))
})

t.test('configuration: defaults and refusals naming the variable', async (t) => {
  const defaults = { maxConcurrency: 8, sliceMarginSeconds: 120, sliceCacheEntries: 100_000, sliceCacheMb: 32, maxPages: 200, ledgerMaxIntervalSeconds: 60, ledgerRetentionHours: 72, warmSeconds: 120 }
  t.same(readConfig({}).cordumReads, defaults)
  t.same(readConfig({ CORDUM_MAX_CONCURRENCY: '2', CORDUM_SLICE_MARGIN_SECONDS: '0', CORDUM_SLICE_CACHE_ENTRIES: '0', CORDUM_SLICE_CACHE_MB: '1', CORDUM_LEDGER_MAX_INTERVAL_SECONDS: '5', CORDUM_LEDGER_RETENTION_HOURS: '24', CORDUM_WARM_SECONDS: '0' }).cordumReads,
    { ...defaults, maxConcurrency: 2, sliceMarginSeconds: 0, sliceCacheEntries: 0, sliceCacheMb: 1, ledgerMaxIntervalSeconds: 5, ledgerRetentionHours: 24, warmSeconds: 0 })
  for (const [name, value] of [['CORDUM_MAX_CONCURRENCY', '0'], ['CORDUM_MAX_CONCURRENCY', 'many'], ['CORDUM_SLICE_MARGIN_SECONDS', '-5'], ['CORDUM_SLICE_CACHE_ENTRIES', '1.5'], ['CORDUM_SLICE_CACHE_MB', '99999'], ['CORDUM_LEDGER_MAX_INTERVAL_SECONDS', '-1'], ['CORDUM_LEDGER_RETENTION_HOURS', '0'], ['CORDUM_WARM_SECONDS', '-1']] as const) {
    t.throws(() => readConfig({ [name]: value }), { code: 'GATE_ERR_CONFIG_INVALID', message: new RegExp(`^${name}: must be a whole number`) }, `${name}=${value}`)
  }
})

t.test('firstSeen: the canary\'s oldest decision in the window, walking only the first slice that holds any', async (t) => {
  const log = await server(t, [], { maxLimit: 3 })
  let runs = 0
  await assertProperty(fc.asyncProperty(
    fc.array(fc.record({ at: fc.integer({ min: 0, max: 6 * HOUR }), agent: fc.constantFrom('a', 'b') }), { maxLength: 40 }),
    fc.integer({ min: 0, max: 3 * HOUR }), fc.integer({ min: 1, max: 3 * HOUR }),
    async (records, sinceOff, length) => {
      const since = BASE + sinceOff
      const until = since + length
      log.data = records.map((r, i) => ({ t: BASE + r.at, id: `d${i}`, agent: r.agent, verdict: 'allow' }))
      // A fresh source each run: its memory of first events belongs to the data it saw.
      const s = new CordumSource({ url: log.url, maxRetries: 0, now: () => BASE + 7 * HOUR })
      try {
        const inside = log.data.filter((d) => d.agent === 'a' && d.t >= since && d.t <= until).map((d) => d.t)
        // Cordum stamps whole seconds: the first event is known to the second.
        const truth = inside.length === 0 ? undefined : Math.floor(Math.min(...inside) / 1000) * 1000
        log.reset()
        const got = await s.firstSeen({ tenant: 'default', agent: 'a', since: new Date(since), until: new Date(until) }, new AbortController().signal)
        if (got?.getTime() !== truth) return false
        // Beyond the slice counts (one request per slice and page), one slice's pages only.
        const slices = planSlices(since, until, BASE + 7 * HOUR, DEFAULT_SLICES)
        const walked = log.requests.filter((q) => !slices.some((sl) => sl.start === q.since && sl.end - 1 === q.until))
        if (truth !== undefined && new Set(walked.map((q) => `${q.since}-${q.until}`)).size > 1) return false
        runs++
        return true
      } finally {
        await s.close()
      }
    }), { numRuns: 60 })
  t.equal(runs, 60, 'every generated case held: the first event, found in one slice')
})

t.test('firstSeen: remembered, so a growing window asks Cordum nothing more for it', async (t) => {
  const log = await server(t, [...steady('b', BASE, BASE + 6 * HOUR, 10_000), ...steady('a', BASE + 4 * HOUR + 1_234, BASE + 6 * HOUR, 10_000)])
  const s = source(t, log.url, { now: () => BASE + 6 * HOUR })
  const ask = async (since: number, until: number): Promise<number | undefined> =>
    (await s.firstSeen({ tenant: 'default', agent: 'a', since: new Date(since), until: new Date(until) }, new AbortController().signal))?.getTime()
  t.equal(await ask(BASE + 3 * HOUR, BASE + 5 * HOUR), BASE + 4 * HOUR + 1_000)
  log.reset()
  t.equal(await ask(BASE + 3 * HOUR + 600_000, BASE + 5 * HOUR + 600_000), BASE + 4 * HOUR + 1_000, 'a later window starting before the first event')
  t.equal(await ask(BASE + 4 * HOUR + 600_000, BASE + 6 * HOUR), undefined, 'a window starting after it: the canary is older than the window')
  t.equal(log.requests.length, 0, 'both from memory')
  t.equal(await ask(BASE, BASE + 4 * HOUR), undefined, 'a window ending before the canary started: none')
})

t.test('warming: a cold window too large for one deadline answers how far it got, and the reads go on into the cache', async (t) => {
  const log = await server(t, [...steady('a', BASE, BASE + 4 * HOUR, 2_000), ...steady('b', BASE, BASE + 4 * HOUR, 1_000)], { delayMs: 100, maxLimit: 200 })
  const s = source(t, log.url, { now: () => BASE + 10 * HOUR, deadlineMs: 600, maxConcurrency: 2, warmMs: 60_000 })
  const req = request('a', { ...window(BASE, BASE + 3 * HOUR), baseline: 'b' })
  const err = await s.observe(req, specs('policy_deny_rate'), new AbortController().signal).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof GateError && err.code === 'GATE_ERR_UPSTREAM_TIMEOUT', 'the first request meets its deadline')
  const warming = (err as GateError).details as { warming: { done: number, total: number } }
  t.ok(warming.warming.done < warming.warming.total, `with its progress (${warming.warming.done} of ${warming.warming.total} slices)`)
  // The reads go on after the request: a later question is answered in full, and exactly.
  let obs: Awaited<ReturnType<typeof s.observe>> | undefined
  let asks = 1
  while (obs === undefined && asks < 40) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    asks++
    obs = await s.observe(req, specs('policy_deny_rate'), new AbortController().signal).catch(() => undefined)
  }
  t.ok(obs !== undefined, `answered in full at question ${asks}`)
  const a = expected(log.data, 'a', req.since.getTime(), req.until.getTime())
  t.same(obs?.policy_deny_rate?.canary, { n: a.decisions, k: a.denies }, 'the counts of the whole window')
  const off = source(t, log.url, { now: () => BASE + 10 * HOUR, deadlineMs: 600, maxConcurrency: 2 })
  const cold = await off.observe(request('a', { ...window(BASE + HOUR, BASE + 4 * HOUR), baseline: 'b' }), specs('policy_deny_rate'), new AbortController().signal).then(() => undefined, (e: unknown) => e)
  t.equal((cold as GateError).details, undefined, 'without warming, a timeout is only a timeout')
})
