/**
 * The proof: a real go-plugin host (hashicorp/go-plugin from Debian, netrpc over yamux with
 * gob; test/go-host/src/agentcanary/cmd/host) starts the bundled TypeScript plugin with Argo's
 * HandshakeConfig, dispenses RpcMetricProviderPlugin and calls every method with Go structs
 * mirroring Argo's v1alpha1 types, against a stub gate started here. The host itself fails on
 * any protocol break; this file checks what each reply says.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { goProgram } from './helpers/go.js'
import { buildPluginForTest } from './helpers/plugin-build.js'
import { STUB_API_KEY, startStubGate } from './helpers/stub-gate.js'

interface MeasurementReport { phase: string, message: string, value: string, metadata: Record<string, string> | null, startedAt?: string, finishedAt?: string }
interface Report {
  ping: boolean
  init: string
  type: string
  metadata: Record<string, string>
  runs: Record<string, MeasurementReport>
  concurrent: { calls: number, mismatches: number }
  large: { bytes: number, phase: string }
  resume: MeasurementReport
  terminate: MeasurementReport
  gc: string
  badConfig: MeasurementReport
  noConfig: MeasurementReport
  unknownMethod: string
  wrongArgs: string
  pingAfterError: boolean
  secondDispense: string
  exited: boolean
  graceful: boolean
  pluginLogAtInfo: boolean
  hostLog: string
}

t.test('a go-plugin host drives the plugin through every method', async (t) => {
  const host = await goProgram(t, 'host')
  if (host === undefined) return
  const plugin = await buildPluginForTest(t)
  const gate = await startStubGate()
  t.teardown(gate.close)

  // metav1.Time keeps whole seconds: the run cannot have started before this second.
  const before = Math.floor(Date.now() / 1000) * 1000
  const { stdout } = await promisify(execFile)(host, ['check', plugin.launcher, gate.url], { maxBuffer: 64 << 20, timeout: 90_000 })
  const after = Date.now()
  const r = JSON.parse(stdout) as Report

  t.equal(r.ping, true, 'Control.Ping answered')
  t.equal(r.init, '', 'InitPlugin: no error')
  t.equal(r.type, 'RPCPlugin', 'Type')
  t.strictSame(r.metadata, { stage: 'canary-1', gate: `${gate.url}/api/v1/score` }, 'GetMetadata: stage and score URL')

  const healthy = r.runs.healthy
  t.match(healthy, { phase: 'Successful', value: '97', message: 'pass: score 97 at canary-1 | policy deny rate 0.4% within 3.0% | https://canary-gate.example/decisions/dec-healthy' }, 'pass -> Successful, Value = score, Message = the one line with the link')
  t.strictSame(healthy?.metadata, {
    verdict: 'pass',
    score: '97',
    stage: 'canary-1',
    canary: 'support-agent-healthy',
    baseline: 'support-agent-stable',
    decisionId: 'dec-healthy',
    reportUrl: 'https://canary-gate.example/decisions/dec-healthy',
    reasons: 'policy deny rate 0.4% within 3.0%; job failure rate 1.1% within 2.0%; approval backlog 2 pending',
  }, 'metadata: verdict, score, decision id and page, top three reasons')
  t.ok(healthy?.startedAt !== undefined && healthy.finishedAt !== undefined, 'StartedAt and FinishedAt set')
  t.ok(Date.parse(healthy?.startedAt ?? '') <= Date.parse(healthy?.finishedAt ?? ''), 'StartedAt <= FinishedAt')
  const finished = Date.parse(healthy?.finishedAt ?? '')
  t.ok(before <= finished && finished <= after, `FinishedAt falls while the host ran (decoded by Go as metav1.Time): ${healthy?.finishedAt ?? ''}`)

  t.match(r.runs['too-new'], { phase: 'Inconclusive', value: '50', metadata: { verdict: 'inconclusive' } }, 'inconclusive -> Inconclusive')
  t.match(r.runs['deny-spike'], { phase: 'Failed', value: '0', message: /^fail: score 0 at canary-1 \| policy deny rate 8\.1% .* \| https:\/\/canary-gate\.example\/decisions\/dec-deny$/, metadata: { verdict: 'fail', decisionId: 'dec-deny', reportUrl: 'https://canary-gate.example/decisions/dec-deny' } }, 'fail -> Failed')
  t.match(r.runs.broken, { phase: 'Error', value: '', message: /HTTP 500: cordum unreachable/ }, 'gate 500 -> Error, never Successful')
  t.match(r.runs.slow, { phase: 'Error', message: /did not answer within 1s/ }, 'slow gate -> Error after timeoutSeconds')
  t.match(r.runs.garbage, { phase: 'Error', message: /invalid body.*verdict is "maybe"/ }, 'invalid body -> Error')
  t.match(r.runs.locked, { phase: 'Error', message: /HTTP 401/ }, 'refused key -> Error')
  for (const [name, m] of Object.entries(r.runs)) {
    if (m.phase === 'Error') t.notOk(m.metadata !== null && 'verdict' in m.metadata, `${name}: an Error carries no verdict`)
  }

  t.strictSame(r.concurrent, { calls: 48, mismatches: 0 }, '48 concurrent Run calls, each answered with its own reply')
  t.ok(r.large.bytes > 256 * 1024, `large message: ${r.large.bytes} bytes, more than one yamux window`)
  t.equal(r.large.phase, 'Successful', 'large message measured')

  const prior = { phase: 'Successful', message: 'earlier', value: '96', metadata: { verdict: 'pass' }, startedAt: '2026-11-26T09:00:00Z', finishedAt: '2026-11-26T09:00:01.5Z' }
  t.match(r.resume, prior, 'Resume returns the measurement unchanged (times round-trip through gob)')
  t.match(r.terminate, prior, 'Terminate returns the measurement unchanged')
  t.equal(r.gc, '', 'GarbageCollect: no error')

  t.match(r.badConfig, { phase: 'Error', message: /unknown key 'stagee'; did you mean 'stage'\?/ }, 'a misspelt config key is an Error naming it')
  t.match(r.noConfig, { phase: 'Error', message: /missing: set provider\.plugin\["cordum\/agent-canary-gate"\]/ }, 'no config -> Error')
  t.equal(r.unknownMethod, "rpc: can't find method Plugin.Nope", 'unknown method: net/rpc error text')
  t.match(r.wrongArgs, /^invalid args GetMetadataArgs/, 'wrong argument type: Argo server error text')
  t.equal(r.pingAfterError, true, 'the connection survives error replies')
  t.equal(r.secondDispense, 'RPCPlugin', 'a second Dispense gets its own broker stream')

  t.equal(r.exited, true, 'the plugin exits after Kill')
  t.equal(r.graceful, true, 'it exits through Control.Quit, not a forced kill')
  t.equal(r.pluginLogAtInfo, true, "the host re-logs the plugin's JSON stderr lines at their level ([INFO])")

  const healthyRequest = gate.requests.find((q) => q.body.canary === 'support-agent-healthy')
  t.strictSame(healthyRequest?.body, {
    stage: 'canary-1',
    canary: 'support-agent-healthy',
    baseline: 'support-agent-stable',
    namespace: 'agents',
    rollout: 'support-agent',
    revision: '7',
  }, 'score request filled from the AnalysisRun: namespace, owning Rollout, revision, hashes (no since: the canary\'s own window)')
  t.equal(healthyRequest?.headers['x-api-key'], STUB_API_KEY, 'API key sent as X-API-Key')
  t.equal(healthyRequest?.url, '/api/v1/score')

  const everything = JSON.stringify({ ...r, hostLog: undefined }) + r.hostLog
  t.notOk(everything.includes(STUB_API_KEY), 'the API key appears in no reply and no log line')
})
