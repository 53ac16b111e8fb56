/**
 * npm run bench:plugin: Plugin.Run round trips from a real go-plugin host (test/go-host, the
 * same program the proof test runs) to the bundled TypeScript plugin, against a stub gate on
 * loopback, beside Control.Ping round trips measured in the same run (interleaved, one of
 * each per iteration). Ping is the protocol's floor (yamux + gob + net/rpc, no work); Run
 * adds decoding Argo's AnalysisRun, the plugin's logic and one HTTP call to the gate.
 *
 *   BENCH_N=1000 npm run bench:plugin
 *
 * Needs Go and Debian's go-plugin/yamux packages (as the tests do). Results also go to
 * .bench/plugin.json.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT, buildPlugin } from '../../scripts/build-plugin.js'
import { GO_HOST_ROOT, goEnv } from '../../test/plugin/helpers/go.js'
import { startStubGate } from '../../test/plugin/helpers/stub-gate.js'

const run = promisify(execFile)

interface Quantiles { p50: number, p99: number }
interface HostBench { n: number, ping: Quantiles, run: Quantiles, unit: 'microseconds' }

const fmt = (us: number): string => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`)

async function main (): Promise<void> {
  const n = Number(process.env.BENCH_N ?? 500)
  if (!Number.isInteger(n) || n < 10) throw new Error(`BENCH_N must be an integer >= 10, got ${String(process.env.BENCH_N)}`)
  const dir = mkdtempSync(join(tmpdir(), 'acg-bench-'))
  const gate = await startStubGate()
  try {
    const plugin = await buildPlugin(dir)
    const host = join(dir, 'host')
    try {
      await run('go', ['build', '-o', host, 'agentcanary/cmd/host'], { env: goEnv(), cwd: GO_HOST_ROOT, timeout: 300_000 })
    } catch (err) {
      throw new Error(`cannot build the Go host (needs golang-go, golang-github-hashicorp-go-plugin-dev, golang-github-hashicorp-yamux-dev): ${(err as Error).message}`)
    }
    const { stdout } = await run(host, ['bench', plugin.launcher, gate.url, String(n)], { maxBuffer: 16 << 20, timeout: 600_000 })
    const r = JSON.parse(stdout) as HostBench
    const ratio = { p50: r.run.p50 / r.ping.p50, p99: r.run.p99 / r.ping.p99 }
    const rows = [
      ['', 'p50', 'p99'],
      ['Control.Ping (baseline)', fmt(r.ping.p50), fmt(r.ping.p99)],
      ['Plugin.Run', fmt(r.run.p50), fmt(r.run.p99)],
      ['ratio Run / Ping', `${ratio.p50.toFixed(1)}x`, `${ratio.p99.toFixed(1)}x`],
    ]
    const width = [24, 12, 12]
    process.stdout.write(`plugin round trips: go-plugin host -> TypeScript plugin (yamux, gob, net/rpc), n=${r.n} each, interleaved\n`)
    for (const row of rows) process.stdout.write(`${row.map((c, i) => c.padEnd(width[i] ?? 12)).join('')}\n`.trimEnd() + '\n')
    process.stdout.write(`Plugin.Run includes the stub gate's HTTP round trip on loopback (${gate.requests.length} requests served).\n`)
    mkdirSync(join(ROOT, '.bench'), { recursive: true })
    writeFileSync(join(ROOT, '.bench', 'plugin.json'), `${JSON.stringify({ name: 'plugin', ...r, ratio, at: new Date().toISOString() }, null, 2)}\n`)
  } finally {
    await gate.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:plugin: ${(err as Error).message}\n`)
  process.exitCode = 1
})
