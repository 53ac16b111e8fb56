/**
 * The bundled plugin executable as a process: the start-up contract go-plugin's host relies on
 * (magic cookie, handshake line, port range, stderr logs) and its exits.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createServer, connect, type AddressInfo, type Server } from 'node:net'
import { once } from 'node:events'
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildPluginForTest } from './helpers/plugin-build.js'

const COOKIE = { ARGO_ROLLOUTS_RPC_PLUGIN: 'metricprovider' }

interface Running { child: ChildProcessWithoutNullStreams, stdout: () => string, stderr: () => string, exit: Promise<number | null> }

function start (launcher: string, env: NodeJS.ProcessEnv, args: string[] = []): Running {
  const cleanEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...env }
  const child = spawn(launcher, args, { env: cleanEnv })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return { child, stdout: () => out, stderr: () => err, exit }
}

async function handshake (r: Running): Promise<string> {
  for (let i = 0; i < 200 && !r.stdout().includes('\n'); i++) await new Promise((resolve) => setTimeout(resolve, 25))
  return r.stdout().split('\n')[0] ?? ''
}

async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}

t.test('plugin process', async (t) => {
  const { launcher } = await buildPluginForTest(t)

  t.test('a host that closed the plugin\'s stdout: exit 0 without an EPIPE stack (issue 20, item 10)', async (t) => {
    const r = start(launcher, { ...COOKIE, PLUGIN_PROTOCOL_VERSIONS: '1' })
    r.child.stdout.destroy() // the handshake's write finds no reader
    t.equal(await r.exit, 0, 'exits 0, as when the host goes away')
    t.notMatch(r.stderr(), /EPIPE|Error:|\n\s+at /, 'no stack on stderr')
  })

  t.test('refuses to run without the magic cookie', async (t) => {
    const r = start(launcher, {})
    t.equal(await r.exit, 1, 'exit 1')
    t.match(r.stderr(), /not meant to be executed directly/, 'explains itself on stderr')
    t.equal(r.stdout(), '', 'prints no handshake')
  })

  t.test('handshake on the requested port, JSON logs on stderr, exits when the host goes away', async (t) => {
    const port = await freePort()
    const r = start(launcher, { ...COOKIE, PLUGIN_MIN_PORT: String(port), PLUGIN_MAX_PORT: String(port), PLUGIN_PROTOCOL_VERSIONS: '1' })
    t.equal(await handshake(r), `1|1|tcp|127.0.0.1:${port}|netrpc`, 'go-plugin handshake line')
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.destroy() // the host dies without Control.Quit
    t.equal(await r.exit, 0, 'exits 0 when the connection is gone')
    t.equal(r.stdout().split('\n').filter((l) => l !== '').length, 1, 'nothing but the handshake on stdout')
    const lines = r.stderr().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    t.ok(lines.length >= 2, 'start and exit are logged')
    for (const l of lines) {
      t.match(l, { '@level': /^(trace|debug|info|warn|error)$/, '@message': String, '@timestamp': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/ }, `hclog JSON line: ${String(l['@message'])}`)
    }
    t.match(lines.at(-1), { '@message': 'plugin exiting', reason: 'host closed the connection', code: 0 })
  })

  t.test('SIGINT is left to the host; SIGTERM stops the plugin (run as a lone copy, as Argo runs it)', async (t) => {
    // Argo copies just the one file into plugin-bin/<namespace>/<name> (mode 0700) and runs it.
    const bin = mkdtempSync(join(tmpdir(), 'plugin-bin-'))
    t.teardown(() => { rmSync(bin, { recursive: true, force: true }) })
    const lone = join(bin, 'agent-canary-gate')
    copyFileSync(launcher, lone)
    chmodSync(lone, 0o700)
    const r = start(lone, COOKIE)
    t.match(await handshake(r), /^1\|1\|tcp\|127\.0\.0\.1:\d+\|netrpc$/)
    r.child.kill('SIGINT')
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal(r.child.exitCode, null, 'still running after SIGINT')
    r.child.kill('SIGTERM')
    t.equal(await r.exit, 0, 'exit 0 on SIGTERM')
  })

  t.test('refusals: protocol version, port range, arguments', async (t) => {
    const v2 = start(launcher, { ...COOKIE, PLUGIN_PROTOCOL_VERSIONS: '2,3' })
    t.equal(await v2.exit, 1)
    t.match(v2.stderr(), /protocol versions 2,3; this plugin speaks 1/)

    const busy: Server = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { busy.close() })
    const port = (busy.address() as AddressInfo).port
    const taken = start(launcher, { ...COOKIE, PLUGIN_MIN_PORT: String(port), PLUGIN_MAX_PORT: String(port) })
    t.equal(await taken.exit, 1)
    t.match(taken.stderr(), new RegExp(`no free port on 127\\.0\\.0\\.1 in ${port}-${port}`))

    const backwards = start(launcher, { ...COOKIE, PLUGIN_MIN_PORT: '20000', PLUGIN_MAX_PORT: '10000' })
    t.equal(await backwards.exit, 1)
    t.match(backwards.stderr(), /PLUGIN_MAX_PORT \(10000\) is below PLUGIN_MIN_PORT \(20000\)/)

    const level = start(launcher, COOKIE, ['--log-level', 'loud'])
    t.equal(await level.exit, 1)
    t.match(level.stderr(), /--log-level must be one of trace, debug, info, warn, error, got "loud"/)
    t.equal(level.stdout(), '')
  })
})
