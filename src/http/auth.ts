/**
 * Optional API keys for the gate itself (GATE_API_KEYS). Empty: no auth. Otherwise a
 * comma-separated list of entries, each `KEY` (any tenant) or `KEY:tenant1|tenant2` (only
 * those tenants). Keys are at least 16 characters of [A-Za-z0-9._~+/=-]. A request carries its
 * key in `X-API-Key`, `Authorization: Bearer KEY` or Basic with the key as the password (for
 * browsers on the decision pages); missing or unknown -> 401, a key not
 * allowed the request's tenant -> 403. Keys are compared in constant time (sha256 digests,
 * timingSafeEqual, every key checked) and never logged or echoed.
 */
import { timingSafeEqual } from 'node:crypto'
import { digest, type ApiKey } from '../config/api-keys.js'
import { GateError } from '../errors.js'

export { parseApiKeys, type ApiKey } from '../config/api-keys.js'

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
