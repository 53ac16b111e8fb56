/**
 * npm run soak: the heavy versions of the hardening suites, one after another (so the overload
 * run has the machine to itself): longer fuzzing, a minute of overload, five SIGTERM/SIGKILL
 * cycles. The same test files run as a short smoke in `npm test`; here SOAK=1 scales them up.
 * Prints each suite's figures and exits non-zero when any assertion failed.
 * Usage: npm run soak [-- test/http/overload.test.ts ...]   (default: all of them)
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const SOAK_SUITES = [
  'test/config/fuzz-gates.test.ts',
  'test/plugin/decoder-fuzz.test.ts',
  'test/http/fuzz-score.test.ts',
  'test/http/overload.test.ts',
  'test/http/lifecycle.test.ts',
]

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : SOAK_SUITES
const dir = mkdtempSync(join(tmpdir(), 'acg-soak-'))
const reportFile = join(dir, 'report.jsonl')
const started = Date.now()
const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'tap'), ['--jobs=1', '--timeout=1800', '--reporter=terse', ...files], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, SOAK: '1', SOAK_REPORT: reportFile },
})
let lines: string[] = []
try {
  lines = readFileSync(reportFile, 'utf8').split('\n').filter((l) => l !== '')
} catch { /* no suite reported */ }
rmSync(dir, { recursive: true, force: true })

process.stdout.write(`\nsoak summary (${((Date.now() - started) / 60_000).toFixed(1)} min, ${files.length} suites, exit ${run.status ?? run.signal ?? '?'})\n`)
for (const line of lines) {
  const { name, ...figures } = JSON.parse(line) as { name: string } & Record<string, unknown>
  process.stdout.write(`  ${name.padEnd(22)} ${JSON.stringify(figures)}\n`)
}
process.exitCode = run.status === 0 ? 0 : 1
