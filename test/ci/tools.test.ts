import { spawnSync } from 'node:child_process'
import t from 'tap'

// A missing tool skips visibly on a laptop, and fails under CI_REQUIRE_TOOLS=1 (.ci/run).
function run (env: Record<string, string>): { status: number | null, out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/ci/needs-missing-tool.ts'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CI_REQUIRE_TOOLS: '', TAP: '1', ...env },
  })
  return { status: r.status, out: r.stdout + r.stderr }
}

t.test('without CI_REQUIRE_TOOLS a missing tool is a visible skip', async (t) => {
  const r = run({})
  t.equal(r.status, 0, r.out)
  t.match(r.out, /SKIPPED: frobnicator is not available \(apt-get install frobnicator\)/)
  t.match(r.out, /# SKIP/)
})

t.test('under CI_REQUIRE_TOOLS=1 the same test fails', async (t) => {
  const r = run({ CI_REQUIRE_TOOLS: '1' })
  t.not(r.status, 0)
  t.match(r.out, /not ok .* frobnicator is required in CI but is not available: apt-get install frobnicator/)
})
