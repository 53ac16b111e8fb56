/**
 * The gate's HTTP server: Fastify's options (logger with secrets redacted, timeouts inside
 * Argo's 10 s, AJV options), the app plugin in front of the parts src/compose.ts builds, listen,
 * and close-with-grace for SIGTERM. The wiring itself (sources, evidence, actions, the score
 * service, the demo sandbox) is the composition root's: see buildGate.
 */
import { readFileSync } from 'node:fs'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { DestinationStream } from 'pino'
import { buildGate, longestDeadlineMs } from '../compose.js'
import type { LoadedPolicy } from '../config/load.js'
import type { ServiceConfig } from '../config/env.js'
import { GateError } from '../errors.js'
import type { EvidenceStore } from '../evidence/store.js'
import type { GateMetrics } from '../metrics/gate-metrics.js'
import type { Sandbox } from '../sandbox/gateway.js'
import type { PermissionCheck } from '../service/permissions.js'
import type { ScoreService } from '../service/score.js'
import { gateApp } from './app.js'
import { BODY_LIMIT_BYTES } from './errors.js'
import { stdoutDestination } from './log-destination.js'
import type { PressureOptions } from './plugins/under-pressure.js'

export { openEvidence } from '../compose.js'

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Log paths that may hold secrets; pino replaces them. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  '*.apiKey',
  '*.api_key',
  '*.password',
  '*.token',
  '*.bearerToken',
  'config.cordum.apiKey',
]

export interface BuildOptions {
  /** Where logs go (tests capture them); default stdout. */
  logStream?: DestinationStream
  /** Clock for the service and the demo sandbox (tests). */
  now?: () => number
  underPressure?: PressureOptions | false
}

export interface GateServer {
  app: FastifyInstance
  service: ScoreService
  /** The in-process sandbox in demo mode. */
  sandbox?: Sandbox
  policy: LoadedPolicy
  metrics: GateMetrics
  /** Where decision records go (absent with EVIDENCE_URL=none). */
  evidence?: EvidenceStore
  /** What the Cordum key may read (absent without Cordum); `runServer` runs it before listening. */
  permissions?: PermissionCheck
}

export async function buildServer (config: ServiceConfig, opts: BuildOptions = {}): Promise<GateServer> {
  // Backstop: Cordum reads are bounded by CORDUM_DEADLINE_MS; a handler still running past
  // this gets a 503 rather than outliving Argo's 10 s timeout silently.
  const handlerTimeout = Math.max(9_500, longestDeadlineMs(config) + 1_500)
  const options: FastifyServerOptions = {
    logger: {
      level: config.logLevel,
      redact: { paths: REDACT, censor: '[redacted]' },
      // Never pino's default stdout: it blocks the process on a full pipe (log-destination.ts).
      stream: opts.logStream ?? stdoutDestination(),
    },
    // A socket silent this long is closed. No bytes flow while a score is judged, so this
    // outlasts the handler's backstop: a long deadline (CORDUM_DEADLINE_MS up to 60 s) gets its
    // answer or its 503, never a connection closed without one.
    connectionTimeout: Math.max(30_000, handlerTimeout + 5_000),
    requestTimeout: 15_000,
    keepAliveTimeout: 10_000,
    handlerTimeout,
    bodyLimit: BODY_LIMIT_BYTES,
    // While closing, the onRequest hook below answers with the gate's own 503 (code,
    // Retry-After) rather than Fastify's bare one.
    return503OnClosing: false,
    // Unknown fields are refused (a typo such as `stagee` is named), not silently dropped. The
    // gate's routes validate with their own compiler (http/validation.ts: nothing coerced but
    // decimal numbers in a query string); this is for anything registered beside them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>()
  // SIGTERM: requests already in flight finish (and record their evidence); a request that
  // arrives on a kept-alive connection meanwhile is refused, and Fastify closes that connection.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // Callback-style, as the other every-request hooks: no promise per request.
  app.addHook('onRequest', (_request, _reply, done) => {
    done(closing ? new GateError('GATE_ERR_UNAVAILABLE', 'the gate is shutting down; retry') : undefined)
  })

  let gate
  try {
    gate = await buildGate(config, { version: VERSION, log: app.log, ...(opts.now === undefined ? {} : { now: opts.now }) })
  } catch (err) {
    await app.close()
    throw err
  }
  const { service, policy, metrics, evidence, permissions, retention, tenant, cordum } = gate
  if (gate.demo !== undefined) {
    app.log.warn(gate.demo, 'demo mode: CORDUM_URL is not set, so the gate scores against its built-in Cordum sandbox (seeded scenarios, not real data)')
  }
  if (evidence !== undefined && config.evidenceKey === undefined) {
    app.log.warn('EVIDENCE_HMAC_KEY is not set: the decision chain is plain sha256, so it detects careless edits but not someone with write access to the database who rehashes what follows an edit; the chain heads the gate logs and exports remain the anchor (docs/evidence.md)')
  }
  gate.startAnchoring()
  app.addHook('onClose', gate.close)
  await app.register(gateApp, {
    service,
    defaultTenant: tenant,
    apiKeys: config.apiKeys,
    verifyKeys: config.verifyKeys,
    metricsKeys: config.metricsKeys,
    version: VERSION,
    underPressure: opts.underPressure ?? { maxEventLoopDelay: config.overload.maxEventLoopDelayMs, maxEventLoopUtilization: config.overload.maxEventLoopUtilization },
    maxScoresInFlight: config.overload.maxScoresInFlight,
    metrics,
    ...(evidence === undefined ? {} : { evidence }),
    ...(gate.anchors === undefined ? {} : { anchors: gate.anchors }),
    ...(permissions === undefined ? {} : { permissions }),
    ...(config.publicUrl === undefined ? {} : { publicUrl: config.publicUrl }),
  })
  app.log.info({
    gates: policy.file,
    sha256: policy.hash.slice(0, 12),
    cordum: gate.sandbox !== undefined ? 'sandbox' : cordum?.url ?? 'not used by the gates policy',
    prometheus: config.prometheus?.url,
    loki: config.loki?.url,
    tenant,
    auth: config.apiKeys.length > 0 ? `${config.apiKeys.length} key(s)` : 'off',
    verify: config.verifyKeys.length > 0 ? `${config.verifyKeys.length} key(s) of VERIFY_API_KEYS` : config.apiKeys.length > 0 ? 'any gate key' : 'open',
    metrics: config.metricsKeys.length > 0 ? 'METRICS_API_KEY' : 'open',
    evidence: evidence === undefined ? 'off' : `${evidence.kind} ${evidence.location}, retention ${config.retentionDays} days`,
    maxScoresInFlight: config.overload.maxScoresInFlight,
    publicUrl: config.publicUrl ?? 'unset: report links name the address each request used',
  }, 'gate configured')
  if (retention !== undefined) await retention.run()
  const result: GateServer = { app, service, policy, metrics }
  if (gate.sandbox !== undefined) result.sandbox = gate.sandbox
  if (evidence !== undefined) result.evidence = evidence
  if (permissions !== undefined) result.permissions = permissions
  return result
}

/** Builds, listens, and closes gracefully on SIGTERM/SIGINT. Resolves when the server has closed. */
export async function runServer (config: ServiceConfig): Promise<void> {
  const { app, permissions } = await buildServer(config)
  // Before listening, so its warnings come before the address, and its reads before any score's.
  await permissions?.run()
  const closed = new Promise<void>((resolve) => app.addHook('onClose', async () => resolve()))
  const grace = closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    const started = performance.now()
    await app.close()
    app.log.info({ ms: Math.round(performance.now() - started) }, 'closed: requests in flight answered, evidence store closed')
  })
  app.addHook('onClose', async () => grace.uninstall())
  await app.listen({ port: config.port, host: config.host })
  await closed
}
