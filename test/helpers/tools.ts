/**
 * Tests that need an outside tool (Go, Prometheus, Loki, PostgreSQL) call `needTool` first.
 * On a bare laptop a missing tool skips the test with a visible message; under CI
 * (CI_REQUIRE_TOOLS=1, set by .ci/run) a missing tool is a failure, so a skip can never
 * pass for a green run.
 */
import { spawnSync } from 'node:child_process'

interface TapLike {
  fail: (message: string) => unknown
  // Loose on purpose: tap's skip is overloaded (a skipped subtest), and only its message form is used.
  skip: (...args: any[]) => unknown
  comment: (message: string) => unknown
}

/** True when `command --version`-style probing succeeds. */
export function hasCommand (command: string, args: string[] = ['--version']): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 })
  return r.error === undefined && r.status === 0
}

export function needTool (t: TapLike, name: string, available: boolean, hint: string): boolean {
  if (available) return true
  if (process.env.CI_REQUIRE_TOOLS === '1') {
    t.fail(`${name} is required in CI but is not available: ${hint}`)
  } else {
    t.comment(`SKIPPED: ${name} is not available (${hint}); .ci/run installs it and makes this test run`)
    t.skip(`${name} not available`)
  }
  return false
}
