/**
 * The Loki source against the Loki API double (test/helpers/loki-double.ts), over log lines
 * pushed through its push API: counts and sub-interval buckets equal the generator's, the
 * tenant header and nanosecond times are what Loki expects, and Loki's refusals (plain-text
 * 400s, 401 without a tenant) are mapped as for Prometheus. Not a real Loki: see the double.
 */
import t from 'tap'
import { loadGatesFile } from '../../src/config/load.js'
import type { SignalSpec } from '../../src/config/policy.js'
import { GateError } from '../../src/errors.js'
import type { RateArm } from '../../src/gate/observations.js'
import { LokiSource } from '../../src/sources/loki/source.js'
import type { ObservationRequest } from '../../src/sources/source.js'
import { armCounts, BASELINE, CANARIES, counters, HISTORY_END, overloadBuckets, schedulerLogs } from '../helpers/agent-history.js'
import { pushLogs, startLokiDouble } from '../helpers/loki-double.js'

const never = new AbortController().signal
const { policy } = await loadGatesFile('analysis-templates/examples/gates-prometheus.yaml')
const OVERLOAD = policy.signals.overload_rate as SignalSpec

const loki = await startLokiDouble({ multiTenant: true })
t.teardown(loki.close)
await pushLogs(loki.url, schedulerLogs([BASELINE, CANARIES.overloaded as never, CANARIES.blip as never, CANARIES.healthy as never]), 'team-a')

function request (canary: string, since: number, until: number, over: Partial<ObservationRequest> = {}): ObservationRequest {
  return { tenant: 'default', canary, baseline: 'stable', since: new Date(since), until: new Date(until), subIntervalMinutes: 5, overloadReasonCodes: [], sustainedSignals: ['overload_rate'], ...over }
}

function source (t: { teardown: (fn: () => unknown) => void }, tenant?: string): LokiSource {
  const s = new LokiSource(tenant === undefined ? { url: loki.url } : { url: loki.url, tenant })
  t.teardown(async () => await s.close())
  return s
}

function spec (query: Record<string, string>): SignalSpec {
  return { ...OVERLOAD, name: 'probe', query }
}

t.test('overload counts and whole clock-aligned sub-intervals equal the generator\'s, for a window on no boundary', async (t) => {
  const s = source(t, 'team-a')
  await s.ready(never)
  const until = HISTORY_END - 7 * 60_000 - 30_000
  const since = until - 50 * 60_000
  loki.requests.length = 0
  const obs = await s.observe(request('overloaded', since, until), [OVERLOAD], never)
  // The generator counts by minute index: minute i's lines are logged in the first seconds
  // after minute i - 1 starts. This window's edges sit 30 s into a minute, after those lines,
  // so it holds the lines of minutes (since + 30 s, until + 30 s] in the generator's terms.
  const exact = (c: ReturnType<typeof counters>): RateArm => armCounts(c, since + 30_000, until + 30_000).overload_rate as RateArm
  const canary = obs.overload_rate?.canary as RateArm
  const baseline = obs.overload_rate?.baseline as RateArm
  const cc = counters(CANARIES.overloaded as never)
  t.same([canary.n, canary.k], [exact(cc).n, exact(cc).k], `canary ${exact(cc).k}/${exact(cc).n}`)
  t.same([baseline.n, baseline.k], [exact(counters(BASELINE)).n, 0])
  t.same(canary.buckets, overloadBuckets(cc, since, until, 5), 'buckets: whole 5-minute sub-intervals inside the window, oldest first')
  t.equal(canary.buckets?.[0]?.start, '2026-11-26T11:05:00.000Z', 'the first whole sub-interval after 11:02:30')
  t.equal(canary.buckets?.length, 9, '11:05 to 11:50; the part-filled ones at either edge are left out')
  t.same(canary.buckets?.slice(-3).map((b) => b.k), [30, 30, 30])

  const instant = loki.requests.filter((r) => r.path === '/loki/api/v1/query')
  const range = loki.requests.filter((r) => r.path === '/loki/api/v1/query_range')
  t.equal(instant.length, 4, 'events and hits, per arm')
  t.equal(range.length, 4, 'bucketed events and hits, per arm')
  t.ok(loki.requests.every((r) => r.headers['x-scope-orgid'] === 'team-a'), 'every request names the tenant in X-Scope-OrgID')
  t.ok(instant.every((r) => r.params.time === `${BigInt(until) * 1_000_000n}`), 'instant queries at the window\'s end, in nanoseconds')
  t.ok(instant.every((r) => r.params.query?.includes('[3000s]') === true), '{{window}} is the window: 50 minutes')
  t.same(range.map((r) => [r.params.start, r.params.end, r.params.step])[0], [`${BigInt(Date.parse('2026-11-26T11:10:00Z')) * 1_000_000n}`, `${BigInt(Date.parse('2026-11-26T11:50:00Z')) * 1_000_000n}`, '300'], 'range: each point ends a sub-interval')
  t.ok(range.every((r) => r.params.query?.includes('[300s]') === true), 'range queries count each sub-interval: {{window}} is 300s there')
  t.ok(instant.some((r) => r.params.query?.includes('|= "job.support.overloaded"') === true) && instant.some((r) => r.params.query?.includes('|= "job.support.stable"') === true), '{{arm}} per arm')
})

t.test('signals no sustained trigger reads are not bucketed', async (t) => {
  loki.requests.length = 0
  const obs = await source(t, 'team-a').observe(request('blip', HISTORY_END - 2 * 3_600_000, HISTORY_END, { sustainedSignals: [] }), [OVERLOAD], never)
  t.equal((obs.overload_rate?.canary as RateArm).buckets, undefined)
  t.equal(loki.requests.filter((r) => r.path.endsWith('query_range')).length, 0)
  t.equal((obs.overload_rate?.canary as RateArm).k, 10, 'the 5-minute blip: 2 refusals a minute')
})

t.test('no tenant on a multi-tenant Loki: 401, a failure of the source', async (t) => {
  const err = await source(t).observe(request('overloaded', HISTORY_END - 3_600_000, HISTORY_END), [OVERLOAD], never).catch((e: unknown) => e)
  t.ok(err instanceof GateError)
  t.equal((err as GateError).code, 'GATE_ERR_UPSTREAM_AUTH')
  t.equal((err as GateError).source, 'loki')
  t.match((err as GateError).message, /Loki refused the gate's credentials \(401\) .*; check LOKI_BEARER_TOKEN/)
})

t.test('LogQL Loki refuses, log queries, and empty results make only their signal unavailable or short of data', async (t) => {
  const s = source(t, 'team-a')
  const until = HISTORY_END
  const since = until - 3_600_000
  const sel = '{app="cordum-scheduler"} |= "job.support.{{arm}}"'
  const probes: Record<string, SignalSpec> = {
    syntax: spec({ events: `sum(count_over_time(${sel} [{{window}}])`, hits: `sum(count_over_time(${sel} [{{window}}])) or vector(0)` }),
    empty_matcher: spec({ events: 'sum(count_over_time({app=~".*"} |= "job.support.{{arm}}" [{{window}}]))', hits: `sum(count_over_time(${sel} [{{window}}])) or vector(0)` }),
    log_query: spec({ events: sel, hits: `sum(count_over_time(${sel} [{{window}}])) or vector(0)` }),
    no_events: spec({ events: `sum(count_over_time(${sel} |= "no such line" [{{window}}]))`, hits: `sum(count_over_time(${sel} |= "no such line" [{{window}}]))` }),
    hits_missing: spec({ events: `sum(count_over_time(${sel} [{{window}}]))`, hits: `sum(count_over_time(${sel} |= "pool_overloaded" [{{window}}]))` }),
  }
  const obs = await s.observe(request('healthy', since, until, { sustainedSignals: [] }), Object.entries(probes).map(([name, p]) => ({ ...p, name })), never)
  t.match(obs.syntax?.unavailable, { code: 'GATE_ERR_UPSTREAM_QUERY', reason: /events query failed: Loki rejected the query \(400\): parse error at line 1, col \d+: syntax error/ })
  t.match(obs.empty_matcher?.unavailable?.reason, /Loki rejected the query \(400\): parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value/)
  t.match(obs.log_query?.unavailable?.reason, /Loki returned log lines, not numbers: the query must be a metric query/)
  t.same(obs.no_events?.canary, { n: 0, k: 0 }, 'no lines: no events, never a zero rate over some events')
  t.match(obs.no_events?.notes, [/Loki has no data for the canary arm's events query/])
  t.match(obs.hits_missing?.unavailable?.reason, /hits query returned no data while its events query counts \d+: a missing series is not a zero; .*or vector\(0\)/)
  // The healthy arm with the shipped query: a real zero thanks to `or vector(0)`.
  const fine = await s.observe(request('healthy', since, until, { sustainedSignals: [] }), [OVERLOAD], never)
  t.same((fine.overload_rate?.canary as RateArm).k, 0)
  t.ok((fine.overload_rate?.canary as RateArm).n > 0)
})
