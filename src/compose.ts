/**
 * The composition root (docs/architecture.md): builds the gate's parts from its configuration
 * and wires them together: the gates policy, the demo sandbox when there is no CORDUM_URL, the
 * sources, the metrics, the evidence store and its recorder, the Cordum actions, the score
 * service, retention and the Cordum permission check. Nothing here speaks HTTP:
 * src/http/server.ts puts a Fastify server in front of what this returns, and `close()` is the
 * one way to release it all.
 *
 * Demo mode: with no CORDUM_URL the built-in sandbox starts in-process, unless the gates policy
 * reads nothing from Cordum and Prometheus or Loki is configured (then no Cordum source is needed).
 */
import type { FastifyBaseLogger } from 'fastify'
import { CordumActions } from './actions/cordum.js'
import type { ServiceConfig } from './config/env.js'
import { defaultPolicy, loadGatesFile, type LoadedPolicy } from './config/load.js'
import { DEFAULT_DEADLINE_MS } from './config/settings.js'
import { ChainAnchors } from './evidence/anchors.js'
import { PostgresStore } from './evidence/postgres.js'
import type { SourceVersions } from './evidence/record.js'
import { cachedVersion, EvidenceRecorder } from './evidence/recorder.js'
import { startRetention } from './evidence/retention.js'
import { SqliteStore } from './evidence/sqlite.js'
import type { EvidenceStore } from './evidence/store.js'
import { signalsNeeded } from './gate/verdict.js'
import { GateMetrics } from './metrics/gate-metrics.js'
import { SANDBOX_ADMIN_KEY, startSandbox, type Sandbox } from './sandbox/gateway.js'
import { BASELINE_AGENT, SANDBOX_TENANT, SCENARIOS } from './sandbox/scenarios.js'
import { PermissionCheck } from './service/permissions.js'
import { ScoreService } from './service/score.js'
import { MemoryLedgerStore } from './sources/cordum/ledger.js'
import { CordumSource } from './sources/cordum/source.js'
import { LokiSource } from './sources/loki/source.js'
import { PrometheusSource } from './sources/prometheus/source.js'
import { SourceRegistry } from './sources/registry.js'

export interface GateOptions {
  /** The gate's version, as the metrics and decision records name it. */
  version: string
  /** Where the parts that log (retention, the permission check) write. */
  log: FastifyBaseLogger
  /** Clock for the service, the metrics, the stores and the demo sandbox (tests). */
  now?: () => number
}

export interface Gate {
  policy: LoadedPolicy
  service: ScoreService
  sources: SourceRegistry
  metrics: GateMetrics
  /** The tenant asked when a request names none (the sandbox's in demo mode). */
  tenant: string
  /** The Cordum gateway read, if any: the configured one, or the demo sandbox's. */
  cordum?: { url: string, apiKey?: string, deadlineMs: number }
  /** The in-process sandbox in demo mode, with what the demo-mode log line says about it. */
  sandbox?: Sandbox
  demo?: { sandbox: string, tenant: string, baseline: string, scenarios: string[] }
  /** Where decision records go (absent with EVIDENCE_URL=none). */
  evidence?: EvidenceStore
  /** The chain heads this gate has seen, kept outside the database: verify checks against them. */
  anchors?: ChainAnchors
  /** What the Cordum key may read (absent without Cordum); run it before listening. */
  permissions?: PermissionCheck
  /** Prunes old decision records now and then (absent without an evidence store); run it once at start. */
  retention?: { run: () => Promise<unknown>, stop: () => void }
  /**
   * Starts logging and exporting the chain heads every EVIDENCE_ANCHOR_SECONDS (the first at
   * once): called by `serve` after its demo-mode line, which must stay the first line.
   */
  startAnchoring: () => void
  /** Stops the timers and closes the sources, the sandbox and the evidence store. */
  close: () => Promise<void>
}

/** The longest of the configured upstream deadlines: what one score request may wait on its sources. */
export function longestDeadlineMs (config: ServiceConfig): number {
  // Without CORDUM_URL the demo sandbox, if it starts, is read within the default deadline.
  return Math.max(config.cordum?.deadlineMs ?? DEFAULT_DEADLINE_MS, config.prometheus?.deadlineMs ?? 0, config.loki?.deadlineMs ?? 0)
}

/** Opens the configured evidence store; refuses to start (GATE_ERR_CONFIG_INVALID) when it cannot. */
export async function openEvidence (config: ServiceConfig, now?: () => number): Promise<EvidenceStore | undefined> {
  const clock = { ...(now === undefined ? {} : { now }), ...(config.evidenceKey === undefined ? {} : { key: config.evidenceKey }) }
  switch (config.evidence.kind) {
    case 'sqlite': return new SqliteStore(config.evidence.dataDir, clock)
    case 'postgres': return await PostgresStore.open(config.evidence.url, clock)
    case 'none': return undefined
  }
}

export async function buildGate (config: ServiceConfig, opts: GateOptions): Promise<Gate> {
  const clock = opts.now === undefined ? {} : { now: opts.now }
  const policy = config.gatesFile === undefined ? defaultPolicy() : await loadGatesFile(config.gatesFile)
  // A policy that reads nothing from Cordum (Prometheus and Loki only) needs neither Cordum
  // nor the demo sandbox.
  const cordumless = config.cordum === undefined && (config.prometheus !== undefined || config.loki !== undefined) && !readsCordum(policy)
  const sandbox = config.cordum === undefined && !cordumless ? await startSandbox(clock) : undefined
  const cordum = config.cordum ?? (sandbox === undefined ? undefined : { url: sandbox.url, apiKey: SANDBOX_ADMIN_KEY, deadlineMs: DEFAULT_DEADLINE_MS })
  const tenant = sandbox === undefined ? config.tenant : SANDBOX_TENANT

  const metrics = new GateMetrics({
    version: opts.version,
    stages: Object.values(policy.policy.stages).map((s) => ({ name: s.name, triggers: s.triggers.map((t) => t.name), specs: s.triggers })),
    rolloutTtlSeconds: config.metrics.rolloutTtlSeconds,
    maxRolloutStages: config.metrics.maxRolloutStages,
    ...clock,
  })
  let evidence: EvidenceStore | undefined
  try {
    evidence = await openEvidence(config, opts.now)
  } catch (err) {
    await sandbox?.close()
    throw err
  }
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
      ...clock,
    }
    if (cordum.apiKey !== undefined) sourceOpts.apiKey = cordum.apiKey
    if (reads.warmSeconds > 0) sourceOpts.warmMs = reads.warmSeconds * 1000
    // 2 s is the ledger's shortest interval: a longer bound below it means 2 s.
    if (reads.ledgerMaxIntervalSeconds > 0) {
      sourceOpts.ledger = {
        // The evidence store, so replicas and restarts share the ledger; without one, memory.
        store: evidence ?? new MemoryLedgerStore(),
        maxIntervalMs: Math.max(2, reads.ledgerMaxIntervalSeconds) * 1000,
        retentionMs: reads.ledgerRetentionHours * 3_600_000,
        maxPages: reads.maxPages,
        deadlineMs: cordum.deadlineMs,
        ...(reads.warmSeconds > 0 ? { warmMs: reads.warmSeconds * 1000 } : {}),
        onPoll: (_tenant, requests) => metrics.ledgerPolled(requests),
        ...clock,
      }
    }
    cordumSource = new CordumSource(sourceOpts)
    sources.register(cordumSource)
  }
  if (config.prometheus !== undefined) sources.register(new PrometheusSource({ ...config.prometheus, telemetry: metrics }))
  if (config.loki !== undefined) sources.register(new LokiSource({ ...config.loki, telemetry: metrics }))
  const client = cordumSource?.client
  const cordumVersion = client === undefined
    ? undefined
    : cachedVersion(async () => {
      const status = await client.getJson('/api/v1/status', {}, tenant, { signal: AbortSignal.timeout(2_000), deadline: Date.now() + 2_000 }) as { build?: { version?: unknown, commit?: unknown } }
      const version = typeof status.build?.version === 'string' && status.build.version !== '' ? status.build.version : 'unknown'
      return typeof status.build?.commit === 'string' && status.build.commit !== '' ? { version, commit: status.build.commit } : { version }
    })
  // Chain heads kept outside the database: logged and exported now and then (docs/evidence.md).
  const anchors = evidence === undefined ? undefined : new ChainAnchors(evidence, opts.log, metrics)
  const recorder = evidence === undefined
    ? undefined
    : new EvidenceRecorder({
      store: evidence,
      policy,
      gateVersion: opts.version,
      ...(anchors === undefined ? {} : { anchors }),
      sourceVersions: async (): Promise<SourceVersions> => (cordumVersion === undefined ? {} : { cordum: await cordumVersion() }),
    })
  // Actions (approvals, rollback runs, policy simulation) are Cordum calls: readsCordum() makes
  // sure a policy that asks for them has a Cordum client (configured, or the demo sandbox).
  const actions = client === undefined
    ? undefined
    : new CordumActions({
      client,
      ...(policy.policy.policySimulation === undefined ? {} : { simulation: policy.policy.policySimulation }),
      ...clock,
    })
  const service = new ScoreService({
    policy,
    sources,
    defaultTenant: tenant,
    telemetry: metrics,
    answerTtlMs: config.scoreReuseSeconds * 1000,
    ...(actions === undefined ? {} : { actions }),
    ...(recorder === undefined ? {} : { recorder }),
    ...clock,
  })
  const retention = evidence === undefined ? undefined : startRetention(evidence, config.retentionDays, opts.log, opts.now)
  let anchoring: { stop: () => void } | undefined
  const source = cordumSource
  const permissions = source === undefined ? undefined : new PermissionCheck({ policy: policy.policy, log: opts.log, probe: async (signals, abort) => await source.refusedReads(signals, abort) })

  const gate: Gate = {
    policy,
    service,
    sources,
    metrics,
    tenant,
    startAnchoring: () => { anchoring ??= anchors?.start(config.anchorSeconds) },
    close: async () => {
      permissions?.stop()
      retention?.stop()
      anchoring?.stop()
      await sources.close()
      await sandbox?.close()
      await evidence?.close()
    },
  }
  if (cordum !== undefined) gate.cordum = cordum
  if (sandbox !== undefined) {
    gate.sandbox = sandbox
    gate.demo = { sandbox: sandbox.url, tenant, baseline: BASELINE_AGENT, scenarios: SCENARIOS.map((s) => s.agentId) }
  }
  if (evidence !== undefined) gate.evidence = evidence
  if (anchors !== undefined) gate.anchors = anchors
  if (permissions !== undefined) gate.permissions = permissions
  if (retention !== undefined) gate.retention = retention
  return gate
}

/** True when some stage reads a signal from Cordum or asks for a Cordum action (approval, on_fail). */
function readsCordum ({ policy }: LoadedPolicy): boolean {
  return Object.values(policy.stages).some((stage) => stage.approval !== undefined || stage.onFail !== undefined ||
    signalsNeeded(stage).some((name) => policy.signals[name]?.source === 'cordum'))
}
