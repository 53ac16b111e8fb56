/**
 * The benchmark runner (bench/run.ts) in its quick mode, so it cannot rot: it starts the
 * sandbox and gate processes, measures every benchmark and writes its results. Timing ratios
 * depend on the machine's load and are not asserted here (docs/performance.md has the full
 * run); the counts are exact and are: every cold evaluation counted every event, and 200
 * identical concurrent cold requests cost exactly the upstream requests of one.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

const ROOT = join(import.meta.dirname, '..', '..')

interface Delta { byPath: Record<string, number> }
interface Growth { first: Delta, second: Delta, error?: string }

t.test('npm run bench -- --quick runs every benchmark and reports each ratio', { timeout: 110_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'acg-bench-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const json = join(dir, 'results.json')
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), '--quick', '--sizes=300,3000,6000', '--evaluations=200', `--json=${json}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.not(code, 2, `the runner completed (exit 0 or 1 for a missed target):\n${out}`)
  const results = JSON.parse(readFileSync(json, 'utf8')) as { rows: { id: string, ratio?: number, result: string }[], details: { scaling: Record<'both' | 'decisions', { perArm: number, requests: number, bytes: number, error?: string }[]>, coalescing: { requests: number, solo: number, wrongAnswers: number }, incremental: Growth, incrementalUncapped: Growth } }
  t.same(results.rows.map((r) => r.id), ['3a', '3e', '3b', '3c', '5a', '3ad', '3ed', '3bd', '3cd', '5ad', '2', '1', '1c', '1u', '4', '4d', '4s', '4u', '5b', '9a', '9b', '9c', 'D1', 'D2', 'D3', 'D4', 'D5', 'D6a', 'D6b', 'D6c', 'D6d', 'D6e', 'D7a', 'D7b'], 'every benchmark has its row')
  // The decision rows D1-D5 and D7 are shares and counts against their targets, not ratios.
  for (const r of results.rows) {
    if (r.result !== 'INFO' && !/^D[1-57]/.test(r.id)) t.ok(typeof r.ratio === 'number' && Number.isFinite(r.ratio), `row ${r.id} has a ratio`)
  }
  for (const lists of ['both', 'decisions'] as const) {
    const cold = results.details.scaling[lists]
    t.same(cold.map((s) => s.perArm), [300, 3000, 6000], `${lists}: three sizes`)
    t.same(cold.map((s) => s.error), [undefined, undefined, undefined], `${lists}: every cold evaluation counted every event`)
    const [a, b, c] = cold as unknown as [{ bytes: number }, { bytes: number }, { bytes: number }]
    t.ok(a.bytes < b.bytes && b.bytes < c.bytes, `${lists}: upstream bytes grow with the window`)
  }
  const { incremental, incrementalUncapped } = results.details
  t.equal(incremental.error, undefined, 'incremental, jobs list capped at 1000: both measurements counted exactly what that list holds')
  t.equal(incrementalUncapped.error, undefined, 'incremental, uncapped: both measurements counted every event')
  t.ok((incremental.first.byPath['/api/v1/jobs'] ?? 0) <= 3 && (incremental.second.byPath['/api/v1/jobs'] ?? 0) <= 3, 'the capped jobs list takes at most 3 pages a measurement, as Cordum\'s')
  t.ok((incrementalUncapped.second.byPath['/api/v1/jobs'] ?? 0) > 3, 'the uncapped one more')
  t.equal(results.details.coalescing.wrongAnswers, 0, 'all 200 burst answers counted every event')
  t.equal(results.details.coalescing.requests, results.details.coalescing.solo, '200 identical cold requests cost the upstream requests of one')
  t.match(out, /#\s+benchmark\s+measured\s+baseline/, 'prints the summary table')
})
