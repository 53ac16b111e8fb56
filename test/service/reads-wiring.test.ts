/**
 * The read settings reach the Cordum source through the environment, and what the bench reads
 * (upstream requests and bytes, slice cache hits and misses) is on /metrics.
 */
import t from 'tap'
import { request } from 'undici'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { CordumSource } from '../../src/sources/cordum/source.js'
import { gateFor, getJson, scoreUrl } from '../helpers/gate.js'
import { request as observation, SANDBOX_ADMIN_KEY, sandboxFor, specs, T0 } from '../helpers/sandbox.js'
import { RecordingTelemetry } from '../helpers/telemetry.js'

type Tap = { teardown: (fn: () => unknown) => void }

/** The value of one series of the exposition, 0 when absent. */
function series (text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

const SLICES = (result: string): string => `source="cordum",endpoint="/api/v1/governance/decisions",result="${result}"`

/** Two scores of a growing window a minute apart; the /metrics text after them, and the two statuses. */
async function twoScores (t: Tap, env: Record<string, string>): Promise<{ text: string, statuses: number[] }> {
  let now = T0
  const sb = await sandboxFor(t, { now: () => now })
  const { url } = await gateFor(t, sb, { env: { EVIDENCE_URL: 'none', ...env }, now: () => now })
  const q = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT, since: '2026-11-26T06:00:00Z' }
  const first = (await getJson(scoreUrl(url, q))).status
  now += 60_000
  const second = (await getJson(scoreUrl(url, q))).status
  return { text: await (await request(`${url}/metrics`)).body.text(), statuses: [first, second] }
}

t.test('defaults: the second score of a growing window takes closed slices from the cache; bytes are counted', async (t) => {
  const { text, statuses } = await twoScores(t, {})
  t.same(statuses, [200, 200])
  t.ok(series(text, 'agentcanary_slice_cache_requests_total', SLICES('hit')) >= 20, 'hits on the second score')
  t.ok(series(text, 'agentcanary_slice_cache_requests_total', SLICES('miss')) >= 20, 'misses on the first')
  t.ok(series(text, 'agentcanary_upstream_response_bytes_total', 'source="cordum",endpoint="/api/v1/governance/decisions"') > 10_000, 'response bytes of the decision log')
  t.ok(series(text, 'agentcanary_upstream_requests_total', 'source="cordum",endpoint="/api/v1/governance/decisions",outcome="ok"') > 0, 'and its requests')
})

t.test('CORDUM_SLICE_CACHE_ENTRIES=0 turns the cache off; a margin longer than the window leaves nothing closed', async (t) => {
  const { text: off, statuses } = await twoScores(t, { CORDUM_SLICE_CACHE_ENTRIES: '0' })
  t.same(statuses, [200, 200])
  t.equal(series(off, 'agentcanary_slice_cache_requests_total', SLICES('hit')), 0, 'no cache, no hits')
  t.ok(series(off, 'agentcanary_slice_cache_requests_total', SLICES('miss')) >= 40, 'every closed slice fetched, both times')
  const { text: open, statuses: openStatuses } = await twoScores(t, { CORDUM_SLICE_MARGIN_SECONDS: '86400' })
  t.same(openStatuses, [200, 200])
  t.equal(series(open, 'agentcanary_slice_cache_requests_total', SLICES('hit')) + series(open, 'agentcanary_slice_cache_requests_total', SLICES('miss')), 0, 'no slice is closed, none looked up')
})

t.test('what the next measurement of a growing window reads, per endpoint (sandbox, 3 h, a minute later)', async (t) => {
  let now = T0
  const sb = await sandboxFor(t, { now: () => now })
  const telemetry = new RecordingTelemetry()
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY, now: () => now, telemetry })
  t.teardown(async () => await source.close())
  const signals = specs('policy_deny_rate', 'job_failure_rate', 'schema_violation_rate', 'overload_rate', 'approval_backlog')
  const perEndpoint = async (): Promise<Map<string, { bytes: number, requests: number }>> => {
    telemetry.upstream = []
    await source.observe(observation('support-agent-healthy', { since: new Date(T0 - 3 * 3600_000), until: new Date(now - (now % 10_000)) }, now), signals, new AbortController().signal)
    const out = new Map<string, { bytes: number, requests: number }>()
    for (const u of telemetry.upstream) {
      const e = out.get(u.endpoint) ?? { bytes: 0, requests: 0 }
      e.bytes += u.bytes ?? 0
      e.requests++
      out.set(u.endpoint, e)
    }
    return out
  }
  const first = await perEndpoint()
  now += 60_000
  const second = await perEndpoint()
  const total = (m: Map<string, { bytes: number }>): number => [...m.values()].reduce((s, e) => s + e.bytes, 0)
  for (const [endpoint, e] of first) t.comment(`${endpoint}: first ${e.bytes} B in ${e.requests} requests, next ${second.get(endpoint)?.bytes ?? 0} B in ${second.get(endpoint)?.requests ?? 0}`)
  t.comment(`all: first ${total(first)} B, next ${total(second)} B (${(100 * total(second) / total(first)).toFixed(0)}%)`)
  const decisions = '/api/v1/governance/decisions'
  t.ok((second.get(decisions)?.bytes ?? Infinity) <= 0.1 * (first.get(decisions)?.bytes ?? 0), 'the decision log: the next measurement reads under 10% of the first')
  // The documented choice (docs/cordum.md "Reads at scale"): jobs, DLQ and approvals are read whole every time.
  for (const endpoint of ['/api/v1/jobs', '/api/v1/dlq/page', '/api/v1/approvals']) {
    t.equal(second.get(endpoint)?.requests, first.get(endpoint)?.requests, `${endpoint} is read again in full`)
  }
})
