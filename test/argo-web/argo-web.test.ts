// The Go harness against a stand-in gate that answers a scripted sequence: the web request it
// makes, Argo's condition evaluation and metric rules, and the timing of every shipped
// template (the numbers docs/argo.md states). The real gate is exercised in gate.test.ts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { metricTiming } from '../helpers/argo/timing.js'
import { shippedManifests, templateCatalog } from '../helpers/argo/validate.js'
import { argoLine } from '../../src/report/argo-line.js'
import { assess, metricRules, newMetricState, record, type MeasurementPhase } from '../../src/simulate/analysis.js'
import { buildHarness, needGoHarness, rolloutArgs, runHarness, type HarnessResult } from './harness.js'

type Answer = { status?: number, body: unknown } | 'pass' | 'fail' | 'inconclusive' | 503
interface Recorded { method: string, url: string, headers: IncomingMessage['headers'], body: string }

const SECRET = 'test-key-7f3a9c'
const TEMPLATES = 'analysis-templates/analysis-templates.yaml'

function scoreBody (verdict: string): { verdict: string, score: number, stage: string, summary: string, reasons: string[], reportUrl: string } {
  return { verdict, score: verdict === 'pass' ? 97 : verdict === 'fail' ? 0 : 80, stage: 'canary-1', summary: `${verdict} (scripted)`, reasons: [`${verdict} because the script says so`], reportUrl: 'http://gate.example/decisions/01a00000-0000-7000-8000-000000000001' }
}

/** The answer as the gate gives it: with ?view=argo (what the templates ask), its one line as a JSON string. */
function answerFor (url: string, verdict: string): unknown {
  // A string body is sent as it is (see standIn), so the line is JSON-encoded here, as the gate does.
  return url.includes('view=argo') ? JSON.stringify(argoLine(scoreBody(verdict))) : scoreBody(verdict)
}

/** A gate that answers `script[i]` to the i-th request (the last answer repeats). */
async function standIn (script: Answer[]): Promise<{ url: string, requests: Recorded[], close: () => Promise<void> }> {
  const requests: Recorded[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const a = script[Math.min(requests.length - 1, script.length - 1)] as Answer
      const answer = a === 503
        ? { status: 503, body: { error: 'cordum unreachable', code: 'GATE_ERR_UPSTREAM_UNREACHABLE', source: 'cordum' } }
        : typeof a === 'string' ? { body: answerFor(req.url ?? '', a) } : a
      res.statusCode = answer.status ?? 200
      res.setHeader('content-type', 'application/json')
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, requests, close: async () => await new Promise<void>((resolve) => server.close(() => resolve())) }
}

const repeat = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x)

if (needGoHarness(t)) {
  const binary = await buildHarness(t)
  const outputs: string[] = []

  /** Plays `template` (canary-1 by default) against a stand-in answering `script`. */
  async function play (script: Answer[], opts: { name?: string, file?: string, args?: Record<string, string>, flags?: string[] } = {}): Promise<HarnessResult & { requests: Recorded[] }> {
    const gate = await standIn(script)
    try {
      const name = opts.name ?? 'agent-gate-canary-1'
      const weight: Record<string, string> = name === 'agent-gate-shadow' || name === 'agent-gate-background' ? {} : { weight: '10' }
      const r = await runHarness(binary, [
        '-template', opts.file ?? TEMPLATES, '-name', name,
        ...rolloutArgs(gate.url, 'healthy', { ...weight, ...opts.args }),
        '-secret', `agent-canary-gate-client/GATE_API_KEY=${SECRET}`,
        '-time-scale', '0',
        ...(opts.flags ?? []),
      ])
      outputs.push(r.stdout, r.stderr)
      return { ...r, requests: gate.requests }
    } finally {
      await gate.close()
    }
  }

  t.test('the request is the web provider\'s POST with the resolved args and the key from the Secret', async (t) => {
    const r = await play(['pass'])
    const req = r.requests[0]
    t.ok(req !== undefined)
    if (req === undefined) return
    t.equal(req.method, 'POST')
    t.equal(req.url, '/api/v1/score?view=argo', 'the one-line answer')
    t.equal(req.headers['content-type'], 'application/json')
    t.equal(req.headers['x-api-key'], SECRET)
    t.same(JSON.parse(req.body), {
      stage: 'canary-1',
      canary: 'support-agent-healthy',
      baseline: 'support-agent-stable',
      weight: '10',
      tenant: 'default',
      topic: 'job.support.reply',
      namespace: 'support',
      rollout: 'support-agent',
      revision: '3',
    })
  })

  t.test('arg values are JSON-escaped into the metric, as Argo resolves them', async (t) => {
    const topic = 'job.support "quoted"\nnext line \\ back'
    const r = await play(['pass'], { args: { topic } })
    t.equal(JSON.parse(r.requests[0]?.body ?? '{}').topic, topic)
  })

  // canary-1: first answer at once, every 5m, 3 passes in a row, at most 12 answers.
  const cases: Array<[string, Answer[], { phase: string, measurements: number, count: number, seconds: number, message?: RegExp }]> = [
    ['3 passes in a row end the run Successful (early promotion)', ['pass'], { phase: 'Successful', measurements: 3, count: 3, seconds: 600 }],
    ['early answers without data do not pause: 3 inconclusive, then 3 passes', [...repeat(3, 'inconclusive' as Answer), 'pass'], { phase: 'Successful', measurements: 6, count: 6, seconds: 1500 }],
    ['a window without a clear answer ends Inconclusive at its count', ['inconclusive'], { phase: 'Inconclusive', measurements: 12, count: 12, seconds: 3300 }],
    ['passes that never come 3 in a row end Inconclusive', repeat(4, ['pass', 'pass', 'inconclusive'] as Answer[]).flat(), { phase: 'Inconclusive', measurements: 12, count: 12, seconds: 3300 }],
    ['a streak completed by the last answer wins over the count', [...repeat(9, 'inconclusive' as Answer), 'pass'], { phase: 'Successful', measurements: 12, count: 12, seconds: 3300 }],
    ['any fail ends the run Failed at once, even after passes', ['pass', 'pass', 'fail'], { phase: 'Failed', measurements: 3, count: 3, seconds: 600, message: /^Metric "gate-verdict" assessed Failed due to failed \(1\) > failureLimit \(0\)$/ }],
    ['a fail after inconclusive answers ends Failed', ['inconclusive', 'inconclusive', 'fail'], { phase: 'Failed', measurements: 3, count: 3, seconds: 600 }],
    ['13 errors in a row end the run Error; errors do not count and retry after 10s', [503], { phase: 'Error', measurements: 13, count: 0, seconds: 120, message: /due to consecutiveErrors \(13\) > consecutiveErrorLimit \(12\): "Error Message: received non 2xx response code: 503"/ }],
    ['12 errors in a row are survived', [...repeat(12, 503 as Answer), 'pass'], { phase: 'Successful', measurements: 15, count: 3, seconds: 120 + 600 }],
    ['an error breaks a pass streak', ['pass', 'pass', 503, 'pass'], { phase: 'Successful', measurements: 6, count: 5, seconds: 600 + 10 + 600 }],
  ]
  for (const [what, script, want] of cases) {
    t.test(`canary-1: ${what}`, async (t) => {
      const { report, code, stderr } = await play(script)
      t.equal(code, 0, stderr)
      const m = report?.metrics[0]
      t.equal(report?.phase, want.phase)
      t.equal(m?.measurements.length, want.measurements, 'measurements taken')
      t.equal(m?.count, want.count, 'count (errors excluded)')
      t.equal(report?.virtualSeconds, want.seconds, 'Argo time at the end')
      if (want.message !== undefined) t.match(report?.message, want.message)
    })
  }

  t.test('the gate\'s one line is the measurement value: verdict, score, reason and link in a few hundred bytes', async (t) => {
    const { report } = await play(['pass', 'pass', 'fail'])
    const values = (report?.metrics[0]?.measurements ?? []).map((m) => m.value ?? '')
    t.same(values.map((v) => JSON.parse(v)), ['pass', 'pass', 'fail'].map((v) => argoLine(scoreBody(v))))
    t.match(JSON.parse(values[2] as string), /^fail: score 0 at canary-1 \| fail because the script says so \| http:\/\/gate\.example\/decisions\//)
    t.ok(values.every((v) => Buffer.byteLength(v) < 400), 'each value under 400 bytes')
  })

  t.test('a response the conditions cannot read is an Error measurement', async (t) => {
    const { report } = await play([{ body: [1, 2] }])
    const first = report?.metrics[0]?.measurements[0]
    t.equal(first?.phase, 'Error')
    t.match(first?.message, /startsWith/, 'the expr error names the operation')
    t.equal(report?.phase, 'Error')
  })

  t.test('Argo v1.9.1 passes a 2xx body that is not JSON whatever the conditions say (#4535)', async (t) => {
    const { report } = await play([{ body: 'OK' }])
    t.equal(report?.metrics[0]?.measurements[0]?.phase, 'Successful')
    t.equal(report?.phase, 'Successful', 'why the gate must answer JSON on every 2xx')
  })

  t.test('secret values are redacted from measurement messages', async (t) => {
    const gate = await standIn(['pass'])
    await gate.close() // nothing listens there now: the request fails and its error names the URL
    const r = await play(['pass'], { args: { 'gate-url': `${gate.url}/${SECRET}` } })
    const message = r.report?.metrics[0]?.measurements[0]?.message ?? ''
    t.match(message, /\*\*\*\*\*/)
    t.notMatch(message, SECRET)
  })

  // --- EvaluateResult and the metric rules, on small templates ---------------------------

  const dir = t.testdir()
  /** A one-metric template; a `jsonPath` key goes to the web provider, the rest to the metric. */
  function template ({ jsonPath, ...metric }: Record<string, unknown>): string {
    const file = join(dir, `t${Math.random().toString(36).slice(2)}.json`)
    const web = { url: '{{args.gate-url}}/probe', ...(jsonPath === undefined ? {} : { jsonPath }) }
    writeFileSync(file, JSON.stringify({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'probe' },
      spec: { args: [{ name: 'gate-url' }], metrics: [{ name: 'probe', provider: { web }, ...metric }] },
    }))
    return file
  }
  async function probe (metric: Record<string, unknown>, script: Answer[]): Promise<HarnessResult> {
    const gate = await standIn(script)
    try {
      const r = await runHarness(binary, ['-template', template(metric), '-arg', `gate-url=${gate.url}`, '-time-scale', '0'])
      outputs.push(r.stdout, r.stderr)
      return r
    } finally {
      await gate.close()
    }
  }
  const ab = (a: number, b: number): Answer => ({ body: { a, b } })
  const both = { successCondition: 'result.a == 1', failureCondition: 'result.b == 1' }

  const evaluation: Array<[string, Record<string, unknown>, Answer, string]> = [
    ['failure wins when both conditions are true', both, ab(1, 1), 'Failed'],
    ['neither true is Inconclusive', both, ab(0, 0), 'Inconclusive'],
    ['success only', both, ab(1, 0), 'Successful'],
    ['only a successCondition: false is Failed', { successCondition: 'result.a == 1' }, ab(0, 0), 'Failed'],
    ['only a failureCondition: false is Successful', { failureCondition: 'result.b == 1' }, ab(0, 0), 'Successful'],
    ['no condition is Successful', {}, ab(0, 0), 'Successful'],
    ['a non-bool condition is an Error', { successCondition: 'result.a' }, ab(1, 0), 'Error'],
    ['a condition that does not compile is an Error', { successCondition: 'result.a ==' }, ab(1, 0), 'Error'],
    ['asFloat on a non-number is an Error', { successCondition: 'asFloat(result.a) > 0' }, { body: { a: 'x' } }, 'Error'],
    ['jsonPath {$.a} hands the field to the condition', { jsonPath: '{$.a}', successCondition: 'result == 1', failureCondition: 'result == 2' }, ab(2, 0), 'Failed'],
    ['a jsonPath that finds nothing is an Error', { jsonPath: '{$.c}', successCondition: 'result == 1' }, ab(1, 0), 'Error'],
  ]
  for (const [what, metric, answer, phase] of evaluation) {
    t.test(`EvaluateResult: ${what}`, async (t) => {
      const { report, stderr } = await probe(metric, [answer])
      t.equal(report?.metrics[0]?.measurements[0]?.phase, phase, stderr)
    })
  }

  t.test('an Error measurement carries the reason', async (t) => {
    const missing = await probe({ jsonPath: '{$.c}' }, [ab(1, 0)])
    t.equal(missing.report?.metrics[0]?.measurements[0]?.message, 'Could not find JSONPath in body: c is not found')
    const nonBool = await probe({ successCondition: 'result.a' }, [ab(1, 0)])
    t.equal(nonBool.report?.metrics[0]?.measurements[0]?.message, 'expected bool, but got float64')
    t.equal(nonBool.report?.metrics[0]?.measurements.length, 5, 'the default consecutiveErrorLimit is 4: the 5th error in a row ends the run')
    t.equal(nonBool.report?.phase, 'Error')
  })

  const rules: Array<[string, Record<string, unknown>, Answer[], string, number]> = [
    ['count reached with only consecutiveSuccessLimit applicable is Failed', { count: 3, interval: '1m', failureLimit: -1, consecutiveSuccessLimit: 3, inconclusiveLimit: 3, ...both }, [ab(1, 0), ab(0, 0), ab(1, 0)], 'Failed', 3],
    ['failureLimit -1 lets fails pass until the count', { count: 3, interval: '1m', failureLimit: -1, consecutiveSuccessLimit: 2, ...both }, [ab(0, 1), ab(1, 0)], 'Successful', 3],
    ['count reached with only failureLimit applicable is Successful', { count: 3, interval: '1m', failureLimit: 1, inconclusiveLimit: 3, ...both }, [ab(0, 1), ab(0, 0), ab(1, 0)], 'Successful', 3],
    ['failed > failureLimit is Failed', { count: 5, interval: '1m', failureLimit: 1, ...both }, [ab(0, 1)], 'Failed', 2],
    ['inconclusive > inconclusiveLimit is Inconclusive before the count', { count: 5, interval: '1m', inconclusiveLimit: 1, ...both }, [ab(0, 0)], 'Inconclusive', 2],
    ['the default inconclusiveLimit 0 pauses at the first inconclusive answer', { count: 5, interval: '1m', ...both }, [ab(0, 0)], 'Inconclusive', 1],
    ['one measurement without count and interval', both, [ab(1, 0)], 'Successful', 1],
  ]
  for (const [what, metric, script, phase, measurements] of rules) {
    t.test(`metric rules: ${what}`, async (t) => {
      const { report, stderr } = await probe(metric, script)
      t.equal(report?.phase, phase, stderr)
      t.equal(report?.metrics[0]?.measurements.length, measurements)
      // The rollout simulator's restatement of the rules (src/simulate/analysis.ts), fed the
      // phases Argo's rules in Go gave each measurement, ends the run at the same one, the same way.
      const { successCondition: _s, failureCondition: _f, ...limits } = metric
      const rules = metricRules({ name: 'probe', ...limits })
      let state = newMetricState()
      let end: string | undefined
      for (const m of report?.metrics[0]?.measurements ?? []) {
        state = record(state, m.phase as MeasurementPhase)
        const p = assess(rules, state)
        if (p !== 'Running') { end = p; break }
      }
      t.equal(end, phase, 'the simulator ends it the same way')
      t.equal(state.measurements, measurements, 'after as many measurements')
    })
  }

  t.test('the harness refuses what Argo would refuse, and says why', async (t) => {
    const gate = 'http://127.0.0.1:9'
    const noStable = await runHarness(binary, ['-template', TEMPLATES, '-name', 'agent-gate-canary-1', '-arg', `gate-url=${gate}`, '-arg', 'agent=a', '-arg', 'canary-hash=h'])
    t.equal(noStable.code, 2)
    t.match(noStable.stderr, /args.stable-hash was not resolved/)
    const noSecret = await runHarness(binary, ['-template', TEMPLATES, '-name', 'agent-gate-canary-1', ...rolloutArgs(gate, 'h', { weight: '10' })])
    t.equal(noSecret.code, 2)
    t.match(noSecret.stderr, /secret agent-canary-gate-client has no key GATE_API_KEY/)
    const undeclared = await runHarness(binary, ['-template', template({ successCondition: 'result.a == "{{args.nope}}"' }), '-arg', `gate-url=${gate}`])
    t.equal(undeclared.code, 2)
    t.match(undeclared.stderr, /failed to resolve \{\{args.nope\}\}/)
    const invalid = await runHarness(binary, ['-template', template({ count: 3, interval: '1m', consecutiveSuccessLimit: 4 }), '-arg', `gate-url=${gate}`])
    t.equal(invalid.code, 2)
    t.match(invalid.stderr, /count \(3\) must be >= failureLimit \+ consecutiveSuccessLimit \(0 \+ 4\)/)
    const path = await runHarness(binary, ['-template', template({ jsonPath: '{$.items[*].v}' }), '-arg', `gate-url=${gate}`])
    t.equal(path.code, 2)
    t.match(path.stderr, /outside the harness's subset/)
  })

  // --- the timing of every shipped template ------------------------------------------------

  const templates = templateCatalog(shippedManifests().argo)
  for (const [name, file] of [
    ['agent-gate-shadow', TEMPLATES], ['agent-gate-canary-1', TEMPLATES], ['agent-gate-canary-2', TEMPLATES],
    ['agent-gate-full', TEMPLATES], ['agent-canary-gate', 'analysis-templates/cluster-analysis-template.yaml'],
  ] as const) {
    t.test(`${name}: passes promote at the earliest time docs/argo.md states; no clear answer ends Inconclusive at the latest`, async (t) => {
      const tpl = templates.namespaced.get(name) ?? templates.cluster.get(name)
      const timing = metricTiming((tpl as { spec: { metrics: Array<Record<string, unknown>> } }).spec.metrics[0] as Record<string, unknown>)
      const args: Record<string, string> = name === 'agent-canary-gate' ? { stage: 'canary-1' } : {}
      const pass = await play(['pass'], { name, file, args })
      t.equal(pass.report?.phase, 'Successful', pass.stderr)
      t.equal(pass.report?.virtualSeconds, timing.earliestSuccess)
      t.equal(pass.report?.metrics[0]?.count, timing.consecutiveSuccessLimit)
      const unclear = await play(['inconclusive'], { name, file, args })
      t.equal(unclear.report?.phase, 'Inconclusive')
      t.equal(unclear.report?.virtualSeconds, timing.latestEnd)
      t.equal(unclear.report?.metrics[0]?.count, timing.count)
      t.equal(unclear.report?.message, undefined, 'a count-reached Inconclusive carries no limit message')
    })
  }

  t.test('agent-gate-background: a tripwire until the Rollout ends the run', async (t) => {
    const healthy = await play(['pass'], { name: 'agent-gate-background', args: { stage: 'canary-1' }, flags: ['-terminate-after', '80m'] })
    t.equal(healthy.report?.phase, 'Successful')
    t.equal(healthy.report?.message, 'Run Terminated')
    t.equal(healthy.report?.metrics[0]?.count, 16, 'answers at 5m, 10m, ... 80m')
    const regression = await play([...repeat(4, 'pass' as Answer), 'fail'], { name: 'agent-gate-background', args: { stage: 'canary-1' }, flags: ['-terminate-after', '80m'] })
    t.equal(regression.report?.phase, 'Failed')
    t.equal(regression.report?.virtualSeconds, 25 * 60)
    const unclear = await play(['inconclusive'], { name: 'agent-gate-background', args: { stage: 'canary-1' }, flags: ['-terminate-after', '80m'] })
    t.equal(unclear.report?.phase, 'Inconclusive')
    t.equal(unclear.report?.virtualSeconds, 65 * 60, 'the 13th inconclusive answer, at 65m, pauses')
    t.match(unclear.report?.message, /inconclusive \(13\) > inconclusiveLimit \(12\)/)
    t.equal(JSON.parse(unclear.requests[0]?.body ?? '{}').stage, 'canary-1')
  })

  t.test('no output ever carries the API key', async (t) => {
    t.ok(outputs.length > 20)
    t.notOk(outputs.some((o) => o.includes(SECRET)))
  })
}
