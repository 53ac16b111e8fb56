/**
 * A real Prometheus (Debian's package) on a loopback port over history written as TSDB blocks
 * by `promtool tsdb create-blocks-from openmetrics`. No scraping: the server only answers
 * queries over the backfilled blocks. Retention counts back from the newest block, not from
 * the wall clock, so fixed timestamps in the past stay queryable; a long retention is set
 * anyway so the blocks are never due for deletion while the test runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hasCommand } from './tools.js'

export const PROMETHEUS = '/usr/bin/prometheus'
export const PROMTOOL = '/usr/bin/promtool'

export function havePrometheus (): boolean {
  return hasCommand(PROMETHEUS, ['--version']) && hasCommand(PROMTOOL, ['--version'])
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

export interface RunningPrometheus { url: string, dir: string, close: () => Promise<void> }

export async function startPrometheus (openMetricsText: string): Promise<RunningPrometheus> {
  return await servePrometheus(backfill(openMetricsText))
}

/** A new directory whose `data` folder holds the history as TSDB blocks. */
export function backfill (openMetricsText: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'acg-prometheus-'))
  const input = join(dir, 'history.om')
  writeFileSync(input, openMetricsText)
  const blocks = spawnSync(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', input, join(dir, 'data')], { encoding: 'utf8', timeout: 120_000 })
  if (blocks.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`promtool create-blocks-from failed (${blocks.status}): ${blocks.stderr.slice(-2000)}`)
  }
  return dir
}

/** Prometheus over the blocks in `dir/data`; close() stops it and removes `dir` unless `keep` (to add blocks and serve again). */
export async function servePrometheus (dir: string, opts: { keep?: boolean } = {}): Promise<RunningPrometheus> {
  const data = join(dir, 'data')
  const config = join(dir, 'prometheus.yml')
  writeFileSync(config, 'global:\n  scrape_interval: 1h\nscrape_configs: []\n')
  const port = await freePort()
  const child: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${data}`,
    '--storage.tsdb.retention.time=100y',
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + String(d)).slice(-4000) })
  const url = `http://127.0.0.1:${port}`
  const close = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    if (opts.keep !== true) rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) {
      await close()
      throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`)
    }
    try {
      const res = await fetch(`${url}/-/ready`)
      if (res.status === 200) break
    } catch {}
    if (Date.now() > deadline) {
      await close()
      throw new Error(`prometheus did not become ready in 60 s: ${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { url, dir, close }
}
