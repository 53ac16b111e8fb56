/**
 * Builds the Go programs under test/go-host (GOPATH mode, Debian's go-plugin and yamux
 * packages in /usr/share/gocode). Each test file that needs Go calls `goProgram`, which skips
 * visibly without Go and fails under CI_REQUIRE_TOOLS=1 (needTool).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { hasCommand, needTool } from '../../helpers/tools.js'

const run = promisify(execFile)

export const GO_HOST_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../go-host')
const DEBIAN_GOCODE = '/usr/share/gocode'

function goAvailable (): boolean {
  return hasCommand('go', ['version']) &&
    existsSync(join(DEBIAN_GOCODE, 'src/github.com/hashicorp/go-plugin')) &&
    existsSync(join(DEBIAN_GOCODE, 'src/github.com/hashicorp/yamux'))
}

export function goEnv (): NodeJS.ProcessEnv {
  return { ...process.env, GO111MODULE: 'off', GOPATH: `${GO_HOST_ROOT}:${DEBIAN_GOCODE}`, GOFLAGS: '' }
}

/**
 * The path of the built program `agentcanary/cmd/<name>`, or undefined when Go is missing
 * (the test was skipped or failed by needTool).
 */
export async function goProgram (t: Test, name: string): Promise<string | undefined> {
  if (!needTool(t, 'go (golang-go + golang-github-hashicorp-go-plugin-dev + golang-github-hashicorp-yamux-dev)', goAvailable(),
    'apt-get install golang-go golang-github-hashicorp-go-plugin-dev golang-github-hashicorp-yamux-dev')) return undefined
  const binDir = join(GO_HOST_ROOT, 'bin')
  mkdirSync(binDir, { recursive: true })
  const out = join(binDir, name)
  // Build to a private name, then rename: test files build in parallel.
  const tmp = `${out}.${process.pid}.tmp`
  await run('go', ['build', '-o', tmp, `agentcanary/cmd/${name}`], { env: goEnv(), cwd: GO_HOST_ROOT, timeout: 300_000 })
  renameSync(tmp, out)
  return out
}
