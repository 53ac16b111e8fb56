/**
 * CORDUM_MAX_PAGES: the page guard of the jobs and DLQ walks is the operator's. A walk that
 * needs more pages than the setting is refused (503, GATE_ERR_UPSTREAM_RESPONSE) with a
 * message naming the setting; raised, the same window is read to the end and counted exactly.
 * The sandbox's bench profile serves an uncapped jobs list (unlike Cordum's 1000 newest jobs).
 */
import { join } from 'node:path'
import t from 'tap'
import { readConfig } from '../../src/config/env.js'
import { GateError } from '../../src/errors.js'
import type { CallContext, CordumClient } from '../../src/sources/cordum/client.js'
import { dlqReasons } from '../../src/sources/cordum/feeds.js'
import { BENCH_CANARY, BENCH_BASELINE, type BenchProfile } from '../../src/sandbox/bench.js'
import { startSandbox } from '../../src/sandbox/gateway.js'
import { gateFor, getJson, scoreUrl } from '../helpers/gate.js'
import { request } from '../helpers/sandbox.js'

const H = 3600_000
const S = Date.UTC(2026, 0, 5, 0, 0, 0)
// 1000 jobs per arm: 2000 on the list, 500 a page, so the walk takes 5 pages (the last one reaching past `since`).
const profile: BenchProfile = { segments: [{ startMs: S, endMs: S + H, perArm: 1000 }] }
const GATES = join(import.meta.dirname, '..', '..', 'bench', 'gates.yaml')

t.test('configuration: CORDUM_MAX_PAGES defaults to 200, refusals name it', async (t) => {
  t.equal(readConfig({}).cordumReads.maxPages, 200)
  t.equal(readConfig({ CORDUM_MAX_PAGES: '5000' }).cordumReads.maxPages, 5000)
  for (const value of ['0', 'many', '1.5', '-3', '1000001']) {
    t.throws(() => readConfig({ CORDUM_MAX_PAGES: value }), { code: 'GATE_ERR_CONFIG_INVALID', message: /^CORDUM_MAX_PAGES: must be a whole number from 1 to 1000000/ }, `CORDUM_MAX_PAGES=${value}`)
  }
})

t.test('a jobs walk longer than CORDUM_MAX_PAGES is refused; raised, it is counted exactly', async (t) => {
  const sb = await startSandbox({ bench: profile, now: () => S + 3 * H })
  t.teardown(sb.close)
  const q = { stage: 'canary-1', canary: BENCH_CANARY, baseline: BENCH_BASELINE, since: new Date(S).toISOString(), until: new Date(S + H - 1).toISOString() }

  const low = await gateFor(t, sb, { env: { CORDUM_MAX_PAGES: '3', EVIDENCE_URL: 'none', GATES_FILE: GATES }, now: () => S + 3 * H })
  const before = sb.stats.snapshot()['/api/v1/jobs'] ?? 0
  const refused = await getJson(scoreUrl(low.url, q))
  t.equal(refused.status, 503, 'refused as an upstream response problem')
  t.equal(refused.body.code, 'GATE_ERR_UPSTREAM_RESPONSE')
  t.match(refused.body.error, /GET \/api\/v1\/jobs: more than 3 pages for this window/, 'says which list and how many pages')
  t.match(refused.body.error, /raise CORDUM_MAX_PAGES \(3\)/, 'names the setting that allows it')
  t.equal((sb.stats.snapshot()['/api/v1/jobs'] ?? 0) - before, 3, 'read exactly the 3 pages allowed, no more')

  const high = await gateFor(t, sb, { env: { CORDUM_MAX_PAGES: '5', EVIDENCE_URL: 'none', GATES_FILE: GATES }, now: () => S + 3 * H })
  const ok = await getJson(scoreUrl(high.url, q))
  t.equal(ok.status, 200, ok.body.error ?? 'answered')
  const jobs = (ok.body.signals as { name: string, canary?: { n: number }, baseline?: { n: number } }[]).find((s) => s.name === 'job_failure_rate')
  t.equal(jobs?.canary?.n, 1000, 'every canary job counted')
  t.equal(jobs?.baseline?.n, 1000, 'every baseline job counted')
})

t.test('the DLQ walk follows the same setting', async (t) => {
  const now = S + 3 * H
  let asked = 0
  // An upstream that pages without end: every page one entry in the window and a fresh cursor.
  const endless = {
    getJson: async () => {
      asked++
      return { items: [{ job_id: `job-${asked}`, topic: '', reason_code: 'x', status: 'open', created_at: new Date(now - asked * 1000).toISOString() }], next_cursor: asked }
    },
  } as unknown as CordumClient
  const err = await dlqReasons(endless, request('a', {}, now), {} as CallContext, 4).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof GateError, 'refused')
  t.equal((err as GateError).code, 'GATE_ERR_UPSTREAM_RESPONSE')
  t.match((err as GateError).message, /GET \/api\/v1\/dlq\/page: more than 4 pages for this window.*raise CORDUM_MAX_PAGES \(4\)/)
  t.equal(asked, 4, 'after exactly the pages allowed')
})
