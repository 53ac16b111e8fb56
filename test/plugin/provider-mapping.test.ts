/**
 * The plugin's measurement at its edges (src/plugin/provider.ts, pinned by `npm run mutate`):
 * which Rollout owns a run, when the canary and baseline can be named, which values a score
 * request leaves out, the metadata of each measurement, and the log line each outcome writes.
 * The main cases are test/plugin/provider.test.ts.
 */
import t from 'tap'
import { GateError } from '../../src/errors.js'
import type { AnalysisRunView, MetricView } from '../../src/plugin/argo.js'
import { parsePluginConfig } from '../../src/plugin/config.js'
import type { ScoreVerdict } from '../../src/plugin/gate-client.js'
import { PluginLogger } from '../../src/plugin/log.js'
import { GateMetricProvider, scoreRequest } from '../../src/plugin/provider.js'

const config = { address: 'http://gate:8080', stage: 'canary-1' }
const metric = (o: Record<string, unknown> = config): MetricView => ({ name: 'gate', pluginConfig: Buffer.from(JSON.stringify(o)) })

function analysisRun (over: Partial<AnalysisRunView> = {}): AnalysisRunView {
  return {
    name: 'run-1',
    namespace: 'agents',
    labels: new Map([['rollouts-pod-template-hash', 'c1']]),
    annotations: new Map(),
    ownerReferences: [{ kind: 'Rollout', name: 'support-agent', controller: true }],
    args: new Map([['stable-hash', 's1']]),
    startedAt: '2026-11-26T09:00:00Z',
    ...over,
  }
}

const request = (run: AnalysisRunView, o: Record<string, unknown> = {}): ReturnType<typeof scoreRequest> => scoreRequest(parsePluginConfig(Buffer.from(JSON.stringify({ ...config, ...o }))), run)

/** A provider whose gate answers `answer` 40 ms after the question, and the log lines it wrote. */
function provider (answer: () => ScoreVerdict): { p: GateMetricProvider, logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = []
  let clock = Date.UTC(2026, 10, 26, 10, 0, 0)
  const p = new GateMetricProvider({
    gate: { score: async () => { clock += 40; return answer() } },
    log: new PluginLogger({ write: (line: string) => logs.push(JSON.parse(line)) }, 'debug', 'agent-canary-gate', () => clock),
    now: () => clock,
  })
  return { p, logs }
}

const fields = (line: Record<string, unknown> | undefined): Record<string, unknown> => {
  const { '@timestamp': _, '@module': __, ...rest } = line ?? {}
  return rest
}

t.test('the owning Rollout: the controller among the Rollouts, else the first Rollout; other kinds never', async (t) => {
  const owners = (...refs: AnalysisRunView['ownerReferences']): string | undefined => request(analysisRun({ ownerReferences: refs })).rollout
  t.equal(owners({ kind: 'Rollout', name: 'old', controller: false }, { kind: 'Rollout', name: 'support-agent', controller: true }), 'support-agent', 'the controlling Rollout, though listed second')
  t.equal(owners({ kind: 'Experiment', name: 'exp', controller: true }, { kind: 'Rollout', name: 'support-agent', controller: false }), 'support-agent', 'a controlling owner of another kind is not the Rollout')
  t.equal(owners({ kind: 'Rollout', name: 'support-agent', controller: false }), 'support-agent', 'a Rollout that does not control the run still names it')
  t.equal(request(analysisRun({ ownerReferences: [{ kind: 'Experiment', name: 'exp', controller: true }] }), { canary: 'c' }).rollout, undefined, 'no Rollout: none')
})

t.test('canary and baseline are named from the agent and a hash only when both are known', async (t) => {
  const orphan = analysisRun({ ownerReferences: [], args: new Map([['canary-hash', 'c2'], ['stable-hash', 's1']]) })
  t.throws(() => request(orphan), /cannot tell the canary/, 'a hash without an agent or Rollout names no canary')
  const named = request(orphan, { canary: 'support-agent-c2' })
  t.equal(named.canary, 'support-agent-c2')
  t.notOk('baseline' in named, 'nor a baseline: the gate picks its own')
  t.equal(request(analysisRun({ ownerReferences: [] }), { agent: 'support', canary: 'x' }).baseline, 'support-s1', 'an agent from the config is enough')
})

t.test('empty values are left out of the score request', async (t) => {
  const body = request(analysisRun({ namespace: '', annotations: new Map([['rollout.argoproj.io/revision', '']]), startedAt: '' }))
  t.strictSame(body, { stage: 'canary-1', canary: 'support-agent-c1', baseline: 'support-agent-s1', rollout: 'support-agent' }, 'no namespace, revision or since')
})

t.test('a measured verdict: metadata without an absent baseline or reasons, and one info line', async (t) => {
  const { p, logs } = provider(() => ({ verdict: 'inconclusive', score: 80, summary: 'HOLD', reasons: [] }))
  const m = await p.run(analysisRun({ args: new Map() }), metric())
  t.equal(m.Phase, 'Inconclusive')
  t.strictSame(m.Metadata, { verdict: 'inconclusive', score: '80', stage: 'canary-1', canary: 'support-agent-c1' })
  t.strictSame(logs.map(fields), [{ run: 'run-1', namespace: 'agents', metric: 'gate', stage: 'canary-1', canary: 'support-agent-c1', verdict: 'inconclusive', score: 80, ms: 40, '@level': 'info', '@message': 'measured' }])
})

t.test('a failing gate: Error with the request named in its metadata, and one warn line', async (t) => {
  const { p, logs } = provider(() => { throw new GateError('GATE_ERR_UPSTREAM_TIMEOUT', 'gate did not answer within 10s') })
  const m = await p.run(analysisRun(), metric())
  t.equal(m.Phase, 'Error')
  t.equal(m.Message, 'gate did not answer within 10s')
  t.strictSame(m.Metadata, { stage: 'canary-1', canary: 'support-agent-c1', baseline: 'support-agent-s1' })
  t.strictSame(logs.map(fields), [{ run: 'run-1', namespace: 'agents', metric: 'gate', stage: 'canary-1', canary: 'support-agent-c1', baseline: 'support-agent-s1', error: 'gate did not answer within 10s', ms: 40, '@level': 'warn', '@message': 'gate failed: Error measurement' }])
  const other = provider(() => { throw new TypeError('fetch failed') })
  t.equal((await other.p.run(analysisRun(), metric())).Message, 'gate call failed: fetch failed', 'an error that is not the gate\'s own is named as a failed call')
})

t.test('a bad plugin config: Error without metadata, and one warn line', async (t) => {
  const { p, logs } = provider(() => { throw new Error('not asked') })
  const m = await p.run(analysisRun(), metric({ address: 'http://gate:8080' }))
  t.equal(m.Phase, 'Error')
  t.equal(m.Metadata, undefined, 'nothing to name: no request was made')
  t.equal(logs.length, 1)
  t.match(fields(logs[0]), { run: 'run-1', namespace: 'agents', metric: 'gate', error: /stage is required/, '@level': 'warn', '@message': 'measurement refused: bad plugin config' })
})

t.test('terminate writes one debug line and keeps the measurement', async (t) => {
  const { p, logs } = provider(() => { throw new Error('not asked') })
  const prior = { Phase: 'Running' }
  t.equal(p.terminate(analysisRun(), metric(), prior), prior)
  t.strictSame(logs.map(fields), [{ run: 'run-1', metric: 'gate', '@level': 'debug', '@message': 'terminate: nothing in flight' }])
})
