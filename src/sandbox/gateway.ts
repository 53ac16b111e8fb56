/**
 * A Cordum-compatible gateway over plain node:http (so faults can reach the socket): auth as
 * Cordum does it (X-API-Key or Bearer, X-Tenant-ID, roles), the routes of routes.ts, the fault
 * injector around them, and a small control API under /_sandbox for separately started
 * sandboxes (admin key): GET /_sandbox/stats, GET|POST|DELETE /_sandbox/faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { SandboxActions } from './actions.js'
import { FaultInjector, faultyBody, RequestStats, type FaultKind, type FaultSpec } from './faults.js'
import { cordumError, getJob, listApprovals, listDecisions, listDlq, listDlqPage, listJobs, listPools, status, type Caller, type Handler, type RouteResponse } from './routes.js'
import { SANDBOX_TENANT } from './scenarios.js'
import { benchRoutes, type BenchProfile } from './bench.js'

export interface SandboxKey { key: string, role: 'admin' | 'viewer', tenant: string }

export const SANDBOX_ADMIN_KEY = 'sandbox-admin-key'
export const SANDBOX_VIEWER_KEY = 'sandbox-viewer-key'

export interface SandboxOptions {
  port?: number
  host?: string
  /** Accepted keys; default: the admin and viewer sandbox keys of tenant `default`. */
  keys?: SandboxKey[]
  /** The sandbox's clock (epoch ms); tests move it to check verdicts at any time of day. */
  now?: () => number
  /** How long creating a workflow run takes (the window in which a repeated Idempotency-Key gets 409); default 100 ms. */
  runCreateDelayMs?: number
  /**
   * Serve the bench profile's data instead of the scenarios' (bench.ts): large decision and
   * job lists, the jobs list without Cordum's 1000-job cap. For benchmarks only.
   */
  bench?: BenchProfile
}

export interface Sandbox {
  url: string
  port: number
  keys: SandboxKey[]
  faults: FaultInjector
  stats: RequestStats
  /** Workflow runs, submitted jobs and approvals (the write routes). */
  actions: SandboxActions
  close: () => Promise<void>
}

interface Route { handler: Handler, admin: boolean }

const ROUTES: Record<string, Route> = {
  '/api/v1/status': { handler: status, admin: false },
  '/api/v1/jobs': { handler: listJobs, admin: false },
  '/api/v1/governance/decisions': { handler: listDecisions, admin: false },
  '/api/v1/approvals': { handler: listApprovals, admin: true },
  '/api/v1/dlq': { handler: listDlq, admin: true },
  '/api/v1/dlq/page': { handler: listDlqPage, admin: true },
  '/api/v1/pools': { handler: listPools, admin: true },
}

function routeOf (path: string, routes: Record<string, Route>): Route | undefined {
  if (path.startsWith('/api/v1/jobs/') && path.length > '/api/v1/jobs/'.length) return { handler: getJob, admin: false }
  return routes[path]
}

/** The route table: the scenarios', or with a bench profile its list handlers in their place. */
function routesFor (bench: BenchProfile | undefined): Record<string, Route> {
  if (bench === undefined) return ROUTES
  const routes = { ...ROUTES }
  for (const [path, handler] of Object.entries(benchRoutes(bench))) routes[path] = { handler, admin: ROUTES[path]?.admin ?? false }
  return routes
}

function keyOf (req: IncomingMessage): string | undefined {
  const header = req.headers['x-api-key']
  if (typeof header === 'string' && header !== '') return header
  const auth = req.headers.authorization
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '')
  return undefined
}

/** Cordum's auth: a known key, the tenant header matching the key's tenant, the route's role. */
function authorize (req: IncomingMessage, keys: SandboxKey[], admin: boolean): Caller | RouteResponse {
  const key = keyOf(req)
  if (key === undefined) return cordumError(401, 'missing API key', 'UNAUTHORIZED')
  const found = keys.find((k) => k.key === key)
  if (found === undefined) return cordumError(401, 'invalid API key', 'UNAUTHORIZED')
  const header = req.headers['x-tenant-id']
  const tenant = typeof header === 'string' && header !== '' ? header : found.tenant
  if (tenant !== found.tenant) return cordumError(403, 'tenant access denied', 'FORBIDDEN')
  if (admin && found.role !== 'admin') return cordumError(403, 'forbidden: requires role admin', 'FORBIDDEN')
  return { role: found.role, tenant }
}

async function send (res: ServerResponse, r: RouteResponse, fault: FaultKind | undefined, sent?: (bytes: number) => void): Promise<void> {
  const json = Buffer.from(JSON.stringify(r.body))
  sent?.(json.length)
  const headers: Record<string, string | number> = { 'content-type': 'application/json', ...r.headers }
  switch (fault?.kind) {
    case 'malformed-json': {
      const bad = Buffer.from('{"items": [{"id": "sbx-0-1", "state": SUCCEEDED}], ')
      res.writeHead(r.status, { ...headers, 'content-length': bad.length }).end(bad)
      return
    }
    case 'truncated-json': {
      const half = json.subarray(0, Math.max(1, Math.floor(json.length / 2)))
      res.writeHead(r.status, { ...headers, 'content-length': half.length }).end(half)
      return
    }
    case 'content-type':
      res.writeHead(r.status, { ...headers, 'content-type': fault.value, 'content-length': json.length }).end(json)
      return
    case 'oversize-body': {
      // Valid JSON (trailing whitespace is allowed), just too much of it.
      const pad = Buffer.alloc(Math.max(0, fault.bytes - json.length), ' ')
      res.writeHead(r.status, { ...headers, 'content-length': json.length + pad.length })
      res.write(json)
      res.end(pad)
      return
    }
    case 'stall-body':
    case 'reset-mid-body': {
      res.writeHead(r.status, { ...headers, 'content-length': json.length })
      res.write(json.subarray(0, Math.floor(json.length / 2)))
      if (fault.kind === 'reset-mid-body') {
        // Let the first half reach the client, then cut the connection.
        await sleep(20)
        res.socket?.destroy()
        return
      }
      await sleep(fault.ms)
      if (!res.destroyed) res.end(json.subarray(Math.floor(json.length / 2)))
      return
    }
    default:
      res.writeHead(r.status, { ...headers, 'content-length': json.length }).end(json)
  }
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 64 * 1024) throw new Error('body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function control (req: IncomingMessage, path: string, keys: SandboxKey[], faults: FaultInjector, stats: RequestStats): Promise<RouteResponse> {
  const caller = authorize(req, keys, true)
  if ('status' in caller) return caller
  if (path === '/_sandbox/stats' && req.method === 'GET') return { status: 200, body: { requests: stats.snapshot(), total: stats.count(), bytes: stats.bytesSnapshot(), totalBytes: stats.bytes() } }
  if (path === '/_sandbox/stats' && req.method === 'DELETE') { stats.reset(); return { status: 200, body: { requests: {} } } }
  if (path === '/_sandbox/faults' && req.method === 'GET') return { status: 200, body: { faults: faults.list() } }
  if (path === '/_sandbox/faults' && req.method === 'DELETE') { faults.clear(); return { status: 200, body: { faults: [] } } }
  if (path === '/_sandbox/faults' && req.method === 'POST') {
    let spec: FaultSpec
    try {
      spec = JSON.parse(await readBody(req)) as FaultSpec
    } catch {
      return cordumError(400, 'body must be a JSON fault spec {route?, times?, fault: {kind, ...}}', 'BAD_REQUEST')
    }
    if (typeof spec?.fault?.kind !== 'string') return cordumError(400, 'fault.kind is required', 'BAD_REQUEST')
    faults.add(spec)
    return { status: 201, body: { faults: faults.list() } }
  }
  return cordumError(404, 'not found', 'NOT_FOUND')
}

async function handleAction (req: IncomingMessage, res: ServerResponse, url: URL, keys: SandboxKey[], faults: FaultInjector, actions: SandboxActions, now: () => number): Promise<boolean> {
  const route = actions.route(req.method ?? 'GET', url.pathname)
  if (route === undefined) return false
  const fault = faults.take(url.pathname)
  if (fault?.kind === 'delay-headers') await sleep(fault.ms)
  if (fault?.kind === 'status') {
    await send(res, cordumError(fault.status, fault.status >= 500 ? 'internal error' : 'request failed', fault.status >= 500 ? 'INTERNAL' : 'ERROR'), undefined)
    return true
  }
  const caller = authorize(req, keys, route.admin)
  if ('status' in caller) {
    await send(res, caller, undefined)
    return true
  }
  let body: Record<string, unknown> = {}
  if (req.method === 'POST') {
    const text = await readBody(req)
    try {
      const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
      body = parsed as Record<string, unknown>
    } catch {
      await send(res, cordumError(400, 'invalid JSON body', 'BAD_REQUEST'), undefined)
      return true
    }
  }
  await send(res, await route.handle({ path: url.pathname, query: url.searchParams, headers: req.headers, body, caller, now: now() }), fault)
  return true
}

async function handle (
  req: IncomingMessage, res: ServerResponse, keys: SandboxKey[], faults: FaultInjector, stats: RequestStats, now: () => number, actions: SandboxActions, routes: Record<string, Route>
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sandbox')
  const path = url.pathname
  if (path.startsWith('/_sandbox/')) {
    await send(res, await control(req, path, keys, faults, stats), undefined)
    return
  }
  stats.record(path)
  if (path === '/health' || path === '/api/v1/health') {
    await send(res, { status: 200, body: { status: 'ok' } }, undefined)
    return
  }
  if (await handleAction(req, res, url, keys, faults, actions, now)) return
  const route = routeOf(path, routes)
  if (route === undefined) {
    await send(res, cordumError(404, 'not found', 'NOT_FOUND'), undefined)
    return
  }
  if (req.method !== 'GET') {
    await send(res, cordumError(405, 'method not allowed', 'METHOD_NOT_ALLOWED'), undefined)
    return
  }
  const fault = faults.take(path)
  if (fault?.kind === 'delay-headers') await sleep(fault.ms)
  if (fault?.kind === 'reset-before-headers') {
    res.socket?.destroy()
    return
  }
  if (fault?.kind === 'echo-credentials') {
    const presented = [req.headers['x-api-key'], req.headers.authorization].filter((v) => typeof v === 'string').join(' ')
    await send(res, cordumError(fault.status, `request with credentials ${presented} refused`, 'ERROR'), undefined)
    return
  }
  if (fault?.kind === 'auth') {
    await send(res, fault.status === 401 ? cordumError(401, 'invalid API key', 'UNAUTHORIZED') : cordumError(403, 'forbidden: requires role admin', 'FORBIDDEN'), undefined)
    return
  }
  if (fault?.kind === 'status') {
    await send(res, cordumError(fault.status, fault.status >= 500 ? 'internal error' : 'request failed', fault.status >= 500 ? 'INTERNAL' : 'ERROR'), undefined)
    return
  }
  if (fault?.kind === 'rate-limit') {
    const r = cordumError(429, 'rate limit exceeded', 'RATE_LIMITED')
    if (fault.retryAfter !== undefined) r.headers = { 'retry-after': fault.retryAfter }
    await send(res, r, undefined)
    return
  }
  const caller = authorize(req, keys, route.admin)
  if ('status' in caller) {
    await send(res, caller, undefined)
    return
  }
  if (fault?.kind === 'repeat-cursor') url.searchParams.delete('cursor')
  const answer = route.handler({ path, query: url.searchParams, caller, now: now() })
  // Promotion jobs waiting for a human are in the approvals queue like any other.
  if (path === '/api/v1/approvals' && answer.status === 200) {
    const body = answer.body as { items: unknown[] }
    body.items = [...body.items, ...actions.pendingApprovals(caller.tenant)]
  }
  if (answer.status === 200) answer.body = faultyBody(answer.body, fault, now())
  await send(res, answer, fault, (bytes) => stats.recordBytes(path, bytes))
}

/** Starts a sandbox gateway; resolves once it listens. */
export async function startSandbox (opts: SandboxOptions = {}): Promise<Sandbox> {
  const keys = opts.keys ?? [
    { key: SANDBOX_ADMIN_KEY, role: 'admin', tenant: SANDBOX_TENANT },
    { key: SANDBOX_VIEWER_KEY, role: 'viewer', tenant: SANDBOX_TENANT },
  ]
  const now = opts.now ?? Date.now
  const faults = new FaultInjector()
  const stats = new RequestStats()
  const actions = new SandboxActions(opts.runCreateDelayMs === undefined ? {} : { runCreateDelayMs: opts.runCreateDelayMs })
  const routes = routesFor(opts.bench)
  const server: Server = createServer((req, res) => {
    handle(req, res, keys, faults, stats, now, actions, routes).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal error","code":"INTERNAL","status":500}')
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve())
  })
  const { port, address, family } = server.address() as AddressInfo
  const host = family === 'IPv6' ? `[${address}]` : address
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    keys,
    faults,
    stats,
    actions,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
