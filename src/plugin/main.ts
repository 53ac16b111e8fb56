/**
 * The plugin process, as go-plugin's plugin side starts (server.go Serve):
 * 1. refuse to run unless the host's magic cookie ARGO_ROLLOUTS_RPC_PLUGIN=metricprovider is
 *    set (a person running the file by hand gets an explanation on stderr and exit 1);
 * 2. listen on 127.0.0.1, on a port in PLUGIN_MIN_PORT..PLUGIN_MAX_PORT (0..0: any);
 * 3. print the handshake `1|1|tcp|127.0.0.1:PORT|netrpc` as the first and only stdout line;
 * 4. serve the one host connection; exit 0 when the host sends Control.Quit or goes away.
 * Logs are hclog JSON lines on stderr (log.ts).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { isGateError } from '../errors.js'
import { serveHostConnection } from './connection.js'
import { GateClient } from './gate-client.js'
import { LEVELS, PluginLogger, parseLogLevel, type LogLevel, type LogSink } from './log.js'
import { GateMetricProvider } from './provider.js'
import { PLUGIN_VERSION } from './version.js'

export const MAGIC_COOKIE_KEY = 'ARGO_ROLLOUTS_RPC_PLUGIN'
export const MAGIC_COOKIE_VALUE = 'metricprovider'
const APP_PROTOCOL_VERSION = '1'
/** go-plugin's host gives up after StartTimeout (1 minute) and dials at once after the handshake. */
const CONNECT_TIMEOUT_MS = 60_000

export interface PluginIo {
  argv: string[]
  env: NodeJS.ProcessEnv
  stdout: LogSink
  stderr: LogSink
  /** Injected in tests; the real one is undici against the configured gate. */
  gate?: GateClient
  connectTimeoutMs?: number
}

export interface PluginProcess {
  /** Resolves with the exit code once the plugin is done. */
  exitCode: Promise<number>
  /** The port it listens on (undefined when it refused to start). */
  port?: number
  /** Stop as for SIGTERM. */
  stop: () => void
}

const NOT_FOR_HUMANS = `This binary is a plugin for Argo Rollouts (metric provider cordum/agent-canary-gate).
It is not meant to be executed directly: register it in the argo-rollouts-config ConfigMap
and the Argo Rollouts controller will start it. See docs/plugin.md.
`

function refused (stderr: LogSink, message: string): PluginProcess {
  stderr.write(message.endsWith('\n') ? message : `${message}\n`)
  return { exitCode: Promise.resolve(1), stop: () => {} }
}

function parseArgs (argv: string[]): { level: LogLevel } | string {
  let level: LogLevel = 'info'
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) as [string, string] : [arg, undefined]
    if (flag !== '--log-level') return `unknown argument '${arg}' (known: --log-level ${LEVELS.join('|')})`
    const value = inline ?? argv[++i]
    const parsed = value === undefined ? undefined : parseLogLevel(value)
    if (parsed === undefined) return `--log-level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(value ?? '')}`
    level = parsed
  }
  return { level }
}

function portRange (env: NodeJS.ProcessEnv): [number, number] | string {
  const parse = (name: string): number | string => {
    const raw = env[name]
    if (raw === undefined || raw === '') return 0
    const n = Number(raw)
    return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : `${name} must be a port number 0-65535, got ${JSON.stringify(raw)}`
  }
  const min = parse('PLUGIN_MIN_PORT')
  const max = parse('PLUGIN_MAX_PORT')
  if (typeof min === 'string') return min
  if (typeof max === 'string') return max
  if (max < min) return `PLUGIN_MAX_PORT (${max}) is below PLUGIN_MIN_PORT (${min})`
  return [min, max]
}

function listen (server: Server, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false)
      else reject(err)
    }
    const onListening = (): void => { server.off('error', onError); resolve(true) }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({ host: '127.0.0.1', port, exclusive: true })
  })
}

export async function startPlugin (io: PluginIo): Promise<PluginProcess> {
  if (io.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) return refused(io.stderr, NOT_FOR_HUMANS)
  const args = parseArgs(io.argv)
  if (typeof args === 'string') return refused(io.stderr, `agent-canary-gate plugin: ${args}`)
  const versions = io.env.PLUGIN_PROTOCOL_VERSIONS
  if (versions !== undefined && versions !== '' && !versions.split(',').map((v) => v.trim()).includes(APP_PROTOCOL_VERSION)) {
    return refused(io.stderr, `agent-canary-gate plugin: the host speaks plugin protocol versions ${versions}; this plugin speaks ${APP_PROTOCOL_VERSION}`)
  }
  if (io.env.PLUGIN_CLIENT_CERT !== undefined && io.env.PLUGIN_CLIENT_CERT !== '') {
    return refused(io.stderr, 'agent-canary-gate plugin: the host asked for AutoMTLS, which this plugin does not support (Argo Rollouts does not use it)')
  }
  const range = portRange(io.env)
  if (typeof range === 'string') return refused(io.stderr, `agent-canary-gate plugin: ${range}`)

  const log = new PluginLogger(io.stderr, args.level)
  const server = createServer()
  let port: number | undefined
  for (let p = range[0]; p <= range[1] && port === undefined; p++) {
    if (await listen(server, p)) port = (server.address() as AddressInfo).port
  }
  if (port === undefined) return refused(io.stderr, `agent-canary-gate plugin: no free port on 127.0.0.1 in ${range[0]}-${range[1]}`)

  const gate = io.gate ?? new GateClient()
  const provider = new GateMetricProvider({ gate, log })
  let finish: (code: number) => void = () => {}
  const exitCode = new Promise<number>((resolve) => { finish = resolve })
  let done = false
  let socket: Socket | undefined
  const end = (code: number, reason: string): void => {
    if (done) return
    done = true
    clearTimeout(connectTimer)
    server.close()
    log.info('plugin exiting', { reason, code })
    void gate.close().catch(() => {}).finally(() => { finish(code) })
  }
  const connectTimer = setTimeout(() => {
    log.error(`no plugin host connected within ${(io.connectTimeoutMs ?? CONNECT_TIMEOUT_MS) / 1000}s`)
    end(1, 'no host')
  }, io.connectTimeoutMs ?? CONNECT_TIMEOUT_MS)

  let session: ReturnType<typeof serveHostConnection> | undefined
  let quitting = false
  server.on('connection', (s) => {
    if (socket !== undefined) { s.destroy(); return } // one host per plugin process
    socket = s
    clearTimeout(connectTimer)
    server.close()
    s.setNoDelay(true)
    log.debug('host connected', { from: `${s.remoteAddress ?? ''}:${s.remotePort ?? ''}` })
    session = serveHostConnection(s, {
      provider,
      log,
      onQuit: () => { quitting = true; log.info('the host asked the plugin to quit'); session?.close() },
    })
    session.on('close', (err) => {
      if (err !== undefined && isGateError(err)) {
        log.error('plugin connection failed', { error: err.message })
        end(1, 'protocol error')
        return
      }
      end(0, quitting ? 'Control.Quit' : err === undefined ? 'host closed the connection' : `host connection ended: ${err.message}`)
    })
  })

  io.stdout.write(`1|${APP_PROTOCOL_VERSION}|tcp|127.0.0.1:${port}|netrpc\n`)
  log.info('plugin started', { version: PLUGIN_VERSION, address: `127.0.0.1:${port}`, pid: process.pid })
  return {
    exitCode,
    port,
    stop: () => {
      if (session !== undefined) session.close()
      end(0, 'stopped')
    },
  }
}
