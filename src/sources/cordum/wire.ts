/**
 * Cordum's wire format, as far as the gate reads it (research/cordum-api.md; where Cordum's
 * OpenAPI file and its code disagree, the code wins): field names, units and envelope shapes,
 * checked on the way in. A body that does not have the shape is the upstream's fault and
 * becomes GATE_ERR_UPSTREAM_RESPONSE naming the field, never a crash or a silent zero.
 */
import { GateError } from '../../errors.js'
import type { Page } from './pages.js'

/** `GET /api/v1/governance/decisions` item. `timestamp` is RFC 3339. */
export interface DecisionEntry {
  job_id: string
  agent_id: string
  verdict: string
  timestamp: string
}

/** `JobRecord` of `GET /api/v1/jobs` and of approval items. `updated_at` is in microseconds. */
export interface JobRecord {
  id: string
  state: string
  updated_at: number
  agent_id: string
  tenant: string
  topic: string
  attempts: number
}

/** `DLQEntry` of `GET /api/v1/dlq/page`. `created_at` is RFC 3339. */
export interface DlqEntry {
  job_id: string
  topic: string
  reason_code: string
  status: string
  created_at: string
}

/** `GET /api/v1/approvals` item. */
export interface ApprovalItem {
  job: JobRecord
  approval_status: string
}

/** `GET /api/v1/pools` item. */
export interface PoolInfo {
  name: string
  utilization: number
}

function bad (what: string, message: string): GateError {
  return new GateError('GATE_ERR_UPSTREAM_RESPONSE', `${what} answered with an unexpected body: ${message}`, { source: 'cordum' })
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** `{items: [...], next_cursor: <int64 | string | null>}`: Cordum's list envelope. */
export function listPage<T> (body: unknown, what: string, parse: (item: unknown, at: string) => T, cursor: 'number' | 'string'): Page<T> {
  if (!isObject(body)) throw bad(what, 'expected an object with items')
  const items = body.items ?? []
  if (!Array.isArray(items)) throw bad(what, `items must be a list, got ${typeof items}`)
  const raw = body.next_cursor
  let next: string | number | null = null
  if (raw !== undefined && raw !== null && raw !== '') {
    if (cursor === 'number' && (typeof raw !== 'number' || !Number.isFinite(raw))) throw bad(what, `next_cursor must be an integer (microseconds), got ${JSON.stringify(raw).slice(0, 40)}`)
    if (cursor === 'string' && typeof raw !== 'string') throw bad(what, `next_cursor must be a string, got ${typeof raw}`)
    next = raw as string | number
  }
  return { items: items.map((item, i) => parse(item, `${what} items[${i}]`)), next }
}

function str (o: Record<string, unknown>, key: string, at: string, required = true): string {
  const v = o[key]
  if (typeof v === 'string') return v
  if (!required && (v === undefined || v === null)) return ''
  throw bad(at, `${key} must be a string, got ${v === null ? 'null' : typeof v}`)
}

function int (o: Record<string, unknown>, key: string, at: string, fallback?: number): number {
  const v = o[key]
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if ((v === undefined || v === null) && fallback !== undefined) return fallback
  throw bad(at, `${key} must be a number, got ${v === null ? 'null' : typeof v}`)
}

function time (o: Record<string, unknown>, key: string, at: string): string {
  const v = str(o, key, at)
  if (Number.isNaN(Date.parse(v))) throw bad(at, `${key} must be an RFC 3339 time, got '${v.slice(0, 40)}'`)
  return v
}

export function parseDecision (item: unknown, at: string): DecisionEntry {
  if (!isObject(item)) throw bad(at, 'expected an object')
  return { job_id: str(item, 'job_id', at, false), agent_id: str(item, 'agent_id', at, false), verdict: str(item, 'verdict', at), timestamp: time(item, 'timestamp', at) }
}

export function parseJob (item: unknown, at: string): JobRecord {
  if (!isObject(item)) throw bad(at, 'expected an object')
  return {
    id: str(item, 'id', at),
    state: str(item, 'state', at),
    updated_at: int(item, 'updated_at', at),
    agent_id: str(item, 'agent_id', at, false),
    tenant: str(item, 'tenant', at, false),
    topic: str(item, 'topic', at, false),
    attempts: int(item, 'attempts', at, 0),
  }
}

export function parseDlq (item: unknown, at: string): DlqEntry {
  if (!isObject(item)) throw bad(at, 'expected an object')
  return {
    job_id: str(item, 'job_id', at),
    topic: str(item, 'topic', at, false),
    reason_code: str(item, 'reason_code', at, false),
    status: str(item, 'status', at, false),
    created_at: time(item, 'created_at', at),
  }
}

export function parseApproval (item: unknown, at: string): ApprovalItem {
  if (!isObject(item)) throw bad(at, 'expected an object')
  return { job: parseJob(item.job, `${at}.job`), approval_status: str(item, 'approval_status', at, false) }
}

export function parsePool (item: unknown, at: string): PoolInfo {
  if (!isObject(item)) throw bad(at, 'expected an object')
  return { name: str(item, 'name', at), utilization: int(item, 'utilization', at, 0) }
}

/** Microseconds since the epoch, as Cordum's job timestamps are. */
export function micros (d: Date | number): number {
  return Math.floor((typeof d === 'number' ? d : d.getTime()) * 1000)
}
