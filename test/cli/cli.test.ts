import { spawnSync } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../src/cli.js'

async function run (args: string[], env: Record<string, string | undefined> = {}, tty = false): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: { write: (s: string) => { stdout += s }, isTTY: tty },
    stderr: { write: (s: string) => { stderr += s } },
    env,
  })
  return { code, stdout, stderr }
}

t.test('validate: exit 0 and a one-line summary', async (t) => {
  const r = await run(['validate', 'analysis-templates/rollout-gates.yaml'])
  t.equal(r.code, 0)
  t.match(r.stdout, /^ok: analysis-templates\/rollout-gates\.yaml \(ConfigMap agent-canary-gate-gates, data\.rollout-gates\.yaml\): 4 stages \(shadow, canary-1, canary-2, full\), 5 signals, score pass 95 \/ marginal 75, min 50 data points, alpha 0\.05, sha256 [0-9a-f]{12}\n$/)
  t.equal(r.stderr, '')
})

t.test('validate: a warning for a rule that never binds; --traffic prints the time to decide per stage', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'acg-'))
  const file = join(dir, 'dead-ratio.yaml')
  await writeFile(file, 'rollout_gates:\n  signals:\n    policy_deny_rate: { max_ratio: 1.5, floor: 0.02 }\n')
  const r = await run(['validate', file])
  t.equal(r.code, 0, 'a warning, not an error')
  t.match(r.stdout, /\nwarning: signal policy_deny_rate: max_ratio 1\.5x x floor 2\.0% = 3\.0% is at or above max_rate 3\.0%, so the ratio never binds/)
  t.notMatch((await run(['validate', 'analysis-templates/rollout-gates.yaml'])).stdout, /warning/, 'the shipped policy has no dead rule')

  const busy = await run(['validate', 'analysis-templates/rollout-gates.yaml', '--traffic', '600,200', '--weight', '10'])
  t.equal(busy.code, 0)
  t.match(busy.stdout, /time for a healthy canary to pass, at 600 decisions\/min and 200 jobs\/min in all, canary weight 10%:\n/)
  const minutes = (text: string, stage: string): number => Number(new RegExp(`\\n  ${stage}: about (\\d+) min\\n`).exec(text)?.[1])
  const quiet = await run(['validate', 'analysis-templates/rollout-gates.yaml', '--traffic', '60,20'])
  t.ok(minutes(busy.stdout, 'canary-1') > 0, `canary-1 decides in ${minutes(busy.stdout, 'canary-1')} min when busy`)
  t.ok(minutes(quiet.stdout, 'canary-1') > 5 * minutes(busy.stdout, 'canary-1'), 'a tenth of the traffic takes far longer')
  t.match(busy.stdout, / {4}job_failure_rate at 2\.0% of jobs: \d+ min, \d+ canary jobs\n/)
  const bad = await run(['validate', 'analysis-templates/rollout-gates.yaml', '--weight', '10'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--weight and --rates need --traffic/)
})

t.test('validate: exit 1 and every located error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'acg-'))
  const file = join(dir, 'bad.yaml')
  await writeFile(file, 'rollout_gates:\n  score:\n    pas: 95\n  alpha: 2\n')
  const r = await run(['validate', file])
  t.equal(r.code, 1)
  t.equal(r.stdout, '')
  t.match(r.stderr, `${file}:3:5: rollout_gates.score.pas: unknown key 'pas'; did you mean 'pass'?`)
  t.match(r.stderr, `${file}:4:10: rollout_gates.alpha: must be <= 0.5, got 2`)
  const missing = await run(['validate', join(dir, 'nope.yaml')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /cannot read gates file .*nope\.yaml: no such file/)
})

t.test('usage mistakes exit 2 with the usage text', async (t) => {
  t.match(await run([]), { code: 2, stdout: /usage: agent-canary-gate <command>/ })
  t.match(await run(['nope']), { code: 2, stderr: /unknown command 'nope'/ })
  t.match(await run(['validate']), { code: 2, stderr: /usage: agent-canary-gate validate FILE/ })
  t.match(await run(['judge', '--stage', 'canary-1']), { code: 2, stderr: /--stage and --observations are required/ })
  t.match(await run(['judge', '--stage', 'canary1', '--observations', 'examples/canary-1-healthy.json']), { code: 2, stderr: /unknown stage 'canary1'; did you mean 'canary-1'\?/ })
  t.match(await run(['judge', '--bogus']), { code: 2, stderr: /Unknown option '--bogus'/ })
  t.match(await run(['judge', '--help']), { code: 0, stdout: /--observations F/ })
})

const EXAMPLES: [string, string, string][] = [
  ['examples/canary-1-healthy.json', 'canary-1', 'PASS'],
  ['examples/canary-1-deny-spike.json', 'canary-1', 'FAIL'],
  ['examples/canary-1-too-little-data.json', 'canary-1', 'INCONCLUSIVE'],
  ['examples/canary-1-backlog-breach.json', 'canary-1', 'FAIL'],
  ['examples/canary-2-overload.yaml', 'canary-2', 'FAIL'],
]

t.test('judge prints the verdict each example promises, within 80 columns; --wide every column', async (t) => {
  for (const [file, stage, verdict] of EXAMPLES) {
    const r = await run(['judge', '--stage', stage, '--observations', file])
    t.equal(r.code, 0, file)
    t.match(r.stdout, /^SIGNAL\s+CANARY\s+BASELINE\s+THRESHOLD\s+STATUS\n/, `${file}: the narrow table's header`)
    const longest = Math.max(...r.stdout.split('\n').map((l) => l.length))
    t.ok(longest <= 80, `${file}: every line within 80 columns (the longest is ${longest})`)
    t.match(r.stdout, new RegExp(`\\nVERDICT ${verdict}  score `), `${file}: ${verdict}`)
    t.notMatch(r.stdout, /\x1b\[/, 'no colour when not a terminal')
    const wide = await run(['judge', '--stage', stage, '--observations', file, '--wide'])
    t.match(wide.stdout, /^SIGNAL\s+CANARY\s+BASELINE\s+BOUND\s+THRESHOLD\s+STATUS\s+WEIGHT\n/, `${file}: --wide: every column`)
    t.ok(wide.stdout.split('\n').some((l) => l.length > 80), 'on lines as long as they need')
    const terminal = await run(['judge', '--stage', stage, '--observations', file], { COLUMNS: '200' })
    t.equal(terminal.stdout.split('\n\n')[0], wide.stdout.split('\n\n')[0], 'COLUMNS=200: the whole table fits, so it is printed whole')
  }
  const tty = await run(['judge', '--stage', 'canary-1', '--observations', EXAMPLES[0]?.[0] as string], {}, true)
  t.match(tty.stdout, /\x1b\[32mPASS\x1b\[0m/, 'colour on a terminal')
  const noColour = await run(['judge', '--stage', 'canary-1', '--observations', EXAMPLES[0]?.[0] as string], { NO_COLOR: '1' }, true)
  t.notMatch(noColour.stdout, /\x1b\[/, 'NO_COLOR wins')
})

t.test('judge --fail-on: exit 3 at or past the level, 0 below it, for CI pipelines', async (t) => {
  const cases: [string, string, number][] = [
    ['examples/canary-1-healthy.json', 'fail', 0],
    ['examples/canary-1-healthy.json', 'inconclusive', 0],
    ['examples/canary-1-too-little-data.json', 'fail', 0],
    ['examples/canary-1-too-little-data.json', 'inconclusive', 3],
    ['examples/canary-1-deny-spike.json', 'fail', 3],
    ['examples/canary-1-deny-spike.json', 'inconclusive', 3],
  ]
  for (const [file, level, code] of cases) {
    const r = await run(['judge', '--stage', 'canary-1', '--observations', file, '--fail-on', level])
    t.equal(r.code, code, `${file} --fail-on ${level}: exit ${code}`)
    if (code === 3) t.match(r.stderr, new RegExp(`^verdict (fail|inconclusive) with --fail-on ${level}: exit 3\\n$`), 'and says why on stderr')
    t.match(r.stdout, /\nVERDICT /, 'the verdict is printed either way')
  }
  t.equal((await run(['judge', '--stage', 'canary-1', '--observations', 'examples/canary-1-deny-spike.json'])).code, 0, 'without --fail-on: exit 0 whatever the verdict')
  t.match(await run(['judge', '--stage', 'canary-1', '--observations', 'examples/canary-1-deny-spike.json', '--fail-on', 'failed']), { code: 2, stderr: /--fail-on must be fail or inconclusive, got 'failed'/ })
})

t.test('--version: the package version and Node.js', async (t) => {
  const version = (JSON.parse(await (await import('node:fs/promises')).readFile('package.json', 'utf8')) as { version: string }).version
  t.match(await run(['--version']), { code: 0, stdout: `agent-canary-gate ${version} (Node.js ${process.version})\n` })
  t.match(await run(['--help']), { code: 0, stdout: /--version[\s\S]*--url \(default \$GATE_URL\) and --api-key \(default\n\$GATE_API_KEY\)/ })
})

t.test('judge --json prints the ScoreResponse', async (t) => {
  const r = await run(['judge', '--stage', 'canary-1', '--observations', 'examples/canary-1-deny-spike.json', '--json'])
  const body = JSON.parse(r.stdout)
  t.match(body, { verdict: 'fail', score: 0, stage: 'canary-1', reasonCodes: ['trigger_fired'], dataPoints: { required: 50, min: 300 } })
  t.equal(body.signals.length, 3)
  t.match(body.signals[0], { name: 'policy_deny_rate', status: 'fail', canary: { n: 333, k: 27 } })
})

t.test('judge with another gates file changes the verdict (retrospective analysis)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'acg-'))
  const gates = join(dir, 'lenient.yaml')
  await writeFile(gates, 'rollout_gates:\n  rollback_triggers:\n    max_policy_deny_rate: 0.2\n  signals:\n    policy_deny_rate: { max_rate: 0.2, max_ratio: 20 }\n')
  const r = await run(['judge', '--stage', 'canary-1', '--observations', 'examples/canary-1-deny-spike.json', '--gates', gates, '--json'])
  const body = JSON.parse(r.stdout)
  t.not(body.verdict, 'fail', `a 20% deny ceiling lets 8.1% through: ${body.summary}`)
  const viaEnv = await run(['judge', '--stage', 'canary-1', '--observations', 'examples/canary-1-deny-spike.json', '--json'], { GATES_FILE: gates })
  t.equal(JSON.parse(viaEnv.stdout).verdict, body.verdict, 'GATES_FILE is the default for --gates')
})

t.test('the command runs as a program with the right exit codes', async (t) => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8', timeout: 60_000 })
  const ok = cli(['validate', 'analysis-templates/rollout-gates.yaml'])
  t.equal(ok.status, 0, ok.stderr)
  t.match(ok.stdout, /^ok: /)
  const judged = cli(['judge', '--stage', 'canary-1', '--observations', 'examples/canary-1-deny-spike.json'])
  t.equal(judged.status, 0)
  t.match(judged.stdout, /VERDICT FAIL/)
  t.equal(cli(['judge']).status, 2)
})
