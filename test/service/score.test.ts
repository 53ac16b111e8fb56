import t from 'tap'
import { defaultPolicy, parseGates } from '../../src/config/load.js'
import { GateError } from '../../src/errors.js'
import { SANDBOX_ADMIN_KEY } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { DEFAULT_SLICES, planSlices } from '../../src/sources/cordum/slices.js'
import { CordumSource } from '../../src/sources/cordum/source.js'
import { SourceRegistry } from '../../src/sources/registry.js'
import { ScoreService, type ScoreQuery } from '../../src/service/score.js'
import { parseDuration } from '../../src/service/window.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'
import { RecordingTelemetry } from '../helpers/telemetry.js'

const never = new AbortController().signal

function offline (now = T0): ScoreService {
  return new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry(), defaultTenant: 'default', now: () => now })
}

function refusal (fn: () => unknown): GateError {
  try {
    fn()
  } catch (err) {
    if (err instanceof GateError) return err
    throw err
  }
  throw new Error('expected a refusal')
}

t.test('the window: defaults, durations, rounding and refusals naming the field', async (t) => {
  const s = offline(T0)
  const q = s.normalize({ stage: 'canary-1', canary: 'a' })
  t.equal(q.until.toISOString(), '2026-11-26T09:17:20.000Z', 'until defaults to now rounded down to 10 s')
  t.equal(q.since.toISOString(), '2026-11-26T06:17:20.000Z', 'since defaults to until - canary_lifetime_hours (3 h)')
  t.equal(s.normalize({ stage: 'canary-1', canary: 'a', since: '1h30m' }).since.toISOString(), '2026-11-26T07:47:20.000Z')
  t.equal(s.normalize({ stage: 'canary-1', canary: 'a', since: '2026-11-26T08:00:00Z', until: '2026-11-26T09:00:00+00:00' }).until.toISOString(), '2026-11-26T09:00:00.000Z')
  t.equal(parseDuration('90s'), 90_000)
  t.equal(parseDuration('2d'), 172_800_000)
  t.equal(parseDuration('soon'), undefined)
  const cases: [ScoreQuery, string, RegExp][] = [
    [{ stage: '', canary: 'a' }, 'stage', /stage: is required/],
    [{ stage: 'canary-3', canary: 'a' }, 'stage', /did you mean 'canary-1'/],
    [{ stage: 'canary-1', canary: '' }, 'canary', /canary: is required/],
    [{ stage: 'canary-1', canary: 'a b' }, 'canary', /canary: must be/],
    [{ stage: 'canary-1', canary: 'a', baseline: 'a' }, 'baseline', /must differ from canary/],
    [{ stage: 'canary-1', canary: 'a', since: 'yesterday' }, 'since', /RFC 3339 time .* or a duration/],
    [{ stage: 'canary-1', canary: 'a', since: '0m' }, 'since', /positive/],
    [{ stage: 'canary-1', canary: 'a', until: '2026-11-26 09:00' }, 'until', /RFC 3339/],
    [{ stage: 'canary-1', canary: 'a', until: '2026-11-27T09:00:00Z' }, 'until', /in the future/],
    [{ stage: 'canary-1', canary: 'a', since: '2026-11-26T10:00:00Z', until: '2026-11-26T09:00:00Z' }, 'since', /must be before until/],
    [{ stage: 'canary-1', canary: 'a', since: '31d' }, 'since', /at most 30 days/],
    [{ stage: 'canary-1', canary: 'a', weight: 150 }, 'weight', /between 0 and 100/],
  ]
  for (const [query, field, message] of cases) {
    const err = refusal(() => s.normalize(query))
    t.equal(err.statusCode, 400, `${field}: 400`)
    t.equal((err.details as { field: string }).field, field, `names ${field}`)
    t.match(err.message, message)
  }
})

t.test('N concurrent identical requests cost one upstream fetch sequence', async (t) => {
  const sb = await sandboxFor(t)
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  const service = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => T0 })
  const query = { stage: 'canary-2', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }
  const one = await service.score(query, never)
  const perRequest = sb.stats.count()
  t.ok(perRequest >= 6, `one score reads several Cordum lists (${perRequest} requests)`)

  // A fresh service and source (no cache: the source keeps closed time slices), 20 identical requests at once.
  const coldSource = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await coldSource.close())
  const fresh = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([coldSource]), defaultTenant: 'default', now: () => T0 })
  sb.stats.reset()
  const all = await Promise.all(Array.from({ length: 20 }, async () => await fresh.score(query, never)))
  t.equal(sb.stats.count(), perRequest, '20 concurrent requests made exactly the requests of one')
  t.ok(all.every((r) => r.verdict === one.verdict && r.score === one.score))
  sb.stats.reset()
  await fresh.score(query, never)
  t.equal(sb.stats.count(), 0, 'and a request shortly after is served from the short cache')
  sb.stats.reset()
  await fresh.score({ ...query, stage: 'full' }, never)
  t.equal(sb.stats.count(), 0, 'another stage needing the same signals shares them too')
  await fresh.score({ ...query, canary: 'support-agent-failing' }, never)
  t.ok(sb.stats.count() > 0, 'a different question is fetched')
})

t.test('one caller giving up does not cancel the fetch others wait for', async (t) => {
  const sb = await sandboxFor(t)
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  const service = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => T0 })
  sb.faults.add({ times: 1, fault: { kind: 'delay-headers', ms: 300 } })
  const quitter = new AbortController()
  const query = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }
  const first = service.score(query, quitter.signal)
  const second = service.score(query, never)
  setTimeout(() => quitter.abort(), 50)
  await t.rejects(first, { code: 'GATE_ERR_UNAVAILABLE' })
  t.equal((await second).verdict, 'pass')
})

t.test('on_source_error: error answers 503-class errors, inconclusive judges without the source; never pass', async (t) => {
  const sb = await sandboxFor(t)
  sb.faults.add({ fault: { kind: 'status', status: 502 } })
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  t.teardown(async () => await source.close())
  const query = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }
  const strict = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => T0 })
  await t.rejects(strict.score(query, never), { code: 'GATE_ERR_UPSTREAM_STATUS', source: 'cordum', statusCode: 503 })

  const lenient = parseGates('rollout_gates:\n  stages:\n    canary-1:\n      on_source_error: inconclusive\n', 'lenient.yaml')
  const soft = new ScoreService({ policy: lenient, sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => T0 })
  const r = await soft.score(query, never)
  t.equal(r.verdict, 'inconclusive')
  t.same(r.reasonCodes, ['source_unavailable'])
  t.match(r.reasons.join(' '), /Cordum answered 502/)

  const nothing = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry(), defaultTenant: 'default', now: () => T0 })
  const none = await nothing.score(query, never)
  t.equal(none.verdict, 'inconclusive', 'no source configured: never pass')
  t.match(none.reasons.join(' '), /no cordum source is configured/)
})

t.test('a growing analysis window: the next score reads only the decision-log slices still open or new', async (t) => {
  let now = T0
  const sb = await sandboxFor(t, { now: () => now })
  const telemetry = new RecordingTelemetry()
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY, now: () => now, telemetry })
  t.teardown(async () => await source.close())
  // A short observation cache, so the second score (a minute later) asks the source again.
  const service = new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => now, cacheTtlMs: 1_000 })
  const query = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT, since: '2026-11-26T06:00:00Z' }
  const first = await service.score(query, never)
  const decisions1 = sb.stats.count('/api/v1/governance/decisions')
  now += 60_000
  sb.stats.reset()
  telemetry.slices = []
  const second = await service.score(query, never)
  const decisions2 = sb.stats.count('/api/v1/governance/decisions')
  const until = Math.floor(now / 10_000) * 10_000
  const open = planSlices(Date.parse(query.since), until, now, DEFAULT_SLICES).filter((s) => !s.closed)
  const misses = telemetry.slices.filter((s) => s.result === 'miss').length
  t.ok(telemetry.slices.filter((s) => s.result === 'hit').length >= 2 * 10, 'the old part of the window came from the slice cache')
  t.ok(misses >= 1 && misses <= 2 * 2, `the only closed slices fetched are those that closed in the last minute (${misses})`)
  t.equal(decisions2, 2 * open.length + misses, `the second score read those and the ${open.length} open slices of each arm, one page each, nothing else (the first read ${decisions1})`)
  t.equal(second.verdict, first.verdict)
})
