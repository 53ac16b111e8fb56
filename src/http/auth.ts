/**
 * Optional API keys for the gate itself (GATE_API_KEYS). Empty: no auth. Otherwise a
 * comma-separated list of entries, each `KEY` (any tenant) or `KEY:tenant1|tenant2` (only
 * those tenants). Keys are at least 16 characters of [A-Za-z0-9._~+/=-]. A request carries its
 * key in `X-API-Key`, `Authorization: Bearer KEY` or Basic with the key as the password (for
 * browsers on the decision pages); missing or unknown -> 401, a key not
 * allowed the request's tenant -> 403. Keys are compared in constant time (sha256 digests,
 * timingSafeEqual, every key checked) and never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { GateError } from '../errors.js'

export interface ApiKey {
  /** sha256 of the key: the key itself is not kept. */
  digest: Buffer
  /** Tenants this key may ask about; undefined means any tenant. */
  tenants?: string[]
  /** Position in GATE_API_KEYS (1-based), for logs: "key #2". */
  index: number
}

const KEY = /^[A-Za-z0-9._~+/=-]{16,512}$/
const TENANT = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,252}$/

function digest (key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/** Parses GATE_API_KEYS (or another list of keys in its form, `name`); errors name the entry by position, never by its value. */
export function parseApiKeys (text: string | undefined, name = 'GATE_API_KEYS'): ApiKey[] {
  if (text === undefined || text.trim() === '') return []
  const keys = text.split(',').map((raw, i) => {
    const entry = raw.trim()
    const at = `${name} entry ${i + 1}`
    const colon = entry.indexOf(':')
    const key = colon === -1 ? entry : entry.slice(0, colon)
    if (!KEY.test(key)) throw new GateError('GATE_ERR_CONFIG_INVALID', `${at}: a key must be 16-512 characters of letters, digits and . _ ~ + / = -`)
    const apiKey: ApiKey = { digest: digest(key), index: i + 1 }
    if (colon !== -1) {
      const tenants = entry.slice(colon + 1).split('|').map((t) => t.trim())
      const bad = tenants.find((t) => !TENANT.test(t))
      if (bad !== undefined) throw new GateError('GATE_ERR_CONFIG_INVALID', `${at}: '${bad.slice(0, 64)}' is not a valid tenant name (write KEY:tenant1|tenant2)`)
      apiKey.tenants = tenants
    }
    return apiKey
  })
  // A key given twice would be bound by its first entry only, silently: refused, by position.
  for (const k of keys) {
    const first = keys.find((other) => other.digest.equals(k.digest))
    if (first !== undefined && first !== k) throw new GateError('GATE_ERR_CONFIG_INVALID', `${name} entry ${k.index}: the same key as entry ${first.index}; give each key once (KEY:tenant1|tenant2 for several tenants)`)
  }
  return keys
}

/**
 * The key a request presents, from X-API-Key, Authorization: Bearer, or Authorization: Basic
 * with the key as the password (a browser opening a decision page can send only that).
 */
export function presentedKey (headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers['x-api-key']
  if (typeof header === 'string' && header !== '') return header
  const auth = headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m !== null) return m[1]
    const basic = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(auth)
    if (basic !== null) {
      const pair = Buffer.from(basic[1] as string, 'base64').toString('utf8')
      const password = pair.slice(pair.indexOf(':') + 1)
      if (pair.includes(':') && password !== '') return password
    }
  }
  return undefined
}

/** The matching key, comparing against every key so timing does not tell which one matched. */
export function findKey (keys: ApiKey[], presented: string | undefined): ApiKey | undefined {
  if (presented === undefined) return undefined
  const d = digest(presented)
  let found: ApiKey | undefined
  for (const k of keys) {
    if (timingSafeEqual(k.digest, d) && found === undefined) found = k
  }
  return found
}

export function authenticate (keys: ApiKey[], headers: Record<string, string | string[] | undefined>): ApiKey {
  const presented = presentedKey(headers)
  if (presented === undefined) throw new GateError('GATE_ERR_UNAUTHORIZED', 'an API key is required: send it in X-API-Key or Authorization: Bearer')
  const key = findKey(keys, presented)
  if (key === undefined) throw new GateError('GATE_ERR_UNAUTHORIZED', 'the API key is not valid for this gate')
  return key
}

export function authorizeTenant (key: ApiKey, tenant: string): void {
  if (key.tenants !== undefined && !key.tenants.includes(tenant)) {
    throw new GateError('GATE_ERR_FORBIDDEN', `this API key may not read tenant '${tenant}'`)
  }
}
