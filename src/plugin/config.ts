/**
 * The plugin's per-metric config: the JSON object under
 * `provider.plugin["cordum/agent-canary-gate"]` in an AnalysisTemplate. Argo substitutes
 * `{{args.*}}` in it before the plugin sees it (secrets included), so numbers may arrive as
 * strings. Every refusal names the key (GATE_ERR_PLUGIN_CONFIG) and never echoes a value that
 * might be a secret.
 */
import { unknownName } from '../config/names.js'
import { GateError } from '../errors.js'

export interface PluginConfig {
  /** The gate service's base URL; the plugin POSTs to `<address>/api/v1/score`. */
  address: URL
  stage: string
  canary?: string
  baseline?: string
  /** The agent's name: canary = `<agent>-<canary hash>`, baseline = `<agent>-<stable hash>`. */
  agent?: string
  tenant?: string
  topic?: string
  namespace?: string
  rollout?: string
  revision?: string
  apiKey?: string
  timeoutSeconds: number
  /** Expected canary weight in percent, for the gate's traffic-split check. */
  weight?: number
}

const STRING_KEYS = ['stage', 'canary', 'baseline', 'agent', 'tenant', 'topic', 'namespace', 'rollout', 'revision', 'apiKey'] as const
export const CONFIG_KEYS = ['address', ...STRING_KEYS, 'timeoutSeconds', 'weight'] as const

export const DEFAULT_TIMEOUT_SECONDS = 10
const MAX_TIMEOUT_SECONDS = 300
const MAX_CONFIG_BYTES = 64 * 1024

export function configError (message: string): GateError {
  return new GateError('GATE_ERR_PLUGIN_CONFIG', `plugin config: ${message}`)
}

function number (key: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  // The value is not echoed: a mistyped {{args.*}} could put anything here, a secret included.
  if (typeof n !== 'number' || !Number.isFinite(n)) throw configError(`${key} must be a number, got ${typeof v === 'string' ? 'a string that is not one' : typeof v}`)
  if (n < min || n > max) throw configError(`${key} must be between ${min} and ${max}, got ${n}`)
  return n
}

/** Parses the raw JSON Argo sends. `raw` undefined: the metric has no config for this plugin. */
export function parsePluginConfig (raw: Uint8Array | undefined): PluginConfig {
  if (raw === undefined || raw.length === 0) throw configError('missing: set provider.plugin["cordum/agent-canary-gate"] to an object with at least address and stage')
  if (raw.length > MAX_CONFIG_BYTES) throw configError(`${raw.length} bytes is over the ${MAX_CONFIG_BYTES}-byte limit`)
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(raw).toString('utf8'))
  } catch (err) {
    throw configError(`not valid JSON (${(err as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw configError('must be a JSON object')
  const obj = parsed as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) throw configError(unknownName('key', key, [...CONFIG_KEYS]))
  }

  const out: Partial<PluginConfig> & { timeoutSeconds: number } = { timeoutSeconds: DEFAULT_TIMEOUT_SECONDS }
  for (const key of STRING_KEYS) {
    const v = obj[key]
    if (v === undefined || v === null) continue
    if (typeof v !== 'string') throw configError(`${key} must be a string, got ${typeof v}`)
    const s = v.trim()
    if (s !== '') out[key] = s
  }
  if (out.stage === undefined) throw configError('stage is required (shadow, canary-1, canary-2, full or a stage of your gates policy)')

  const address = obj.address
  if (typeof address !== 'string' || address.trim() === '') throw configError('address is required: the gate service URL, e.g. http://agent-canary-gate.argo-rollouts.svc:8080')
  let url: URL
  try {
    url = new URL(address.trim())
  } catch {
    throw configError(`address is not a URL: ${JSON.stringify(address)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw configError(`address must be http or https, got ${url.protocol}`)
  if (url.username !== '' || url.password !== '') throw configError('address must not carry credentials; put the gate API key in apiKey')
  if (url.search !== '' || url.hash !== '') throw configError('address must be a base URL without query or fragment')
  out.address = url

  if (obj.timeoutSeconds !== undefined && obj.timeoutSeconds !== '') out.timeoutSeconds = number('timeoutSeconds', obj.timeoutSeconds, 1, MAX_TIMEOUT_SECONDS)
  if (obj.weight !== undefined && obj.weight !== '') out.weight = number('weight', obj.weight, 0, 100)
  return out as PluginConfig
}

/** The score endpoint for a config's address (a base path is kept: http://h/gate -> http://h/gate/api/v1/score). */
export function scoreUrl (address: URL): URL {
  const base = address.href.endsWith('/') ? address.href : `${address.href}/`
  return new URL('api/v1/score', base)
}
