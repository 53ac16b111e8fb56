/**
 * SIGTERM completes whatever stdout does (issue 20, item 7). A reader that stopped reading
 * (the pipe full) used to stop the whole process: pino's synchronous stdout retried the write
 * in a sleeping loop, so neither the close nor close-with-grace's forced exit after 10 s could
 * run. A reader that went away (`serve | head -2`: EPIPE) must not stop it either.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
/** A safety net, not a bound under test: three times the documented forced exit. */
const GUARD_MS = 30_000

async function started (t: { teardown: (fn: () => unknown) => void }): Promise<{ child: ReturnType<typeof spawn>, url: string, exited: Promise<number | null | 'still running'> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'acg-stdout-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DATA_DIR: dataDir, EVIDENCE_URL: 'none' }, stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += String(d)
      const m = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(out)
      if (m !== null) resolve(m[1] as string)
    })
    child.once('exit', () => reject(new Error(`serve exited before listening:\n${out}`)))
  })
  const exited = new Promise<number | null | 'still running'>((resolve) => {
    child.once('exit', (code) => resolve(code))
  })
  return { child, url, exited }
}

async function sigterm (child: ReturnType<typeof spawn>, exited: Promise<number | null | 'still running'>): Promise<number | null | 'still running'> {
  child.kill('SIGTERM')
  return await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), GUARD_MS))])
}

t.test('a stdout nobody reads (the pipe full): SIGTERM still closes and exits 0, and requests are still answered', async (t) => {
  const { child, url, exited } = await started(t)
  child.stdout?.pause() // the reader stops reading: the pipe and Node's buffer behind it fill up
  // Each request logs two lines with its URL: 300 x ~2 x 2 KiB is far past a pipe's 64 KiB.
  const long = 'x'.repeat(2000)
  let answered = 0
  for (let i = 0; i < 300; i++) {
    const res = await request(`${url}/healthz?pad=${long}${i}`, { headersTimeout: GUARD_MS })
    await res.body.text()
    if (res.statusCode === 200) answered++
  }
  t.equal(answered, 300, 'every request answered while stdout is full')
  t.equal(await sigterm(child, exited), 0, 'SIGTERM: closed gracefully and exited 0')
})

t.test('a stdout whose reader is gone (serve | head -2, EPIPE): SIGTERM closes and exits 0', async (t) => {
  const { child, url, exited } = await started(t)
  child.stdout?.destroy() // the reader exits: the next write gets EPIPE
  for (let i = 0; i < 5; i++) {
    const res = await request(`${url}/healthz`)
    await res.body.text()
    t.equal(res.statusCode, 200, `request ${i + 1} answered after stdout broke`)
  }
  t.equal(await sigterm(child, exited), 0, 'SIGTERM: closed gracefully and exited 0')
})
