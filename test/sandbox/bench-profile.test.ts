/**
 * The sandbox's bench profile (src/sandbox/bench.ts): paging its lists to the end gives
 * exactly `perArm` decisions and jobs per arm and segment, each once, in order, whatever the
 * page size; time bounds and cursors are exact at segment and page edges; it counts bytes.
 */
import t from 'tap'
import { request as http } from 'undici'
import { BENCH_BASELINE, BENCH_CANARY, checkBenchProfile, type BenchProfile } from '../../src/sandbox/bench.js'
import { SANDBOX_ADMIN_KEY, startSandbox } from '../../src/sandbox/gateway.js'

const admin = { 'x-api-key': SANDBOX_ADMIN_KEY }
const H = 3600_000
const S = Date.UTC(2026, 0, 5, 0, 0, 0)
// Uneven spacing on purpose (3600000 / 7777 ms is not whole), and a tight segment of one event per ms.
const profile: BenchProfile = { segments: [{ startMs: S, endMs: S + H, perArm: 7777 }, { startMs: S + 2 * H, endMs: S + 2 * H + 3000, perArm: 3000 }] }

async function get (url: string): Promise<any> {
  const res = await http(url, { headers: admin })
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${await res.body.text()}`)
  return await res.body.json()
}

t.test('a profile with overlapping segments or too many events is refused', async (t) => {
  t.throws(() => checkBenchProfile({ segments: [{ startMs: 0, endMs: 10, perArm: 11 }] }), /at most one decision per ms/)
  t.throws(() => checkBenchProfile({ segments: [{ startMs: 0, endMs: 10, perArm: 1 }, { startMs: 5, endMs: 20, perArm: 1 }] }), /disjoint/)
})

t.test('decisions: every event once per arm, newest first, bounds inclusive', async (t) => {
  const sb = await startSandbox({ bench: profile, now: () => S + 3 * H })
  t.teardown(sb.close)
  for (const [agent, limit] of [[BENCH_CANARY, 500], [BENCH_BASELINE, 333], ['', 500]] as const) {
    const seen = new Set<string>()
    let prev = Infinity
    let outOfOrder = 0
    let cursor: string | null = null
    do {
      const q: string = `since=${new Date(S).toISOString()}&until=${new Date(S + 3 * H).toISOString()}&limit=${limit}${agent === '' ? '' : `&agent_id=${agent}`}${cursor === null ? '' : `&cursor=${cursor}`}`
      const page = await get(`${sb.url}/api/v1/governance/decisions?${q}`)
      for (const d of page.items) {
        const ts = Date.parse(d.timestamp)
        if (ts > prev) outOfOrder++
        prev = ts
        if (seen.has(d.job_id)) t.fail(`duplicate ${d.job_id as string}`)
        seen.add(d.job_id)
      }
      cursor = page.next_cursor
    } while (cursor !== null)
    t.equal(outOfOrder, 0, 'newest first')
    t.equal(seen.size, (agent === '' ? 2 : 1) * (7777 + 3000), `${agent === '' ? 'both arms' : agent}, page size ${limit}`)
  }
  // The first event of the first segment is at exactly S; the last before S + H.
  const edge = await get(`${sb.url}/api/v1/governance/decisions?since=${S}&until=${S}&agent_id=${BENCH_CANARY}`)
  t.equal(edge.items.length, 1, 'an event exactly on since and until is included')
  const first = await get(`${sb.url}/api/v1/governance/decisions?since=${S}&until=${S + H - 1}&agent_id=${BENCH_CANARY}&limit=500`)
  t.equal(first.items.length, 500)
  t.ok(Date.parse(first.items[0].timestamp) < S + H)
  const denies = await get(`${sb.url}/api/v1/governance/decisions?since=${S}&until=${S + 3 * H}&agent_id=${BENCH_CANARY}&verdict=deny&limit=500`)
  t.ok(denies.items.length > 30 && denies.items.length < 150, `about 1% of 10777 denied, got ${denies.items.length as number}`)
})

t.test('jobs: no 1000-job cap, every job once, unique updated_at, bytes counted', async (t) => {
  const sb = await startSandbox({ bench: profile, now: () => S + 3 * H })
  t.teardown(sb.close)
  const perArm = new Map<string, number>()
  const times = new Set<number>()
  let cursor = (S + 3 * H) * 1000
  let failed = 0
  for (;;) {
    const page = await get(`${sb.url}/api/v1/jobs?limit=500&cursor=${cursor}`)
    if (page.items.length === 0) break
    for (const j of page.items) {
      perArm.set(j.agent_id, (perArm.get(j.agent_id) ?? 0) + 1)
      if (times.has(j.updated_at)) t.fail(`updated_at ${j.updated_at as number} repeats`)
      times.add(j.updated_at)
      if (j.state === 'FAILED') failed++
    }
    cursor = Math.min(...page.items.map((j: any) => j.updated_at)) - 1
  }
  t.same(Object.fromEntries(perArm), { [BENCH_CANARY]: 10777, [BENCH_BASELINE]: 10777 })
  t.ok(failed > 40 && failed < 200, `about 0.5% of 21554 failed, got ${failed}`)
  t.ok(Math.min(...times) >= S * 1000 && Math.max(...times) < (S + 2 * H + 3000) * 1000)
  t.ok(sb.stats.bytes('/api/v1/jobs') > 21554 * 300, 'the sandbox counts the bytes it sent')
  const stats = await get(`${sb.url}/_sandbox/stats`)
  t.equal(stats.totalBytes, sb.stats.bytes())
})

t.test('only events up to the sandbox clock are served', async (t) => {
  const sb = await startSandbox({ bench: profile, now: () => S + H / 2 })
  t.teardown(sb.close)
  const page = await get(`${sb.url}/api/v1/jobs?limit=5`)
  t.ok(page.items.every((j: any) => j.updated_at <= (S + H / 2) * 1000))
  t.ok(page.items.length === 5)
})

t.test('jobsCap: the jobs list holds only the newest jobs as of the sandbox clock, as Cordum does', async (t) => {
  t.throws(() => checkBenchProfile({ ...profile, jobsCap: 0 }), /jobsCap must be a whole number/)
  let now = S + H / 2
  const sb = await startSandbox({ bench: { ...profile, jobsCap: 1000 }, now: () => now })
  t.teardown(sb.close)
  const walk = async (): Promise<{ ids: string[], perArm: Record<string, number>, oldest: number, newest: number }> => {
    const ids: string[] = []
    const perArm: Record<string, number> = {}
    let cursor = now * 1000
    for (;;) {
      const page = await get(`${sb.url}/api/v1/jobs?limit=300&cursor=${cursor}`)
      if (page.items.length === 0) break
      for (const j of page.items) { ids.push(j.id); perArm[j.agent_id] = (perArm[j.agent_id] ?? 0) + 1 }
      cursor = Math.min(...page.items.map((j: any) => j.updated_at)) - 1
    }
    const times = ids.map((id) => Number(id.split('-')[3]))
    return { ids, perArm, oldest: Math.min(...times), newest: Math.max(...times) }
  }
  const first = await walk()
  t.equal(first.ids.length, 1000, 'exactly the cap, over pages of 300')
  t.equal(new Set(first.ids).size, 1000, 'each job once')
  t.same(first.perArm, { [BENCH_CANARY]: 500, [BENCH_BASELINE]: 500 }, 'the arms interleave evenly')
  // Event j of segment 0 is at S + floor(j H / 7777): the newest at or before S + H/2 is j = 3888.
  t.equal(first.newest, 3888, 'the newest job at or before the clock')
  t.equal(first.oldest, 3888 - 499, 'and the 499 before it, per arm')
  now = S + H
  const later = await walk()
  t.equal(later.ids.length, 1000, 'the clock moves on: still 1000')
  t.equal(later.newest, 7776, 'the newest of the segment')
  t.notOk(later.ids.some((id) => first.ids.includes(id)), 'the older jobs left the list')
})
