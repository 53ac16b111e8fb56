/**
 * Canonical JSON: object keys sorted, no whitespace, undefined dropped. Two equal values give
 * the same bytes, so hashes of policies and decision records are stable across processes.
 */
import { createHash } from 'node:crypto'

export function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null'
    return JSON.stringify(value) ?? 'null'
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

export function sha256Hex (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
