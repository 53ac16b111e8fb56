/**
 * Processes and probes for the bench runner: the sandbox and each gate under measurement run
 * as separate Node processes on 127.0.0.1 with ephemeral ports, so a gate's RSS is its own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { SANDBOX_ADMIN_KEY } from '../src/sandbox/gateway.js'
import type { BenchProfile } from '../src/sandbox/bench.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Resolves with the first stdout line matching `pattern` (its match), or rejects when the process exits first. */
async function firstLine (child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  return await new Promise((resolve, reject) => {
    let buffer = ''
    let stderr = ''
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${stderr.slice(-2000)}`)), timeoutMs)
    child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000) })
    const onData = (c: Buffer): void => {
      buffer += c.toString()
      const m = pattern.exec(buffer)
      if (m !== null) {
        clearTimeout(timer)
        buffer = ''
        // Keep draining (and dropping) the process's output so its pipe never blocks it.
        child.stdout?.off('data', onData)
        child.stdout?.on('data', () => {})
        resolve(m)
      } else if (buffer.length > 1 << 20) {
        buffer = buffer.slice(-4096)
      }
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${String(code)} before it was ready: ${stderr.slice(-2000)}`)) })
  })
}

/**
 * Resolves with the first match of `pattern` in the log file a process writes, or rejects when
 * the process exits first. The gate logs to a file rather than to a pipe of this process: a pipe
 * is drained by this event loop, which also runs autocannon, and when it falls behind pino's
 * synchronous stdout waits 100 ms on the full pipe, so the bench would measure its own drain.
 */
async function lineInFile (child: ChildProcess, file: string, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000) })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const m = pattern.exec(readFileSync(file, 'utf8'))
    if (m !== null) return m
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited with ${String(child.exitCode ?? child.signalCode)} before it was ready: ${stderr.slice(-2000)}`)
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms: ${stderr.slice(-2000)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

const tsx = ['--import', 'tsx']

export interface SandboxProc {
  url: string
  pid: number
  stats: () => Promise<UpstreamStats>
  /** Pins the sandbox's clock at nowMs (null: the wall clock again); resolves once it is set. */
  setClock: (nowMs: number | null) => Promise<void>
  close: () => Promise<void>
}
export interface UpstreamStats { requests: Record<string, number>, bytes: Record<string, number> }

export async function startSandboxProcess (profile: BenchProfile): Promise<SandboxProc> {
  const child = spawn(process.execPath, [...tsx, join(ROOT, 'bench', 'sandbox-process.ts')], {
    cwd: ROOT,
    env: { ...process.env, BENCH_PROFILE: JSON.stringify(profile) },
    stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
  })
  const m = await firstLine(child, /\{"url":"([^"]+)"\}/, 'the sandbox')
  const url = m[1] as string
  return {
    url,
    pid: child.pid as number,
    stats: async () => {
      const res = await request(`${url}/_sandbox/stats`, { headers: { 'x-api-key': SANDBOX_ADMIN_KEY } })
      const body = await res.body.json() as { requests: Record<string, number>, bytes: Record<string, number> }
      return { requests: body.requests, bytes: body.bytes ?? {} }
    },
    setClock: async (nowMs) => {
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: { nowMs: number | null }): void => {
          if (m.nowMs !== nowMs) return
          child.off('message', onMessage)
          resolve()
        }
        child.on('message', onMessage)
        child.send({ nowMs }, (err) => { if (err !== null) { child.off('message', onMessage); reject(err) } })
      })
    },
    close: async () => { child.stdin?.end(); await stop(child) },
  }
}

/** The Cordum list paths a score reads (readiness and version probes are not counted). */
const DATA_PATHS = ['/api/v1/governance/decisions', '/api/v1/jobs', '/api/v1/approvals', '/api/v1/dlq', '/api/v1/dlq/page', '/api/v1/pools']

/** Requests and response bytes of the Cordum lists between two stats snapshots. */
export function upstreamDelta (before: UpstreamStats, after: UpstreamStats): { requests: number, bytes: number, byPath: Record<string, number>, bytesByPath: Record<string, number> } {
  let requests = 0
  let bytes = 0
  const byPath: Record<string, number> = {}
  const bytesByPath: Record<string, number> = {}
  for (const p of DATA_PATHS) {
    const n = (after.requests[p] ?? 0) - (before.requests[p] ?? 0)
    const b = (after.bytes[p] ?? 0) - (before.bytes[p] ?? 0)
    if (n > 0) { byPath[p] = n; bytesByPath[p] = b }
    requests += n
    bytes += b
  }
  return { requests, bytes, byPath, bytesByPath }
}

export interface GateProc { url: string, pid: number, memory: () => Memory, cpuMs: () => number, close: () => Promise<void> }

/** CPU time (user + system) a process has used so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuMsOf (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at state, field 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}
export interface Memory { rssMb: number, peakRssMb: number }

/** /proc/<pid>/status: resident set now (VmRSS) and its peak since the process started (VmHWM). */
export function memoryOf (pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 }
}

/** How a gate process runs: the built dist/cli.js (what `npm start` runs), or the sources through tsx. */
export type GateBuild = 'dist' | 'source'

/** Compiles dist/ (`npm run build`) so the measured gate is the production build of this tree. */
export function buildDist (): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm run build failed: ${r.stdout}${r.stderr}`)
}

/**
 * A gate (`agent-canary-gate serve`) against the sandbox, with the production defaults except:
 * loopback, a free port, evidence in a fresh temporary DATA_DIR, the bench gates file (the
 * default stages plus bench-decisions) and the longest Cordum deadline the gate accepts (60 s),
 * for the million-event window.
 */
export async function startGate (cordumUrl: string, build: GateBuild, env: Record<string, string> = {}): Promise<GateProc> {
  const dataDir = mkdtempSync(join(tmpdir(), 'acg-bench-data-'))
  const logFile = join(dataDir, 'gate.log')
  const logFd = openSync(logFile, 'a')
  const args = build === 'dist' ? [join(ROOT, 'dist', 'cli.js'), 'serve'] : [...tsx, join(ROOT, 'src', 'cli.ts'), 'serve']
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      CORDUM_URL: cordumUrl,
      CORDUM_API_KEY: SANDBOX_ADMIN_KEY,
      CORDUM_TENANT: 'default',
      CORDUM_DEADLINE_MS: '60000',
      // The read-path rows (1-5) measure the lists as read per request; the job ledger has its own rows (7a, 7c).
      CORDUM_LEDGER_MAX_INTERVAL_SECONDS: '0',
      GATES_FILE: join(ROOT, 'bench', 'gates.yaml'),
      DATA_DIR: dataDir,
      ...env,
    },
    stdio: ['ignore', logFd, 'pipe'],
  })
  closeSync(logFd)
  const m = await lineInFile(child, logFile, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 'the gate')
  const pid = child.pid as number
  let closing = false
  // A gate that dies under measurement says so here, with the end of its log (its data dir goes at close).
  child.once('exit', (code, signal) => {
    if (closing) return
    const tail = readFileSync(logFile, 'utf8').split('\n').slice(-6).join('\n')
    process.stderr.write(`bench: the gate (pid ${pid}) exited with ${String(code ?? signal)} under measurement; the end of its log:\n${tail}\n`)
  })
  return {
    url: m[1] as string,
    pid,
    memory: () => memoryOf(pid),
    cpuMs: () => cpuMsOf(pid),
    close: async () => {
      closing = true
      await stop(child)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export interface ScoreAsk { stage: string, since: number, until: number }

export interface Score {
  status: number
  verdict?: string
  /** Decisions and jobs the gate counted for the canary arm (policy_deny_rate n, job_failure_rate n). */
  canaryDecisions?: number
  canaryJobs?: number
  baselineDecisions?: number
  baselineJobs?: number
  error?: string
}

export function scorePath (ask: ScoreAsk): string {
  const q = new URLSearchParams({ stage: ask.stage, canary: 'bench-canary', baseline: 'bench-baseline', since: new Date(ask.since).toISOString(), until: new Date(ask.until).toISOString() })
  return `/api/v1/score?${q.toString()}`
}

const longAgent = new Agent({ connections: 256, headersTimeout: 900_000, bodyTimeout: 900_000 })

export async function score (gateUrl: string, ask: ScoreAsk): Promise<Score> {
  const res = await request(`${gateUrl}${scorePath(ask)}`, { dispatcher: longAgent })
  const body = await res.body.json() as { verdict?: string, error?: string, signals?: { name: string, canary?: { n?: number }, baseline?: { n?: number } }[] }
  if (res.statusCode !== 200) return { status: res.statusCode, error: body.error ?? 'no error message' }
  const s = Object.fromEntries((body.signals ?? []).map((x) => [x.name, x]))
  const out: Score = { status: 200 }
  if (body.verdict !== undefined) out.verdict = body.verdict
  const cd = s.policy_deny_rate?.canary?.n
  const cj = s.job_failure_rate?.canary?.n
  const bd = s.policy_deny_rate?.baseline?.n
  const bj = s.job_failure_rate?.baseline?.n
  if (cd !== undefined) out.canaryDecisions = cd
  if (cj !== undefined) out.canaryJobs = cj
  if (bd !== undefined) out.baselineDecisions = bd
  if (bj !== undefined) out.baselineJobs = bj
  return out
}
