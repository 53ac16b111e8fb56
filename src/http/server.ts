/**
 * Builds and runs the gate's HTTP server: the Fastify instance (logger with secrets redacted,
 * timeouts inside Argo's 10 s, AJV options), the sources, the score service and the app
 * plugin; close-with-grace for SIGTERM. With no CORDUM_URL it starts the built-in sandbox
 * in-process (demo mode) and says so on its first log line, unless the gates policy reads
 * nothing from Cordum and Prometheus or Loki is configured (then no Cordum source is needed).
 */
import { readFileSync } from 'node:fs'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { DestinationStream } from 'pino'
import { CordumActions } from '../actions/cordum.js'
import { defaultPolicy, loadGatesFile, type LoadedPolicy } from '../config/load.js'
import type { ServiceConfig } from '../config/env.js'
import { GateError } from '../errors.js'
import { PostgresStore } from '../evidence/postgres.js'
import { cachedVersion, EvidenceRecorder } from '../evidence/recorder.js'
import { startRetention } from '../evidence/retention.js'
import { SqliteStore } from '../evidence/sqlite.js'
import type { EvidenceStore } from '../evidence/store.js'
import type { SourceVersions } from '../evidence/record.js'
import { GateMetrics } from '../metrics/gate-metrics.js'
import { SANDBOX_ADMIN_KEY, startSandbox, type Sandbox } from '../sandbox/gateway.js'
import { signalsNeeded } from '../gate/verdict.js'
import { BASELINE_AGENT, SANDBOX_TENANT, SCENARIOS } from '../sandbox/scenarios.js'
import { CordumSource } from '../sources/cordum/source.js'
import { LokiSource } from '../sources/loki/source.js'
import { PrometheusSource } from '../sources/prometheus/source.js'
import { SourceRegistry } from '../sources/registry.js'
import { PermissionCheck } from '../service/permissions.js'
import { ScoreService } from '../service/score.js'
import { gateApp } from './app.js'
import { BODY_LIMIT_BYTES } from './errors.js'
import type { PressureOptions } from './plugins/under-pressure.js'
import { DEFAULT_DEADLINE_MS } from '../config/settings.js'

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

/** Opens the configured evidence store; refuses to start (GATE_ERR_CONFIG_INVALID) when it cannot. */
export async function openEvidence (config: ServiceConfig, now?: () => number): Promise<EvidenceStore | undefined> {
  const clock = now === undefined ? {} : { now }
  switch (config.evidence.kind) {
    case 'sqlite': return new SqliteStore(config.evidence.dataDir, clock)
    case 'postgres': return await PostgresStore.open(config.evidence.url, clock)
    case 'none': return undefined
  }
}

export async function buildServer (config: ServiceConfig, opts: BuildOptions = {}): Promise<GateServer> {
  const policy = config.gatesFile === undefined ? defaultPolicy() : await loadGatesFile(config.gatesFile)
  // A policy that reads nothing from Cordum (Prometheus and Loki only) needs neither Cordum
  // nor the demo sandbox.
  const cordumless = config.cordum === undefined && (config.prometheus !== undefined || config.loki !== undefined) && !readsCordum(policy)
  // Demo mode: the sandbox starts before the logger writes anything, so the demo-mode line is first.
  const sandbox = config.cordum === undefined && !cordumless ? await startSandbox(opts.now === undefined ? {} : { now: opts.now }) : undefined
  const cordum = config.cordum ?? (sandbox === undefined ? undefined : { url: sandbox.url, apiKey: SANDBOX_ADMIN_KEY, deadlineMs: DEFAULT_DEADLINE_MS })
  const tenant = sandbox === undefined ? config.tenant : SANDBOX_TENANT

  // Backstop: Cordum reads are bounded by CORDUM_DEADLINE_MS; a handler still running past
  // this gets a 503 rather than outliving Argo's 10 s timeout silently.
  const handlerTimeout = Math.max(9_500, Math.max(cordum?.deadlineMs ?? 0, config.prometheus?.deadlineMs ?? 0, config.loki?.deadlineMs ?? 0) + 1_500)
  const options: FastifyServerOptions = {
    logger: {
      level: config.logLevel,
      redact: { paths: REDACT, censor: '[redacted]' },
      ...(opts.logStream === undefined ? {} : { stream: opts.logStream }),
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

  if (sandbox !== undefined) {
    app.log.warn({ sandbox: sandbox.url, tenant, baseline: BASELINE_AGENT, scenarios: SCENARIOS.map((s) => s.agentId) },
      'demo mode: CORDUM_URL is not set, so the gate scores against its built-in Cordum sandbox (seeded scenarios, not real data)')
  }

  const metrics = new GateMetrics({
    version: VERSION,
    stages: Object.values(policy.policy.stages).map((s) => ({ name: s.name, triggers: s.triggers.map((t) => t.name), specs: s.triggers })),
    rolloutTtlSeconds: config.metrics.rolloutTtlSeconds,
    maxRolloutStages: config.metrics.maxRolloutStages,
    ...(opts.now === undefined ? {} : { now: opts.now }),
  })
  const sources = new SourceRegistry()
  let cordumSource: CordumSource | undefined
  if (cordum !== undefined) {
    const reads = config.cordumReads
    const sourceOpts: ConstructorParameters<typeof CordumSource>[0] = {
      url: cordum.url,
      deadlineMs: cordum.deadlineMs,
      tenant,
      telemetry: metrics,
      maxConcurrency: reads.maxConcurrency,
      slices: { marginMs: reads.sliceMarginSeconds * 1000 },
      sliceCacheEntries: reads.sliceCacheEntries,
      sliceCacheBytes: reads.sliceCacheMb * 1024 * 1024,
      maxPages: reads.maxPages,
      ...(opts.now === undefined ? {} : { now: opts.now }),
    }
    if (cordum.apiKey !== undefined) sourceOpts.apiKey = cordum.apiKey
    cordumSource = new CordumSource(sourceOpts)
    sources.register(cordumSource)
  }
  if (config.prometheus !== undefined) sources.register(new PrometheusSource({ ...config.prometheus, telemetry: metrics }))
  if (config.loki !== undefined) sources.register(new LokiSource({ ...config.loki, telemetry: metrics }))
  let evidence: EvidenceStore | undefined
  try {
    evidence = await openEvidence(config, opts.now)
  } catch (err) {
    await sources.close()
    await sandbox?.close()
    throw err
  }
  const client = cordumSource?.client
  const cordumVersion = client === undefined
    ? undefined
    : cachedVersion(async () => {
      const status = await client.getJson('/api/v1/status', {}, tenant, { signal: AbortSignal.timeout(2_000), deadline: Date.now() + 2_000 }) as { build?: { version?: unknown, commit?: unknown } }
      const version = typeof status.build?.version === 'string' && status.build.version !== '' ? status.build.version : 'unknown'
      return typeof status.build?.commit === 'string' && status.build.commit !== '' ? { version, commit: status.build.commit } : { version }
    })
  const recorder = evidence === undefined
    ? undefined
    : new EvidenceRecorder({
      store: evidence,
      policy,
      gateVersion: VERSION,
      sourceVersions: async (): Promise<SourceVersions> => (cordumVersion === undefined ? {} : { cordum: await cordumVersion() }),
    })
  // Actions (approvals, rollback runs, policy simulation) are Cordum calls: readsCordum() makes
  // sure a policy that asks for them has a Cordum client (configured, or the demo sandbox).
  const actions = client === undefined
    ? undefined
    : new CordumActions({
      client,
      ...(policy.policy.policySimulation === undefined ? {} : { simulation: policy.policy.policySimulation }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    })
  const service = new ScoreService({
    policy,
    sources,
    defaultTenant: tenant,
    telemetry: metrics,
    answerTtlMs: config.scoreReuseSeconds * 1000,
    ...(actions === undefined ? {} : { actions }),
    ...(recorder === undefined ? {} : { recorder }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  })
  const retention = evidence === undefined ? undefined : startRetention(evidence, config.retentionDays, app.log, opts.now)
  const source = cordumSource
  const permissions = source === undefined ? undefined : new PermissionCheck({ policy: policy.policy, log: app.log, probe: async (signals, abort) => await source.refusedReads(signals, abort) })
  app.addHook('onClose', async () => {
    permissions?.stop()
    retention?.stop()
    await sources.close()
    await sandbox?.close()
    await evidence?.close()
  })
  await app.register(gateApp, {
    service,
    defaultTenant: tenant,
    apiKeys: config.apiKeys,
    version: VERSION,
    underPressure: opts.underPressure ?? { maxEventLoopDelay: config.overload.maxEventLoopDelayMs, maxEventLoopUtilization: config.overload.maxEventLoopUtilization },
    maxScoresInFlight: config.overload.maxScoresInFlight,
    metrics,
    ...(evidence === undefined ? {} : { evidence }),
    ...(permissions === undefined ? {} : { permissions }),
    ...(config.publicUrl === undefined ? {} : { publicUrl: config.publicUrl }),
  })
  app.log.info({
    gates: policy.file,
    sha256: policy.hash.slice(0, 12),
    cordum: sandbox !== undefined ? 'sandbox' : cordum?.url ?? 'not used by the gates policy',
    prometheus: config.prometheus?.url,
    loki: config.loki?.url,
    tenant,
    auth: config.apiKeys.length > 0 ? `${config.apiKeys.length} key(s)` : 'off',
    evidence: evidence === undefined ? 'off' : `${evidence.kind} ${evidence.location}, retention ${config.retentionDays} days`,
    maxScoresInFlight: config.overload.maxScoresInFlight,
    publicUrl: config.publicUrl ?? 'unset: report links name the address each request used',
  }, 'gate configured')
  if (retention !== undefined) await retention.run()
  const result: GateServer = { app, service, policy, metrics }
  if (sandbox !== undefined) result.sandbox = sandbox
  if (evidence !== undefined) result.evidence = evidence
  if (permissions !== undefined) result.permissions = permissions
  return result
}

/** True when some stage reads a signal from Cordum or asks for a Cordum action (approval, on_fail). */
function readsCordum ({ policy }: LoadedPolicy): boolean {
  return Object.values(policy.stages).some((stage) => stage.approval !== undefined || stage.onFail !== undefined ||
    signalsNeeded(stage).some((name) => policy.signals[name]?.source === 'cordum'))
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
