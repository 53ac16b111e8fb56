/** The CLI as a separate process (through tsx), its output lines, and waiting for one. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

export interface Proc { child: ChildProcess, lines: string[], exited: Promise<number | null> }

export function runCli (args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let buffer = ''
  child.stdout?.on('data', (d: Buffer) => {
    buffer += String(d)
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts)
  })
  child.stderr?.on('data', (d: Buffer) => lines.push(`stderr: ${String(d)}`))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, lines, exited }
}

export async function waitFor (p: Proc, pattern: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    for (const line of p.lines) {
      const m = pattern.exec(line)
      if (m !== null) return m
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no line matching ${String(pattern)} in:\n${p.lines.join('\n')}`)
}

/** Starts `serve` and resolves with its URL. */
export async function serve (env: Record<string, string>): Promise<{ proc: Proc, url: string }> {
  const proc = runCli(['serve'], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env })
  const [, url] = await waitFor(proc, /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/) as [string, string]
  return { proc, url }
}
