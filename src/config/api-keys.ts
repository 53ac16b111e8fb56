/**
 * GATE_API_KEYS, parsed at start (docs/http-api.md "Authentication"): a comma-separated list of
 * entries, each `KEY` (any tenant) or `KEY:tenant1|tenant2` (only those tenants). Keys are at
 * least 16 characters of [A-Za-z0-9._~+/=-] and are kept only as sha256 digests. Here, in
 * config/, because reading the environment must not depend on the HTTP layer; src/http/auth.ts
 * checks the keys requests present against these.
 */
import { createHash } from 'node:crypto'
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

/** The sha256 digest a key is kept and compared as. */
export function digest (key: string): Buffer {
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
