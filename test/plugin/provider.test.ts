/**
 * The provider's behaviour without the wire: plugin config, how the score request is filled
 * from the AnalysisRun, verdict -> phase mapping, and that upstream failures never pass.
 */
import t from 'tap'
import { GateError } from '../../src/errors.js'
import type { AnalysisRunView, MetricView } from '../../src/plugin/argo.js'
import { parsePluginConfig, scoreUrl } from '../../src/plugin/config.js'
import type { ScoreRequest, ScoreVerdict } from '../../src/plugin/gate-client.js'
import { decodeGoTime } from '../../src/plugin/gob/time.js'
import { PluginLogger } from '../../src/plugin/log.js'
import { GateMetricProvider, scoreRequest } from '../../src/plugin/provider.js'

const SECRET = 's3cr3t-api-key'
const cfg = (o: Record<string, unknown>): Uint8Array => Buffer.from(JSON.stringify(o))
const base = { address: 'http://gate.argo-rollouts.svc:8080', stage: 'canary-1', apiKey: SECRET }

function run (over: Partial<AnalysisRunView> = {}): AnalysisRunView {
  return {
    name: 'support-agent-6d4f8b7c9-7-2',
    namespace: 'agents',
    labels: new Map([['rollouts-pod-template-hash', '6d4f8b7c9']]),
    annotations: new Map([['rollout.argoproj.io/revision', '7']]),
    ownerReferences: [{ kind: 'Rollout', name: 'support-agent', controller: true }],
    args: new Map([['stable-hash', '5c7b9d2f1'], ['gate-api-key', SECRET]]),
    startedAt: '2026-11-26T09:00:00Z',
    creationTimestamp: '2026-11-26T08:59:58Z',
    ...over,
  }
}

t.test('plugin config: keys, defaults, refusals that name the key', async (t) => {
  const c = parsePluginConfig(cfg({ ...base, timeoutSeconds: '30', weight: '10', tenant: 'default', canary: ' ' }))
  t.equal(c.address.href, 'http://gate.argo-rollouts.svc:8080/')
  t.equal(c.timeoutSeconds, 30, 'numbers may come as strings ({{args.*}} substitution)')
  t.equal(c.weight, 10)
  t.equal(c.canary, undefined, 'blank strings count as unset')
  t.equal(parsePluginConfig(cfg(base)).timeoutSeconds, 10, 'timeoutSeconds defaults to 10, like the web provider')
  t.equal(scoreUrl(new URL('http://h:1/gate')).href, 'http://h:1/gate/api/v1/score', 'a base path is kept')

  const refusals: Array<[unknown, RegExp]> = [
    [undefined, /missing: set provider\.plugin/],
    ['not json', /not valid JSON/],
    [[1], /must be a JSON object/],
    [{ ...base, adress: 'x' }, /unknown key 'adress'; did you mean 'address'\?/],
    [{ address: base.address }, /stage is required/],
    [{ stage: 'canary-1' }, /address is required/],
    [{ ...base, address: 'gate:8080' }, /address must be http or https|address is not a URL/],
    [{ ...base, address: 'ftp://gate' }, /address must be http or https, got ftp:/],
    [{ ...base, address: 'http://user:pw@gate' }, /must not carry credentials/],
    [{ ...base, timeoutSeconds: 0 }, /timeoutSeconds must be between 1 and 300, got 0/],
    [{ ...base, timeoutSeconds: 'soon' }, /timeoutSeconds must be a number, got a string that is not one/],
    [{ ...base, weight: 150 }, /weight must be between 0 and 100, got 150/],
    [{ ...base, stage: 5 }, /stage must be a string, got number/],
  ]
  for (const [input, pattern] of refusals) {
    const raw = input === undefined ? undefined : typeof input === 'string' ? Buffer.from(input) : cfg(input as Record<string, unknown>)
    t.throws(() => parsePluginConfig(raw), pattern, String(pattern))
  }
  try {
    parsePluginConfig(cfg({ ...base, timeoutSeconds: SECRET }))
    t.fail('a non-numeric timeout is refused')
  } catch (err) {
    t.ok(err instanceof GateError && err.code === 'GATE_ERR_PLUGIN_CONFIG', 'GATE_ERR_PLUGIN_CONFIG')
    t.match((err as Error).message, /timeoutSeconds must be a number/)
    t.notOk((err as Error).message.includes(SECRET), 'the value is not echoed')
  }
})

t.test('the score request comes from the AnalysisRun unless the config says otherwise', async (t) => {
  const c = parsePluginConfig(cfg(base))
  t.strictSame(scoreRequest(c, run()), {
    stage: 'canary-1',
    canary: 'support-agent-6d4f8b7c9',
    baseline: 'support-agent-5c7b9d2f1',
    namespace: 'agents',
    rollout: 'support-agent',
    revision: '7',
  }, 'namespace, owning Rollout, revision annotation, pod-template-hash label, stable-hash arg; no since: Argo\'s form, the canary\'s own window')

  t.equal(scoreRequest(c, run({ args: new Map([['canary-hash', 'abc']]) })).canary, 'support-agent-abc', 'a canary-hash arg wins over the label')
  t.equal(scoreRequest(parsePluginConfig(cfg({ ...base, agent: 'support' })), run()).canary, 'support-6d4f8b7c9', 'agent names the Cordum agent when it differs from the Rollout')
  const explicit = scoreRequest(parsePluginConfig(cfg({ ...base, canary: 'c-1', baseline: 'b-1', tenant: 't', topic: 'job.x', namespace: 'ns', rollout: 'r', revision: '9', weight: 25 })), run())
  t.strictSame(explicit, { stage: 'canary-1', canary: 'c-1', baseline: 'b-1', tenant: 't', topic: 'job.x', namespace: 'ns', rollout: 'r', revision: '9', weight: 25 }, 'config wins')
  t.equal(scoreRequest(c, run({ args: new Map() })).baseline, undefined, 'no stable hash: the gate picks its baseline')
  t.throws(() => scoreRequest(c, run({ ownerReferences: [], labels: new Map() })), /cannot tell the canary/)
})

type Call = { url: URL, body: ScoreRequest, apiKey?: string, timeoutMs: number }

function provider (answer: (req: ScoreRequest) => Promise<ScoreVerdict>): { p: GateMetricProvider, logs: string[], calls: Call[] } {
  const logs: string[] = []
  const calls: Array<{ url: URL, body: ScoreRequest, apiKey?: string, timeoutMs: number }> = []
  let clock = Date.UTC(2026, 10, 26, 10, 0, 0)
  const p = new GateMetricProvider({
    gate: { score: async (url, body, o) => { calls.push({ url, body, ...o }); clock += 25; return await answer(body) } },
    log: new PluginLogger({ write: (l: string) => logs.push(l) }, 'debug'),
    now: () => clock,
  })
  return { p, logs, calls }
}

const metric = (o: Record<string, unknown> = base): MetricView => ({ name: 'agent-canary-gate', pluginConfig: cfg(o) })
const verdict = (v: ScoreVerdict['verdict'], score: number): ScoreVerdict => ({ verdict: v, score, stage: 'canary-1', summary: `${v.toUpperCase()} ${score}`, reasons: ['r1', 'r2', 'r3', 'r4'], decisionId: 'dec-9', reportUrl: 'https://gate.example/decisions/dec-9' })

t.test('verdicts map to phases; the measurement carries score, the one line with its link, metadata and times', async (t) => {
  for (const [v, phase] of [['pass', 'Successful'], ['inconclusive', 'Inconclusive'], ['fail', 'Failed']] as const) {
    const { p, calls } = provider(async () => verdict(v, 88.5))
    const m = await p.run(run(), metric())
    t.equal(m.Phase, phase, `${v} -> ${phase}`)
    t.equal(m.Value, '88.5')
    t.equal(m.Message, `${v}: score 88.5 at canary-1 | r1 | https://gate.example/decisions/dec-9`, 'the line the web provider\'s ?view=argo gives: verdict, score, top reason, link')
    t.strictSame(m.Metadata, { verdict: v, score: '88.5', stage: 'canary-1', canary: 'support-agent-6d4f8b7c9', baseline: 'support-agent-5c7b9d2f1', decisionId: 'dec-9', reportUrl: 'https://gate.example/decisions/dec-9', reasons: 'r1; r2; r3' })
    t.equal(decodeGoTime(m.StartedAt as Uint8Array).epochMs, Date.UTC(2026, 10, 26, 10, 0, 0))
    t.equal(decodeGoTime(m.FinishedAt as Uint8Array).epochMs, Date.UTC(2026, 10, 26, 10, 0, 0, 25))
    t.equal(calls[0]?.apiKey, SECRET)
    t.equal(calls[0]?.timeoutMs, 10_000)
    t.equal(calls[0]?.url.href, 'http://gate.argo-rollouts.svc:8080/api/v1/score')
  }
})

t.test('an upstream failure or a bad config is an Error measurement, never Successful, and leaks no secret', async (t) => {
  const failures = [
    new GateError('GATE_ERR_UPSTREAM_UNREACHABLE', 'gate unreachable at http://gate/api/v1/score: ECONNREFUSED', { source: 'gate' }),
    new GateError('GATE_ERR_UPSTREAM_TIMEOUT', 'gate did not answer within 10s', { source: 'gate' }),
    new Error('something odd'),
  ]
  for (const failure of failures) {
    const { p, logs } = provider(async () => { throw failure })
    const m = await p.run(run(), metric())
    t.equal(m.Phase, 'Error', failure.message)
    t.match(m.Message, failure.message)
    t.notOk('verdict' in (m.Metadata ?? {}), 'no verdict on an Error')
    t.ok(m.FinishedAt !== undefined && m.StartedAt !== undefined)
    t.notOk(logs.join('').includes(SECRET), 'API key not logged')
    t.notOk(JSON.stringify(m).includes(SECRET), 'API key not in the measurement')
  }
  const { p, calls } = provider(async () => verdict('pass', 100))
  const bad = await p.run(run(), metric({ ...base, stage: undefined }))
  t.equal(bad.Phase, 'Error')
  t.match(bad.Message, /stage is required/)
  t.equal(calls.length, 0, 'the gate is not asked with a bad config')
})

t.test('the other methods do what Argo expects of a synchronous provider', async (t) => {
  const { p } = provider(async () => verdict('pass', 100))
  t.strictSame(p.initPlugin(), { ErrorString: '' })
  t.equal(p.type(), 'RPCPlugin')
  t.strictSame(p.garbageCollect(), { ErrorString: '' })
  const prior = { Phase: 'Successful', Message: 'earlier', Value: '96' }
  t.equal(p.resume(run(), metric(), prior), prior, 'Resume: unchanged')
  t.equal(p.terminate(run(), metric(), prior), prior, 'Terminate: unchanged')
  t.strictSame(p.getMetadata(metric()), { stage: 'canary-1', gate: 'http://gate.argo-rollouts.svc:8080/api/v1/score' })
  t.match(p.getMetadata(metric({ stage: 'x' })), { error: /address is required/ })
  t.notOk(JSON.stringify(p.getMetadata(metric())).includes(SECRET))
})
