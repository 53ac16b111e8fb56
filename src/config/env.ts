/**
 * The service's environment (docs/configuration.md): read once at start, every value
 * checked, every refusal naming the variable. Secrets (CORDUM_API_KEY, GATE_API_KEYS,
 * PROMETHEUS_BEARER_TOKEN, LOKI_BEARER_TOKEN) are kept out of error messages.
 */
import { readFileSync } from 'node:fs'
import { GateError } from '../errors.js'
import { parseApiKeys, type ApiKey } from './api-keys.js'
import { setting } from './settings.js'

export { DEFAULT_MAX_SCORES_IN_FLIGHT } from './settings.js'

export interface ServiceConfig {
  port: number
  host: string
  logLevel: string
  /** Gates policy file; absent: the built-in defaults. */
  gatesFile?: string
  /** Absent: demo mode against the in-process sandbox. */
  cordum?: { url: string, apiKey?: string, deadlineMs: number }
  tenant: string
  /** How the gate reads Cordum (the configured gateway or the demo sandbox): docs/cordum.md "Reads at scale". */
  cordumReads: CordumReads
  apiKeys: ApiKey[]
  /**
   * Keys that may call GET /api/v1/decisions/verify (VERIFY_API_KEYS, GATE_API_KEYS' form); when
   * set, only they may, and a gate key that is not one of them gets 403. Empty: any gate key.
   */
  verifyKeys: ApiKey[]
  /** The key GET /metrics asks for (METRICS_API_KEY); empty: /metrics is open. */
  metricsKeys: ApiKey[]
  /** Absent: signals with `source: prometheus` are unavailable. */
  prometheus?: QueryUpstream
  /** Absent: signals with `source: loki` are unavailable. */
  loki?: QueryUpstream & { tenant?: string }
  /** Bounds on per-rollout metric series (docs/observability.md). */
  metrics: { rolloutTtlSeconds: number, maxRolloutStages: number }
  /** Where decision records go: SQLite under DATA_DIR (default ./data), PostgreSQL (EVIDENCE_URL), or nowhere (EVIDENCE_URL=none). */
  evidence: { kind: 'sqlite', dataDir: string } | { kind: 'postgres', url: string } | { kind: 'none' }
  /** Decision records older than this many days are pruned (EVIDENCE_RETENTION_DAYS). */
  retentionDays: number
  /**
   * EVIDENCE_HMAC_KEY or EVIDENCE_HMAC_KEY_FILE: new records are sealed with an HMAC under it,
   * so someone who can write the database but lacks the key cannot rehash an edit. Absent: plain
   * sha256, which detects careless edits only (docs/evidence.md).
   */
  evidenceKey?: Buffer
  /** Every this many seconds each chain head is logged and exported (EVIDENCE_ANCHOR_SECONDS). */
  anchorSeconds: number
  /** Load shedding (docs/reliability.md "Overload and lifecycle"). */
  overload: OverloadConfig
  /**
   * Seconds an identical question (same normalized request) is answered with the answer and
   * decision record of one evaluation (SCORE_REUSE_SECONDS; 0: every request is evaluated).
   */
  scoreReuseSeconds: number
  /**
   * The address people reach the gate at (PUBLIC_URL, e.g. https://canary-gate.example.com), for
   * the decision pages' links in answers; absent: the address each request was sent to.
   */
  publicUrl?: string
}

/** When the gate answers 503 + Retry-After instead of taking on more work. */
export interface OverloadConfig {
  /** Score evaluations under way at once; more are shed (MAX_SCORES_IN_FLIGHT, 0: no cap). */
  maxScoresInFlight: number
  /** Mean event-loop delay over the last sample, in ms, past which requests are shed (SHED_EVENT_LOOP_DELAY_MS, 0: off). */
  maxEventLoopDelayMs: number
  /**
   * Event-loop utilization (0..1) past which requests are shed (SHED_EVENT_LOOP_UTILIZATION,
   * default 0: off). A gate answering as fast as it can is near 1 while every answer still
   * takes milliseconds; the in-flight cap and the event-loop delay are what say it is behind.
   */
  maxEventLoopUtilization: number
}

export interface CordumReads {
  /** Requests open against the gateway at once, over all score requests (CORDUM_MAX_CONCURRENCY). */
  maxConcurrency: number
  /** A time slice that ended this long ago is closed and its counts are cached (CORDUM_SLICE_MARGIN_SECONDS). */
  sliceMarginSeconds: number
  /** Closed slices kept at most (CORDUM_SLICE_CACHE_ENTRIES; 0: no cache). */
  sliceCacheEntries: number
  /** Memory the closed slices may take, estimated (CORDUM_SLICE_CACHE_MB). */
  sliceCacheMb: number
  /** Pages one walk of the jobs list or the DLQ may take; more are refused as a misbehaving upstream (CORDUM_MAX_PAGES). */
  maxPages: number
  /** The job ledger reads Cordum's jobs list at least this often, whatever the job rate (CORDUM_LEDGER_MAX_INTERVAL_SECONDS; 0: no ledger). */
  ledgerMaxIntervalSeconds: number
  /** Jobs the ledger keeps, by age (CORDUM_LEDGER_RETENTION_HOURS). */
  ledgerRetentionHours: number
  /** A cold window's closed slices keep being read this long after the request that asked stopped waiting (CORDUM_WARM_SECONDS; 0: off). */
  warmSeconds: number
}

/** A Prometheus or Loki the gate queries. */
export interface QueryUpstream { url: string, bearerToken?: string, deadlineMs: number }

function refuse (name: string, message: string): GateError {
  return new GateError('GATE_ERR_CONFIG_INVALID', `${name}: ${message}`)
}

/** A text setting, trimmed; unset or blank, its default (undefined when it has none). */
function text (env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? setting(name, 'text').default : value
}

/** A decimal fraction from 0 to 1; unset, the setting's default (src/config/settings.ts). */
function fraction (env: Record<string, string | undefined>, name: string): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return setting(name, 'fraction').default
  const v = Number(raw.trim())
  if (!Number.isFinite(v) || v < 0 || v > 1) throw refuse(name, `must be a number from 0 to 1 such as 0.98, got '${raw.slice(0, 32)}'`)
  return v
}

/** A whole number in the setting's range; unset, its default (src/config/settings.ts). */
function integer (env: Record<string, string | undefined>, name: string): number {
  const { default: fallback, min, max } = setting(name, 'integer')
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const v = Number(raw)
  if (!Number.isInteger(v) || v < min || v > max) throw refuse(name, `must be a whole number from ${min} to ${max}, got '${raw.slice(0, 32)}'`)
  return v
}

export function readConfig (env: Record<string, string | undefined>): ServiceConfig {
  const levels = setting('LOG_LEVEL', 'text').values ?? []
  const logLevel = (text(env, 'LOG_LEVEL') as string).toLowerCase()
  if (!levels.includes(logLevel)) throw refuse('LOG_LEVEL', `must be one of ${levels.join(', ')}, got '${logLevel.slice(0, 32)}'`)
  const config: ServiceConfig = {
    port: integer(env, 'PORT'),
    host: text(env, 'HOST') as string,
    logLevel,
    tenant: text(env, 'CORDUM_TENANT') as string,
    cordumReads: {
      maxConcurrency: integer(env, 'CORDUM_MAX_CONCURRENCY'),
      sliceMarginSeconds: integer(env, 'CORDUM_SLICE_MARGIN_SECONDS'),
      sliceCacheEntries: integer(env, 'CORDUM_SLICE_CACHE_ENTRIES'),
      sliceCacheMb: integer(env, 'CORDUM_SLICE_CACHE_MB'),
      maxPages: integer(env, 'CORDUM_MAX_PAGES'),
      ledgerMaxIntervalSeconds: integer(env, 'CORDUM_LEDGER_MAX_INTERVAL_SECONDS'),
      ledgerRetentionHours: integer(env, 'CORDUM_LEDGER_RETENTION_HOURS'),
      warmSeconds: integer(env, 'CORDUM_WARM_SECONDS'),
    },
    apiKeys: parseApiKeys(env.GATE_API_KEYS),
    verifyKeys: parseApiKeys(env.VERIFY_API_KEYS, 'VERIFY_API_KEYS'),
    metricsKeys: parseApiKeys(env.METRICS_API_KEY, 'METRICS_API_KEY'),
    metrics: {
      rolloutTtlSeconds: integer(env, 'METRICS_ROLLOUT_TTL_SECONDS'),
      maxRolloutStages: integer(env, 'METRICS_MAX_ROLLOUT_STAGES'),
    },
    evidence: evidenceOf(env),
    retentionDays: integer(env, 'EVIDENCE_RETENTION_DAYS'),
    anchorSeconds: integer(env, 'EVIDENCE_ANCHOR_SECONDS'),
    overload: {
      maxScoresInFlight: integer(env, 'MAX_SCORES_IN_FLIGHT'),
      maxEventLoopDelayMs: integer(env, 'SHED_EVENT_LOOP_DELAY_MS'),
      maxEventLoopUtilization: fraction(env, 'SHED_EVENT_LOOP_UTILIZATION'),
    },
    scoreReuseSeconds: integer(env, 'SCORE_REUSE_SECONDS'),
  }
  if (config.metricsKeys.length > 1 || config.metricsKeys[0]?.tenants !== undefined) throw refuse('METRICS_API_KEY', 'must be one key (16-512 characters of letters, digits and . _ ~ + / = -), without tenants')
  const evidenceKey = evidenceKeyOf(env)
  if (evidenceKey !== undefined) config.evidenceKey = evidenceKey
  const publicUrl = publicUrlOf(env.PUBLIC_URL)
  if (publicUrl !== undefined) config.publicUrl = publicUrl
  const gates = env.GATES_FILE?.trim()
  if (gates !== undefined && gates !== '') config.gatesFile = gates
  const url = env.CORDUM_URL?.trim()
  if (url !== undefined && url !== '') {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw refuse('CORDUM_URL', `must be an http(s) URL such as https://cordum.example:8081, got '${url.slice(0, 80)}'`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw refuse('CORDUM_URL', `must use http or https, got ${parsed.protocol}`)
    if (parsed.username !== '' || parsed.password !== '') throw refuse('CORDUM_URL', 'must not carry credentials: put the key in CORDUM_API_KEY')
    config.cordum = { url: parsed.toString().replace(/\/+$/, ''), deadlineMs: integer(env, 'CORDUM_DEADLINE_MS') }
    const key = env.CORDUM_API_KEY?.trim()
    if (key !== undefined && key !== '') config.cordum.apiKey = key
  }
  const prometheus = queryUpstream(env, 'PROMETHEUS', 'http://prometheus.monitoring:9090')
  if (prometheus !== undefined) config.prometheus = prometheus
  const loki = queryUpstream(env, 'LOKI', 'http://loki.monitoring:3100')
  if (loki !== undefined) {
    config.loki = loki
    const tenant = env.LOKI_TENANT?.trim()
    if (tenant !== undefined && tenant !== '') config.loki.tenant = tenant
  }
  return config
}

/** `<P>_URL`, `<P>_BEARER_TOKEN` or `<P>_BEARER_TOKEN_FILE`, `<P>_DEADLINE_MS`; undefined without a URL. */
function queryUpstream (env: Record<string, string | undefined>, prefix: string, example: string): QueryUpstream | undefined {
  const name = `${prefix}_URL`
  const url = env[name]?.trim()
  if (url === undefined || url === '') {
    for (const other of ['BEARER_TOKEN', 'BEARER_TOKEN_FILE']) {
      if (env[`${prefix}_${other}`]?.trim()) throw refuse(`${prefix}_${other}`, `is set but ${name} is not`)
    }
    return undefined
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw refuse(name, `must be an http(s) URL such as ${example}, got '${url.slice(0, 80)}'`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw refuse(name, `must use http or https, got ${parsed.protocol}`)
  if (parsed.username !== '' || parsed.password !== '') throw refuse(name, `must not carry credentials: put a token in ${prefix}_BEARER_TOKEN or ${prefix}_BEARER_TOKEN_FILE`)
  if (parsed.search !== '' || parsed.hash !== '') throw refuse(name, 'must not have a query string or fragment')
  const upstream: QueryUpstream = { url: parsed.toString().replace(/\/+$/, ''), deadlineMs: integer(env, `${prefix}_DEADLINE_MS`) }
  const token = env[`${prefix}_BEARER_TOKEN`]?.trim()
  const file = env[`${prefix}_BEARER_TOKEN_FILE`]?.trim()
  if (token && file) throw refuse(`${prefix}_BEARER_TOKEN_FILE`, `set either ${prefix}_BEARER_TOKEN or ${prefix}_BEARER_TOKEN_FILE, not both`)
  if (token) upstream.bearerToken = token
  if (file) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw refuse(`${prefix}_BEARER_TOKEN_FILE`, `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? 'unreadable'}`)
    }
    // Kubernetes secret files often end with a newline; the token is the file's only line.
    const read = text.trim()
    if (read === '' || /\s/.test(read)) throw refuse(`${prefix}_BEARER_TOKEN_FILE`, `${file} must hold one token on one line`)
    upstream.bearerToken = read
  }
  return upstream
}

/** PUBLIC_URL: an http(s) base URL, possibly with a path prefix, without credentials, query or trailing slash. */
function publicUrlOf (raw: string | undefined): string | undefined {
  const url = raw?.trim()
  if (url === undefined || url === '') return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw refuse('PUBLIC_URL', `must be the http(s) address people open the gate at, such as https://canary-gate.example.com, got '${url.slice(0, 80)}'`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw refuse('PUBLIC_URL', `must use http or https, got ${parsed.protocol}`)
  if (parsed.username !== '' || parsed.password !== '') throw refuse('PUBLIC_URL', 'must not carry credentials')
  if (parsed.search !== '' || parsed.hash !== '') throw refuse('PUBLIC_URL', 'must not have a query string or fragment')
  return parsed.toString().replace(/\/+$/, '')
}

function evidenceOf (env: Record<string, string | undefined>): ServiceConfig['evidence'] {
  const url = env.EVIDENCE_URL?.trim()
  if (url === 'none') return { kind: 'none' }
  if (url !== undefined && url !== '') {
    if (!/^postgres(ql)?:\/\//.test(url)) throw refuse('EVIDENCE_URL', `must be a PostgreSQL URL such as postgres://gate@db:5432/evidence, or none; got a ${url.split(':')[0]?.slice(0, 16) ?? ''} URL`)
    if (!URL.canParse(url)) {
      throw refuse('EVIDENCE_URL', 'is not a valid URL (postgres://user:password@host:5432/database)')
    }
    return { kind: 'postgres', url }
  }
  return { kind: 'sqlite', dataDir: text(env, 'DATA_DIR') as string }
}

/** EVIDENCE_HMAC_KEY, or the file EVIDENCE_HMAC_KEY_FILE names (a mounted Secret); at least 32 characters, never echoed. */
function evidenceKeyOf (env: Record<string, string | undefined>): Buffer | undefined {
  const direct = env.EVIDENCE_HMAC_KEY?.trim()
  const file = env.EVIDENCE_HMAC_KEY_FILE?.trim()
  if (direct && file) throw refuse('EVIDENCE_HMAC_KEY_FILE', 'set either EVIDENCE_HMAC_KEY or EVIDENCE_HMAC_KEY_FILE, not both')
  let key = direct
  let name = 'EVIDENCE_HMAC_KEY'
  if (file) {
    name = 'EVIDENCE_HMAC_KEY_FILE'
    try {
      key = readFileSync(file, 'utf8').trim()
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw refuse(name, `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? 'unreadable'}`)
    }
  }
  if (key === undefined || key === '') return undefined
  if (key.length < 32) throw refuse(name, `the key must be at least 32 characters (e.g. openssl rand -hex 32), got ${key.length}`)
  return Buffer.from(key, 'utf8')
}
