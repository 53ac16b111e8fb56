// End to end: the Go harness plays the shipped AnalysisTemplates, as Argo would, against the
// real gate (`agent-canary-gate serve`) in demo mode, whose sandbox has one canary per
// scenario (the sandbox contract): a healthy canary ends Successful, each regression ends
// Failed at the stage that catches it, a canary that never has enough data ends Inconclusive.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import t from 'tap'
import { request } from 'undici'
import { buildHarness, needGoHarness, PROJECT_ROOT, rolloutArgs, runHarness, type RunReport } from './harness.js'

const API_KEY = 'e2e-gate-key-5d1c'
const TEMPLATES = 'analysis-templates/analysis-templates.yaml'
const CLUSTER_TEMPLATE = 'analysis-templates/cluster-analysis-template.yaml'

/** Starts the gate on a free loopback port in demo mode; resolves with its base URL. */
async function startGate (): Promise<{ url: string, firstLine: string, stop: () => void }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', GATE_API_KEYS: API_KEY }
  for (const name of ['CORDUM_URL', 'CORDUM_API_KEY', 'CORDUM_TENANT', 'GATES_FILE']) delete env[name]
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()))
  const stop = (): void => { if (child.exitCode === null) child.kill('SIGTERM') }
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new Error(`the gate did not say where it listens within 60s:\n${output.join('')}`)) }, 60_000)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the gate exited (${String(code)}) before listening:\n${output.join('')}`)) })
    let firstLine: string | undefined
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.push(line + '\n')
      firstLine ??= line
      const m = /Server listening at (http:\/\/[^\s"]+)/.exec(line)
      if (m !== null) {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve({ url: m[1] as string, firstLine, stop })
      }
    })
  })
}

/** The measurements' values: the gate's one-line answers (the templates ask for ?view=argo). */
function lines (report: RunReport | undefined): string[] {
  return (report?.metrics[0]?.measurements ?? []).map((m) => JSON.parse(m.value ?? '""') as string)
}

interface Verdict { verdict: string, reasonCodes: string[], triggers: Array<{ name: string, fired: boolean }>, trafficSplit: { status: string, expected: number | null } }

if (needGoHarness(t)) {
  const binary = await buildHarness(t)
  const gate = await startGate()
  t.teardown(gate.stop)

  t.match(gate.firstLine, /demo/i, 'the gate says on its first log line that it runs in demo mode')

  /** The decision a line links to, read through the JSON API (so the link is checked too). */
  const decision = async (line: string | undefined): Promise<Verdict> => {
    const id = /\| (http:\/\/\S+\/decisions\/([0-9a-f-]{36}))$/.exec(line ?? '')?.[2]
    if (id === undefined) throw new Error(`no link to a decision in ${String(line)}`)
    const res = await request(`${gate.url}/api/v1/decisions/${id}`, { headers: { 'x-api-key': API_KEY } })
    return ((await res.body.json()) as { judgement: Verdict }).judgement
  }

  // The sandbox's job volumes are not a traffic split (src/sandbox/scenarios.ts), so the
  // live stages pass weight 100, at which the gate has no split to check; the split check
  // itself is the gate's business and tested there.
  const play = async (tt: Pick<typeof t, 'equal'>, name: string, hash: string,
    opts: { file?: string, args?: Record<string, string>, scale?: string } = {}): Promise<RunReport | undefined> => {
    const weight: Record<string, string> = name.endsWith('shadow') || name.endsWith('background') ? {} : { weight: '100' }
    const r = await runHarness(binary, [
      '-template', opts.file ?? TEMPLATES, '-name', name,
      ...rolloutArgs(gate.url, hash, { ...weight, ...opts.args }),
      '-secret', `agent-canary-gate-client/GATE_API_KEY=${API_KEY}`,
      '-time-scale', opts.scale ?? '0.0001',
    ])
    tt.equal(r.code, 0, `the harness ran: ${r.stderr}`)
    return r.report
  }

  t.test('a healthy canary ends Successful at canary-1, canary-2 and full', async (t) => {
    for (const [name, scale] of [['agent-gate-canary-1', '0.0001'], ['agent-gate-canary-2', '0.0001'], ['agent-gate-full', '0.00002']] as const) {
      const report = await play(t, name, 'healthy', { scale })
      t.equal(report?.phase, 'Successful', `${name} ends Successful ${report?.message ?? ''}`)
      t.ok(lines(report).every((a) => a.startsWith('pass: score ')), `${name}: every answer was pass`)
    }
  })

  const regressions: Array<[string, string, string]> = [
    ['agent-gate-canary-1', 'deny-spike', 'policy_deny_rate'],
    ['agent-gate-canary-1', 'failing', 'error_rate_ratio'],
    ['agent-gate-canary-1', 'backlogged', 'approval_backlog'],
    ['agent-gate-canary-2', 'overloaded', 'overload_ratio'],
    ['agent-gate-shadow', 'schema-drift', 'schema_violations'],
  ]
  for (const [name, hash, trigger] of regressions) {
    t.test(`support-agent-${hash} ends Failed at ${name} (${trigger})`, async (t) => {
      const report = await play(t, name, hash)
      t.equal(report?.phase, 'Failed')
      t.match(report?.message, /assessed Failed due to failed \(1\) > failureLimit \(0\)/)
      const last = lines(report).at(-1)
      t.match(last, new RegExp(`^fail: score 0 at ${name.replace('agent-gate-', '')} \\| rollback trigger ${trigger}: .+ \\| ${gate.url}/decisions/`), 'the line says fail, the trigger and the link')
      t.ok(Buffer.byteLength(last ?? '') < 400, `a few hundred bytes: ${Buffer.byteLength(last ?? '')}`)
      const judged = await decision(last)
      t.equal(judged.verdict, 'fail')
      t.ok(judged.triggers.some((tr) => tr.name === trigger && tr.fired), `the linked decision: the ${trigger} trigger fired`)
    })
  }

  t.test('a canary too new to judge never pauses early and ends Inconclusive when its window ends', async (t) => {
    const report = await play(t, 'agent-gate-canary-1', 'too-new')
    t.equal(report?.phase, 'Inconclusive')
    t.equal(report?.metrics[0]?.count, 12, 'all 12 answers were taken')
    t.equal(report?.virtualSeconds, 55 * 60)
    t.ok(lines(report).every((a) => a.startsWith('inconclusive: ')), 'every answer inconclusive')
    t.ok((await decision(lines(report).at(-1))).reasonCodes.includes('insufficient_data'), 'for want of data')
  })

  t.test('the ClusterAnalysisTemplate judges the stage the Rollout names', async (t) => {
    const healthy = await play(t, 'agent-canary-gate', 'healthy', { file: CLUSTER_TEMPLATE, args: { stage: 'canary-1' } })
    t.equal(healthy?.phase, 'Successful')
    const spike = await play(t, 'agent-canary-gate', 'deny-spike', { file: CLUSTER_TEMPLATE, args: { stage: 'canary-1' } })
    t.equal(spike?.phase, 'Failed')
  })

  t.test('the weight the templates send as a string reaches the gate\'s traffic-split check', async (t) => {
    const report = await play(t, 'agent-gate-canary-1', 'healthy', { args: { weight: '10' }, scale: '0' })
    const first = await decision(lines(report)[0])
    t.not(first.trafficSplit.status, 'not_checked')
    t.equal(first.trafficSplit.expected, 0.1)
  })

  t.test('a wrong API key is an Error measurement, never a pass', async (t) => {
    const r = await runHarness(binary, [
      '-template', TEMPLATES, '-name', 'agent-gate-canary-1',
      ...rolloutArgs(gate.url, 'healthy', { weight: '100' }),
      '-secret', 'agent-canary-gate-client/GATE_API_KEY=not-the-key',
      '-time-scale', '0',
    ])
    t.equal(r.report?.phase, 'Error')
    t.match(r.report?.metrics[0]?.measurements[0]?.message, /received non 2xx response code: 401/)
  })
}
