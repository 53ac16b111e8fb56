/**
 * Builds the Go harness (test/argo-web/*.go) from Debian's packages in GOPATH mode and runs it.
 * The harness plays an Argo AnalysisRun of one of the project's templates against a gate and
 * prints the finished run as JSON.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { hasCommand, needTool } from '../helpers/tools.js'

const run = promisify(execFile)
export const HARNESS_DIR = fileURLToPath(new URL('.', import.meta.url))
export const PROJECT_ROOT = join(HARNESS_DIR, '..', '..')
const GOCODE = '/usr/share/gocode'
const EXPR = join(GOCODE, 'src/github.com/antonmedv/expr')
const YAML_V3 = join(GOCODE, 'src/gopkg.in/yaml.v3')

/** Skips (or fails under CI) unless Go and the Debian Go packages the harness imports exist. */
export function needGoHarness (tap: Parameters<typeof needTool>[0]): boolean {
  return needTool(tap, 'go', hasCommand('go', ['version']), 'apt-get install golang-go') &&
    needTool(tap, 'golang-github-antonmedv-expr-dev', existsSync(EXPR) && existsSync(YAML_V3),
      `apt-get install golang-github-antonmedv-expr-dev (it brings gopkg.in/yaml.v3); looked in ${GOCODE}`)
}

/**
 * `GO111MODULE=off GOPATH=<tmp>:/usr/share/gocode go build`; returns the binary's path. The
 * build directory is removed when the test ends.
 */
export async function buildHarness (t: { teardown: (fn: () => void) => void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'argo-web-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const binary = join(dir, 'argo-web')
  const env: NodeJS.ProcessEnv = { ...process.env, GO111MODULE: 'off', GOPATH: `${dir}:${GOCODE}`, GOFLAGS: '' }
  // Go needs a build cache; without HOME (some CI sandboxes) give it one for this build.
  if (env.GOCACHE === undefined && env.HOME === undefined && env.XDG_CACHE_HOME === undefined) env.GOCACHE = join(dir, 'cache')
  await run('go', ['build', '-o', binary, '.'], { cwd: HARNESS_DIR, env, timeout: 300_000 })
  return binary
}

export interface Measurement { phase: string, value?: string, message?: string, atSeconds: number }
export interface MetricResult {
  name: string
  phase: string
  message?: string
  count: number
  successful: number
  failed: number
  inconclusive: number
  error: number
  consecutiveError: number
  consecutiveSuccess: number
  measurements: Measurement[]
}
export interface RunReport {
  template: string
  phase: string
  message?: string
  virtualSeconds: number
  metrics: MetricResult[]
}

export interface HarnessResult { code: number, stdout: string, stderr: string, report?: RunReport }

export async function runHarness (binary: string, args: string[]): Promise<HarnessResult> {
  try {
    const { stdout, stderr } = await run(binary, args, { cwd: PROJECT_ROOT, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 })
    return { code: 0, stdout, stderr, report: JSON.parse(stdout) as RunReport }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    if (typeof e.code !== 'number') throw err
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

/** The args a Rollout step passes (see analysis-templates/examples/rollout.yaml). */
export function rolloutArgs (gateUrl: string, canaryHash: string, extra: Record<string, string> = {}): string[] {
  const args: Record<string, string> = {
    agent: 'support-agent',
    topic: 'job.support.reply',
    'canary-hash': canaryHash,
    'stable-hash': 'stable',
    namespace: 'support',
    rollout: 'support-agent',
    revision: '3',
    'gate-url': gateUrl,
    ...extra,
  }
  return Object.entries(args).flatMap(([k, v]) => ['-arg', `${k}=${v}`])
}
