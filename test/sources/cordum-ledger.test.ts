/**
 * The job ledger against a jobs list with Cordum's 1000-job cap over real loopback HTTP and a
 * clock the test advances: polled often enough, it counts every job outcome of a 3 h window at
 * 200 jobs a minute, each once; polled too rarely, it names the gaps; its cadence follows the
 * job rate; replicas and a restart share it through the evidence store.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { SqliteStore } from '../../src/evidence/sqlite.js'
import type { GateError } from '../../src/errors.js'
import { CordumClient } from '../../src/sources/cordum/client.js'
import { countJobs, countJobsFromLedger } from '../../src/sources/cordum/feeds.js'
import { coverageOf, JobLedger, MemoryLedgerStore, type LedgerStore } from '../../src/sources/cordum/ledger.js'
import type { ObservationRequest } from '../../src/sources/source.js'
import { jobsList, truth, type Traffic } from '../helpers/jobs-list.js'

const START = Date.UTC(2026, 10, 26, 6, 0, 0)
const MIN = 60_000
const HOUR = 60 * MIN
const never = { signal: new AbortController().signal, deadline: Date.now() + 3_600_000 }

// 200 jobs a minute in the tenant (canary 10%, stable 90%), and another tenant's jobs sharing the cap.
const TRAFFIC: Traffic[] = [
  { tenant: 'default', agent: 'support-agent-c1', perMinute: 20, failEvery: 50 },
  { tenant: 'default', agent: 'support-agent-s1', perMinute: 180, failEvery: 100 },
  { tenant: 'other', agent: 'billing-agent', perMinute: 40 },
]

function req (since: number, until: number): ObservationRequest {
  return { tenant: 'default', canary: 'support-agent-c1', baseline: 'support-agent-s1', since: new Date(since), until: new Date(until), subIntervalMinutes: 5, overloadReasonCodes: [] }
}

async function setup (t: Test, store: LedgerStore = new MemoryLedgerStore()): Promise<{ list: Awaited<ReturnType<typeof jobsList>>, ledger: (s?: LedgerStore) => JobLedger }> {
  const list = await jobsList(TRAFFIC, START)
  t.teardown(list.close)
  const client = new CordumClient({ url: list.url, maxRetries: 0 })
  t.teardown(async () => await client.close())
  const ledger = (s: LedgerStore = store): JobLedger => {
    const l = new JobLedger({ client, store: s, now: () => list.now, background: false, maxIntervalMs: 600_000 })
    t.teardown(() => l.close())
    return l
  }
  return { list, ledger }
}

/** Advances the clock in steps, polling after each. */
async function run (list: { now: number }, ledger: JobLedger, untilMs: number, stepMs: number): Promise<void> {
  while (list.now < untilMs) {
    list.now = Math.min(untilMs, list.now + stepMs)
    await ledger.refresh('default', list.now, list.now, never)
  }
}

t.test('polled often enough: every job outcome of 3 h at 200 jobs a minute, each once; coverage 1.00', async (t) => {
  const { list, ledger } = await setup(t)
  const l = ledger()
  await run(list, l, START + 3 * HOUR + 10 * MIN, MIN)
  const since = START + 5 * MIN
  const until = START + 3 * HOUR + 5 * MIN
  const counts = await countJobsFromLedger(l, req(since, until), ['support-agent-c1', 'support-agent-s1'], undefined, never)
  for (const agent of ['support-agent-c1', 'support-agent-s1']) {
    const want = truth(TRAFFIC, START, agent, since, until, list.now)
    const got = counts.arms.get(agent)
    t.equal((got?.succeeded ?? 0) + (got?.failed ?? 0), want.done, `${agent}: counted = true jobs in the window (${want.done})`)
    t.equal(got?.failed, want.failed, `${agent}: failures counted once each (${want.failed})`)
  }
  t.equal(counts.coverage?.share, 1, 'the ledger covers the whole window')
  t.same(counts.coverage?.gaps, [])
  t.equal(counts.truncated, false)
  const walk = await countJobs(client(list.url, t), req(since, until), ['support-agent-c1', 'support-agent-s1'], undefined, never)
  t.ok(walk.truncated && walk.coveredFromMs > until - 10 * MIN, `without the ledger, Cordum's list reaches back only ${Math.round((until - walk.coveredFromMs) / MIN)} minutes`)
  const interval = l.intervalMs('default') as number
  // 240 jobs a minute through a 1000-job list: it scrolls by in ~4.2 minutes; half that.
  t.ok(interval > 1.5 * MIN && interval < 2.7 * MIN, `the cadence follows the job rate (${Math.round(interval / 1000)} s)`)
})

function client (url: string, t: Test): CordumClient {
  const c = new CordumClient({ url, maxRetries: 0 })
  t.teardown(async () => await c.close())
  return c
}

t.test('polled too rarely: the list scrolls past between reads; the gaps are named and the share says so', async (t) => {
  const { list, ledger } = await setup(t)
  const l = ledger()
  await run(list, l, START + HOUR, 10 * MIN)
  const since = START + 10 * MIN
  const until = START + HOUR
  const counts = await countJobsFromLedger(l, req(since, until), ['support-agent-c1', 'support-agent-s1'], undefined, never)
  const want = truth(TRAFFIC, START, 'support-agent-s1', since, until, list.now)
  const got = counts.arms.get('support-agent-s1')
  t.ok((got?.succeeded ?? 0) + (got?.failed ?? 0) < want.done, 'fewer jobs than happened')
  t.ok((counts.coverage?.share ?? 1) < 0.6, `covered share ${counts.coverage?.share}`)
  t.equal(counts.coverage?.gaps.length, 5, 'one gap between each two reads')
  t.equal(counts.truncated, true)
})

t.test('replicas and a restart share the ledger through the evidence store (SQLite)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-'))
  const store = new SqliteStore(dir)
  t.teardown(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) })
  const { list, ledger } = await setup(t, store)
  const [a, b] = [ledger(), ledger()]
  // The two replicas take turns; then a third (a restart) carries on from the stored mark.
  for (let i = 0; i < 60; i++) {
    list.now += MIN
    await (i % 2 === 0 ? a : b).refresh('default', list.now, list.now, never)
  }
  a.close(); b.close()
  const c = ledger()
  await run(list, c, list.now + 30 * MIN, MIN)
  const since = START + 2 * MIN
  const until = list.now - MIN
  const counts = await countJobsFromLedger(c, req(since, until), ['support-agent-c1', 'support-agent-s1'], undefined, never)
  for (const agent of ['support-agent-c1', 'support-agent-s1']) {
    const want = truth(TRAFFIC, START, agent, since, until, list.now)
    const got = counts.arms.get(agent)
    t.equal((got?.succeeded ?? 0) + (got?.failed ?? 0), want.done, `${agent}: every job once (${want.done})`)
  }
  t.equal(counts.coverage?.share, 1)
})

t.test('warming: a request that stops waiting at its deadline says how far the poll got; the poll goes on', async (t) => {
  const list = await jobsList(TRAFFIC, START, { delayMs: 150, maxLimit: 100 })
  t.teardown(list.close)
  const c = client(list.url, t)
  list.now = START + HOUR
  const l = new JobLedger({ client: c, store: new MemoryLedgerStore(), now: () => list.now, background: false, deadlineMs: 300, warmMs: 30_000 })
  t.teardown(() => l.close())
  const deadline = (ms: number): { signal: AbortSignal, deadline: number } => ({ signal: AbortSignal.timeout(ms), deadline: Date.now() + ms })
  const err = await l.refresh('default', START + 30 * MIN, list.now, deadline(300)).then(() => undefined, (e: unknown) => e as GateError)
  t.equal(err?.code, 'GATE_ERR_UPSTREAM_TIMEOUT')
  t.match(err?.message, /still being read by the job ledger: \d+ jobs so far/)
  t.ok((err?.details as { warming?: unknown } | undefined)?.warming !== undefined, 'marked as warming')
  await l.refresh('default', START + 30 * MIN, list.now)
  t.ok(list.requests >= 10, `the poll went on to the end of the list (${list.requests} requests)`)
  // The list reaches back about 4 minutes (1000 jobs at 240 a minute): that is covered.
  t.equal((await l.coverage('default', START + HOUR - 3 * MIN, START + HOUR)).share, 1, 'and its coverage counts')
})

t.test('coverage arithmetic: merged, clipped to the window, gaps named', async (t) => {
  t.same(coverageOf([[10, 20], [20, 30], [50, 60]], 0, 100), { share: 0.3, gaps: [[0, 10], [30, 50], [60, 100]], coveredFromMs: 100 })
  t.same(coverageOf([[0, 200]], 50, 100), { share: 1, gaps: [], coveredFromMs: 50 })
  t.same(coverageOf([[60, 100], [0, 40]], 0, 100), { share: 0.8, gaps: [[40, 60]], coveredFromMs: 60 })
  t.same(coverageOf([], 0, 100), { share: 0, gaps: [[0, 100]], coveredFromMs: 100 })
})
