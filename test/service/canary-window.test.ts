/**
 * The canary's own window: a question in Argo's form (no `since`) is judged from the canary's
 * first event, not over hours when only the baseline ran; a growing analysis keeps that start;
 * and a question with an explicit `since` judges itself only (issue 20, item 5). Real SQLite
 * evidence store, a source whose first event and observations the test controls.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { defaultPolicy } from '../../src/config/load.js'
import type { SignalSpec } from '../../src/config/policy.js'
import { EvidenceRecorder } from '../../src/evidence/recorder.js'
import { SqliteStore } from '../../src/evidence/sqlite.js'
import { GateError } from '../../src/errors.js'
import type { SignalObservation } from '../../src/gate/observations.js'
import { SourceRegistry } from '../../src/sources/registry.js'
import type { FirstSeenRequest, ObservationRequest, SignalSource } from '../../src/sources/source.js'
import { ScoreService } from '../../src/service/score.js'
import { healthy } from '../helpers/policy.js'

const never = new AbortController().signal
const HOUR = 3_600_000
const T = Date.UTC(2026, 10, 26, 12, 0, 0)

/** A source whose canary started at `started` (undefined: never seen) and whose every signal is healthy. */
function source (started: () => number | undefined, fail?: () => boolean): SignalSource & { asked: ObservationRequest[], firstAsked: FirstSeenRequest[] } {
  const asked: ObservationRequest[] = []
  const firstAsked: FirstSeenRequest[] = []
  const h = healthy()
  return {
    name: 'cordum',
    asked,
    firstAsked,
    async observe (req: ObservationRequest, specs: SignalSpec[]) {
      asked.push(req)
      return Object.fromEntries(specs.map((s) => [s.name, h[s.name] ?? { unavailable: { code: 'GATE_ERR_UNAVAILABLE', reason: 'not in this test' } }])) as Record<string, SignalObservation>
    },
    async firstSeen (req: FirstSeenRequest) {
      firstAsked.push(req)
      if (fail?.() === true) throw new GateError('GATE_ERR_UPSTREAM_UNREACHABLE', 'Cordum unreachable', { source: 'cordum' })
      const at = started()
      return at === undefined || at < req.since.getTime() || at > req.until.getTime() ? undefined : new Date(at)
    },
    async ready () {},
    async close () {},
  }
}

function service (t: Test, src: SignalSource, clock: () => number): { s: ScoreService, store: SqliteStore } {
  const dir = mkdtempSync(join(tmpdir(), 'canary-window-'))
  const store = new SqliteStore(dir, { now: clock })
  t.teardown(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) })
  const policy = defaultPolicy()
  const recorder = new EvidenceRecorder({ store, policy, gateVersion: 'test', sourceVersions: async () => ({}) })
  // No answer reuse: every question is evaluated and recorded on its own.
  return { s: new ScoreService({ policy, sources: new SourceRegistry([src]), defaultTenant: 'default', now: clock, recorder, answerTtlMs: 0, cacheTtlMs: 0 }), store }
}

const argo = { stage: 'canary-1', canary: 'support-agent-c1', baseline: 'support-agent-s1', namespace: 'agents', rollout: 'support-agent', revision: '7', weight: 10 }

t.test('Argo\'s form: the window starts at the canary\'s first event, the baseline over the same window', async (t) => {
  let now = T
  const started = T - 25 * 60_000
  const src = source(() => started)
  const { s, store } = service(t, src, () => now)
  await s.score(argo, never)
  const first = src.asked[0] as ObservationRequest
  t.equal(first.since.toISOString(), new Date(started).toISOString(), 'since = the canary\'s first event, not until - 3 h')
  t.equal(first.baseline, 'support-agent-s1', 'one request, one window: the baseline is read over it too')
  t.equal(src.firstAsked[0]?.since.toISOString(), new Date(T - 3 * HOUR).toISOString(), 'the first event is looked for within the lifetime')
  const record = (await store.list({}, { limit: 1, order: 'desc' })).items[0]
  t.equal(record?.request.windowRule, 'canary', 'the record says how the start was chosen')

  now += 5 * 60_000
  src.firstAsked.length = 0
  await s.score(argo, never)
  t.equal(src.asked[1]?.since.toISOString(), new Date(started).toISOString(), 'the next look keeps the analysis\'s start')
  t.equal(src.firstAsked.length, 0, 'from the evidence store, without asking the source again')
  t.equal((await store.list({}, { limit: 1, order: 'desc' })).items[0]?.request.windowRule, 'analysis')
})

t.test('a canary older than the lifetime, or never seen: the lifetime', async (t) => {
  const src = source(() => T - 5 * HOUR)
  const { s } = service(t, src, () => T)
  await s.score({ ...argo, rollout: undefined }, never)
  t.equal(src.asked[0]?.since.toISOString(), new Date(T - 3 * HOUR).toISOString())
  const unseen = source(() => undefined)
  await service(t, unseen, () => T).s.score(argo, never)
  t.equal(unseen.asked[0]?.since.toISOString(), new Date(T - 3 * HOUR).toISOString())
})

t.test('an analysis whose first look saw no canary yet takes the canary\'s start once it shows', async (t) => {
  let now = T
  // Set later in the test, read by the source through the closure: a box, not a let.
  const canary: { started?: number } = {}
  const src = source(() => canary.started)
  const { s } = service(t, src, () => now)
  await s.score(argo, never)
  t.equal(src.asked[0]?.since.toISOString(), new Date(T - 3 * HOUR).toISOString(), 'nothing of the canary yet: the lifetime')
  canary.started = T + 2 * 60_000
  now = T + 5 * 60_000
  await s.score(argo, never)
  t.equal(src.asked[1]?.since.toISOString(), new Date(canary.started ?? 0).toISOString(), 'then its first event')
  now = T + 10 * 60_000
  await s.score(argo, never)
  t.equal(src.asked[2]?.since.toISOString(), new Date(canary.started ?? 0).toISOString(), 'and that start is kept')
})

t.test('an explicit since judges that request only: the next question in Argo\'s form gets the canary\'s window', async (t) => {
  let now = T
  const started = T - 40 * 60_000
  const src = source(() => started)
  const { s } = service(t, src, () => now)
  await s.score({ ...argo, since: '5m' }, never)
  t.equal(src.asked[0]?.since.toISOString(), new Date(T - 5 * 60_000).toISOString(), 'the request\'s own window')
  now += 60_000
  await s.score(argo, never)
  t.equal(src.asked[1]?.since.toISOString(), new Date(started).toISOString(), 'not shortened by the earlier since')
  now += 60_000
  await s.score({ ...argo, since: '2026-11-26T11:30:00Z' }, never)
  now += 60_000
  await s.score(argo, never)
  t.equal(src.asked[3]?.since.toISOString(), new Date(started).toISOString(), 'nor by a later one')
})

t.test('a failing upstream while finding the start: on_source_error decides, never a pass', async (t) => {
  const src = source(() => T - HOUR, () => true)
  for (const onSourceError of ['inconclusive', 'error'] as const) {
    const policy = defaultPolicy()
    const stage = policy.policy.stages['canary-1']
    if (stage === undefined) throw new Error('no canary-1')
    stage.onSourceError = onSourceError
    const s = new ScoreService({ policy, sources: new SourceRegistry([src]), defaultTenant: 'default', now: () => T, answerTtlMs: 0, cacheTtlMs: 0 })
    if (onSourceError === 'error') {
      await t.rejects(s.score(argo, never), { code: 'GATE_ERR_UPSTREAM_UNREACHABLE' }, 'on_source_error error: the request fails')
      continue
    }
    src.asked.length = 0
    const r = await s.score(argo, never)
    t.equal(r.verdict, 'inconclusive', 'on_source_error inconclusive: inconclusive')
    t.same(r.reasonCodes, ['source_unavailable'])
    t.match(r.reasons.join(' '), /Cordum unreachable/, 'for the failure met while finding the start')
    t.equal(src.asked.length, 0, 'which is not met a second time (a second deadline) by the observation')
  }
})

/**
 * A rollout's traffic: 300 decisions a minute, the canary's share `share(t)`; the deny-rate
 * counts of any window are the integral of that, per arm.
 */
function rollout (share: (t: number) => number, started: number): SignalSource & { asked: ObservationRequest[] } {
  const h = healthy()
  const asked: ObservationRequest[] = []
  const count = (since: number, until: number, arm: 'canary' | 'baseline'): number => {
    let n = 0
    for (let m = Math.ceil(since / 60_000) * 60_000; m <= until; m += 60_000) n += 300 * (arm === 'canary' ? share(m) : 1 - share(m))
    return Math.round(n)
  }
  return {
    name: 'cordum',
    asked,
    async observe (req: ObservationRequest, specs: SignalSpec[]) {
      asked.push(req)
      const out: Record<string, SignalObservation> = {}
      for (const s of specs) {
        out[s.name] = s.name === 'policy_deny_rate'
          ? { canary: { n: count(req.since.getTime(), req.until.getTime(), 'canary'), k: 0 }, baseline: { n: count(req.since.getTime(), req.until.getTime(), 'baseline'), k: 0 } }
          : h[s.name] ?? { unavailable: { code: 'GATE_ERR_UNAVAILABLE', reason: 'not in this test' } }
      }
      return out
    },
    async firstSeen (req: FirstSeenRequest) {
      return started >= req.since.getTime() && started <= req.until.getTime() ? new Date(started) : undefined
    },
    async ready () {},
    async close () {},
  }
}

t.test('the traffic split per step: checked since the step\'s weight took effect, not over the canary\'s life', async (t) => {
  const S1 = T - 3 * HOUR + 30 * 60_000
  const S2 = S1 + 90 * 60_000
  for (const [name, at25, want] of [['the weight took effect', 0.25, 'ok'], ['the canary still has 10% at the 25% step', 0.1, 'mismatch']] as const) {
    let now = S1 + 10 * 60_000
    const src = rollout((m) => m < S1 ? 0 : m < S2 ? 0.1 : at25, S1)
    const { s } = service(t, src, () => now)
    const c1 = await s.score({ ...argo, weight: 10 }, never)
    t.equal(c1.trafficSplit.status, 'ok', `${name}: 10%, the first weight: the canary's own window is the step`)
    now = S2 + 5 * 60_000
    const first = await s.score({ ...argo, stage: 'canary-2', weight: 25 }, never)
    t.equal(first.trafficSplit.status, 'not_checked', `${name}: the step's first question has no events of the step yet`)
    t.match(first.trafficSplit.reason, /no events since this step's weight took effect/)
    t.notOk(first.reasonCodes.includes('traffic_split_mismatch'), 'so it is no mismatch, though the window mixes 10% and 25%')
    now = S2 + 15 * 60_000
    const second = await s.score({ ...argo, stage: 'canary-2', weight: 25 }, never)
    t.equal(second.trafficSplit.status, want, `${name}: the next question checks the 10 minutes since the first`)
    t.equal(second.window.since, new Date(S1).toISOString(), 'while the signals are judged over the canary\'s whole window')
    if (want === 'mismatch') t.ok(second.reasonCodes.includes('traffic_split_mismatch'))
    else t.match(second.trafficSplit.reason, new RegExp(`since ${new Date(S2 + 5 * 60_000).toISOString()}`))
  }
})

t.test('the split window is the same for every replica: kept in the evidence store', async (t) => {
  const S1 = T - 2 * HOUR
  const S2 = S1 + 60 * 60_000
  let now = S1 + 10 * 60_000
  const dir = mkdtempSync(join(tmpdir(), 'canary-window-'))
  const store = new SqliteStore(dir, { now: () => now })
  t.teardown(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) })
  const replica = (): ScoreService => new ScoreService({ policy: defaultPolicy(), sources: new SourceRegistry([rollout((m) => m < S2 ? 0.1 : 0.25, S1)]), defaultTenant: 'default', now: () => now, recorder: new EvidenceRecorder({ store, policy: defaultPolicy(), gateVersion: 'test', sourceVersions: async () => ({}) }), answerTtlMs: 0, cacheTtlMs: 0 })
  const [a, b] = [replica(), replica()]
  await a.score({ ...argo, weight: 10 }, never)
  now = S2 + 5 * 60_000
  await a.score({ ...argo, stage: 'canary-2', weight: 25 }, never)
  now = S2 + 10 * 60_000
  const fromB = await b.score({ ...argo, stage: 'canary-2', weight: 25 }, never)
  t.match(fromB.trafficSplit.reason, new RegExp(`since ${new Date(S2 + 5 * 60_000).toISOString()}`), 'replica b starts the step where replica a first heard of it')
})

t.test('warming: a source still reading a cold window makes the answer inconclusive (warming, with progress), whatever on_source_error says', async (t) => {
  const warmingSource: SignalSource = {
    name: 'cordum',
    async observe () {
      throw new GateError('GATE_ERR_UPSTREAM_TIMEOUT', 'Cordum\'s decision log is still being read: 7 of 24 time slices of agent \'support-agent-c1\' counted', { source: 'cordum', details: { warming: { done: 7, total: 24 } } })
    },
    async ready () {},
    async close () {},
  }
  const policy = defaultPolicy()
  const stage = policy.policy.stages['canary-1']
  if (stage === undefined) throw new Error('no canary-1')
  stage.onSourceError = 'error'
  const s = new ScoreService({ policy, sources: new SourceRegistry([warmingSource]), defaultTenant: 'default', now: () => T, answerTtlMs: 0 })
  const r = await s.score({ ...argo, rollout: undefined }, never)
  t.equal(r.verdict, 'inconclusive')
  t.equal(r.reasonCodes[0], 'warming')
  t.match(r.reasons[0], /^warming up: Cordum's decision log is still being read: 7 of 24 time slices .*; ask again$/)
  t.match(r.summary, /INCONCLUSIVE at canary-1 .*warming up/)
  const timeout: SignalSource = { ...warmingSource, async observe () { throw new GateError('GATE_ERR_UPSTREAM_TIMEOUT', 'Cordum did not answer', { source: 'cordum' }) } }
  const plain = new ScoreService({ policy, sources: new SourceRegistry([timeout]), defaultTenant: 'default', now: () => T, answerTtlMs: 0 })
  await t.rejects(plain.score({ ...argo, rollout: undefined }, never), { code: 'GATE_ERR_UPSTREAM_TIMEOUT' }, 'a plain timeout is still an error (Argo retries)')
})
