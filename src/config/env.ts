/**
 * The service's environment (README "Configuration"): read once at start, every value
 * checked, every refusal naming the variable. Secrets (CORDUM_API_KEY, GATE_API_KEYS) are
 * kept out of error messages.
 */
import { GateError } from '../errors.js'
import { parseApiKeys, type ApiKey } from '../http/auth.js'
import { DEFAULT_MAX_ROLLOUT_STAGES, DEFAULT_ROLLOUT_TTL_SECONDS } from '../metrics/gate-metrics.js'

export interface ServiceConfig {
  port: number
  host: string
  logLevel: string
  /** Gates policy file; absent: the built-in defaults. */
  gatesFile?: string
  /** Absent: demo mode against the in-process sandbox. */
  cordum?: { url: string, apiKey?: string, deadlineMs: number }
  tenant: string
  apiKeys: ApiKey[]
  /** Bounds on per-rollout metric series (docs/observability.md). */
  metrics: { rolloutTtlSeconds: number, maxRolloutStages: number }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function refuse (name: string, message: string): GateError {
  return new GateError('GATE_ERR_CONFIG_INVALID', `${name}: ${message}`)
}

function integer (env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const v = Number(raw)
  if (!Number.isInteger(v) || v < min || v > max) throw refuse(name, `must be a whole number from ${min} to ${max}, got '${raw.slice(0, 32)}'`)
  return v
}

export function readConfig (env: Record<string, string | undefined>): ServiceConfig {
  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase() || 'info'
  if (!LEVELS.includes(logLevel)) throw refuse('LOG_LEVEL', `must be one of ${LEVELS.join(', ')}, got '${logLevel.slice(0, 32)}'`)
  const config: ServiceConfig = {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    logLevel,
    tenant: env.CORDUM_TENANT?.trim() || 'default',
    apiKeys: parseApiKeys(env.GATE_API_KEYS),
    metrics: {
      rolloutTtlSeconds: integer(env, 'METRICS_ROLLOUT_TTL_SECONDS', DEFAULT_ROLLOUT_TTL_SECONDS, 60, 30 * 86_400),
      maxRolloutStages: integer(env, 'METRICS_MAX_ROLLOUT_STAGES', DEFAULT_MAX_ROLLOUT_STAGES, 1, 100_000),
    },
  }
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
    config.cordum = { url: parsed.toString().replace(/\/+$/, ''), deadlineMs: integer(env, 'CORDUM_DEADLINE_MS', 8_000, 500, 60_000) }
    const key = env.CORDUM_API_KEY?.trim()
    if (key !== undefined && key !== '') config.cordum.apiKey = key
  }
  return config
}
