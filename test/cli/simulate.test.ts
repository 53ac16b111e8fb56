// `agent-canary-gate simulate` and `judge --jsonl` through the CLI's main, as a user runs them.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { main } from '../../src/cli.js'

async function run (args: string[], stdin?: string): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: { write: (s: string) => { stdout += s } },
    stderr: { write: (s: string) => { stderr += s } },
    env: {},
    ...(stdin === undefined ? {} : { stdin: Readable.from([stdin]) }),
  })
  return { code, stdout, stderr }
}

t.test('simulate: a table per stage, the same figures for the same seed', async (t) => {
  const args = ['simulate', '--rollouts', '4', '--seed', '5', '--decide-within', '0']
  const a = await run(args)
  t.equal(a.code, 0, a.stderr)
  t.match(a.stdout, /^STAGE\s+WEIGHT\s+PROMOTED\s+HELD\s+ROLLBACK\s+MINUTES\s+EVENTS\s+HORIZON\s+RATIO\n/)
  t.match(a.stdout, /\ncanary-1\s+10%\s+[\d.]+%\s+[\d.]+%\s+[\d.]+%\s+\d+\/\d+/)
  t.match(a.stdout, /\ncanary-2\s+25%\s/)
  t.match(a.stdout, /4 rollouts per stage, seed 5; 600 decisions\/min and 200 jobs\/min in all/)
  t.ok(a.stdout.split('\n').every((l) => l.length <= 80), 'fits 80 columns')
  t.equal((await run(args)).stdout, a.stdout, 'seed 5 again: the same report')
  t.not((await run(['simulate', '--rollouts', '4', '--seed', '6', '--decide-within', '0', '--json'])).stdout, (await run([...args, '--json'])).stdout, 'another seed, other draws')
})

t.test('simulate --json: the report with its stages, horizon and schedule', async (t) => {
  const r = await run(['simulate', '--rollouts', '3', '--stages', 'canary-2', '--scenario', 'overload-5x-canary', '--json', '--decide-within', '0'])
  t.equal(r.code, 0, r.stderr)
  type Stage = { stage: string, weight: number, rollouts: number, promoted: number, held: number, rolledBack: number, horizon: { decision: string }, schedule: { count: number } }
  const report = JSON.parse(r.stdout) as { rollouts: number, canary: { overload: number }, baseline: { overload: number }, stages: Stage[] }
  t.equal(report.rollouts, 3)
  t.match(report, { canary: { overload: 0.025 }, baseline: { overload: 0.005 } })
  t.equal(report.stages.length, 1)
  const s = report.stages[0]!
  t.match(s, { stage: 'canary-2', weight: 25, rollouts: 3, schedule: { count: 12 } })
  t.equal(s.promoted + s.held + s.rolledBack, 3)
})

t.test('simulate: explicit rates, weights and traffic', async (t) => {
  const r = await run(['simulate', '--rollouts', '2', '--stages', 'canary-1', '--weights', 'canary-1=20', '--traffic', '300,100', '--canary', 'deny=50%', '--json', '--decide-within', '0'])
  t.equal(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout) as { traffic: unknown, canary: { deny: number }, stages: Array<{ weight: number, rolledBack: number }> }
  t.same(report.traffic, { decisionsPerMinute: 300, jobsPerMinute: 100 })
  t.equal(report.canary.deny, 0.5)
  t.match(report.stages[0], { weight: 20, rolledBack: 2 }, 'a canary denying half its decisions is rolled back')
})

t.test('simulate: each bad option is named with its value (exit 2)', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--rollouts', '0'], /--rollouts must be a whole number from 1 to 100000, got '0'/],
    [['--rollouts', 'many'], /--rollouts must be a whole number .* got 'many'/],
    [['--seed=-1'], /--seed must be a whole number from 0 to 4294967295, got '-1'/],
    [['--traffic', '600'], /--traffic must be DECISIONS_PER_MIN,JOBS_PER_MIN .* got '600'/],
    [['--traffic', '600,x'], /--traffic .* got '600,x'/],
    [['--scenario', 'healty'], /--scenario: unknown scenario 'healty'; did you mean 'healthy'\?/],
    [['--stages', 'canary1'], /--stages: unknown stage 'canary1'; did you mean 'canary-1'\?/],
    [['--weights', '10'], /--weights: 1 weight for 2 stages \(canary-1, canary-2\)/],
    [['--weights', 'canary-1=150'], /--weights: the weight of canary-1 must be a percentage from 0 to 100, got '150'/],
    [['--weights', 'canary-3=10'], /--weights: 'canary-3=10' names unknown stage 'canary-3'/],
    [['--gates', 'analysis-templates/examples/gates-prometheus.yaml'], /stage canary-1 reads [a-z0-9_, ]+, which the simulator does not model/],
    [['--canary', 'deny=2'], /--canary: deny must be a rate from 0 to 1 \(or 0% to 100%\), got '2'/],
    [['--baseline', 'latency=1'], /--baseline: 'latency=1' is not KEY=VALUE with KEY one of deny, failures/],
    [['--window', 'lifetime'], /--window must be analysis, canary or lookback, got 'lifetime'/],
    [['--template', '/nonexistent/t.yaml'], /--template: cannot read \/nonexistent\/t\.yaml: no such file/],
    [['--metric', 'nope'], /--template: .*no AnalysisTemplate or ClusterAnalysisTemplate with a metric named nope/],
    [['--decide-within', '1.5'], /--decide-within must be a whole number from 0 to 10080, got '1\.5'/],
    [['--bogus'], /Unknown option '--bogus'/],
  ]
  for (const [args, message] of cases) {
    const r = await run(['simulate', ...args])
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`)
    t.match(r.stderr, message, args.join(' '))
    t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`)
  }
  const help = await run(['simulate', '--help'])
  t.match(help, { code: 0, stdout: /usage: agent-canary-gate simulate/ })
})

const line = async (file: string): Promise<string> => JSON.stringify(JSON.parse(await readFile(file, 'utf8')))

t.test('judge --jsonl: one ScoreResponse per line, the same as judge --json on each', async (t) => {
  const healthy = await line('examples/canary-1-healthy.json')
  const spike = await line('examples/canary-1-deny-spike.json')
  const r = await run(['judge', '--stage', 'canary-1', '--jsonl'], `${healthy}\n\n${spike}\n`)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  const out = r.stdout.trimEnd().split('\n')
  t.equal(out.length, 2, 'a blank line is skipped')
  const single = await run(['judge', '--stage', 'canary-1', '--observations', 'examples/canary-1-healthy.json', '--json'])
  t.same(JSON.parse(out[0]!), JSON.parse(single.stdout), 'line 1 is what judge --json says of the file')
  t.match(JSON.parse(out[1]!), { verdict: 'fail', stage: 'canary-1' })
  // From a file, with --fail-on.
  const dir = await mkdtemp(join(tmpdir(), 'acg-jsonl-'))
  const file = join(dir, 'obs.jsonl')
  await writeFile(file, `${healthy}\n${spike}\n`)
  const f = await run(['judge', '--stage', 'canary-1', '--jsonl', '--observations', file, '--fail-on', 'fail'])
  t.equal(f.code, 3, 'a fail among the lines with --fail-on fail: exit 3')
  t.equal(f.stdout.trimEnd().split('\n').length, 2)
})

t.test('judge --jsonl: a bad line is reported with its line number and the others are judged', async (t) => {
  const healthy = await line('examples/canary-1-healthy.json')
  const input = [healthy, '{"window": {"since": "2026-11-26T09:00:00Z"}}', 'not json {', healthy.replace('"n":', '"n": -'), healthy].join('\n')
  const r = await run(['judge', '--stage', 'canary-1', '--jsonl'], input)
  t.equal(r.code, 1, 'exit 1 at the end')
  t.equal(r.stdout.trimEnd().split('\n').length, 2, 'lines 1 and 5 judged')
  t.match(r.stderr, /^stdin:2:1: missing required key 'signals'$/m)
  t.match(r.stderr, /^stdin:2:\d+: window: missing required key 'until'$/m)
  t.match(r.stderr, /^stdin:3: not a JSON document: /m)
  t.match(r.stderr, /^stdin:4:\d+: signals\.[a-z_]+\.canary\.n: /m)
  t.match(r.stderr, /judge --jsonl: 3 of 5 observation sets refused \(their lines are above\); the other 2 judged/)
  const missing = await run(['judge', '--stage', 'canary-1', '--jsonl', '--observations', '/nonexistent/x.jsonl'])
  t.match(missing, { code: 1, stdout: '', stderr: /cannot read observations file \/nonexistent\/x\.jsonl/ })
})
