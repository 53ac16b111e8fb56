/**
 * Decision records: what the gate answered, to whom, and why, kept so that a rollout can be
 * explained after the fact and its evidence replayed with `agent-canary-gate judge`.
 *
 * Records are hash-chained per tenant: each holds `seq` (1, 2, 3, ... per tenant) and
 * `prevHash` (the hash of record seq - 1, or GENESIS for the first), and its own `hash` is the
 * sha256 of its canonical JSON without `hash`, or with EVIDENCE_HMAC_KEY its HMAC-SHA256 (see
 * `Sealed.mac`). Changing, removing or reordering a record breaks a link that ChainVerifier
 * reports; docs/evidence.md says what a chain with and without a key can and cannot show. Retention prunes the oldest records behind an anchor
 * record (see `AnchorRecord`), so a pruned chain still verifies.
 */
import type { ActionsTaken } from '../service/ports.js'
import { createHmac } from 'node:crypto'
import { canonicalJson, sha256Hex } from '../canonical-json.js'
import type { Observations } from '../gate/observations.js'
import type { Judgement, Verdict } from '../gate/verdict.js'
import type { WindowRule } from '../service/window.js'

/** prevHash of the first record of a tenant's chain. */
export const GENESIS = '0'.repeat(64)

/** The request as the gate understood it (normalized: defaults applied, window resolved). */
export interface RecordedRequest {
  stage: string
  canary: string
  baseline?: string
  tenant: string
  topic?: string
  namespace?: string
  rollout?: string
  revision?: string
  since: string
  until: string
  weight?: number
  /** How `since` was chosen: given by the request, the first record of this analysis, or the default lifetime. */
  windowRule: WindowRule
}

/** Versions of what produced the decision, e.g. `{ cordum: { version: 'v0.9.3', commit: 'abc' } }`. */
export type SourceVersions = Record<string, { version: string, commit?: string }>

/** What a decision record says before the store seals it into the chain. */
export interface DecisionEntry {
  tenant: string
  namespace?: string
  rollout?: string
  revision?: string
  stage: string
  canary: string
  baseline?: string
  verdict: Verdict
  score: number
  request: RecordedRequest
  /** The judge's input: a file `agent-canary-gate judge` accepts (docs/observations.md). */
  observations: Observations
  /** The judge's output with per-signal and per-trigger evidence (the ScoreResponse without decisionId). */
  judgement: Judgement
  actions?: ActionsTaken
  policy: { sha256: string, file: string }
  sources: SourceVersions
  gate: { version: string }
}

interface Sealed {
  /**
   * `hmac-sha256`: `hash` is an HMAC keyed with EVIDENCE_HMAC_KEY, which the database does not
   * hold, so someone who can write the database cannot forge it. Absent: a plain sha256
   * (records written without a key), which anyone can recompute.
   */
  mac?: 'hmac-sha256'
  id: string
  seq: number
  /** RFC 3339 with milliseconds; the same instant as the id's timestamp. */
  time: string
  tenant: string
  prevHash: string
  hash: string
}

export type DecisionRecord = DecisionEntry & Sealed & { kind: 'decision' }

/**
 * Written by retention before it deletes records 1..prunedThrough.seq of a tenant: it is part
 * of the chain (hashed and linked like any record), and it vouches for the hash of the last
 * pruned record, which the first remaining record must name as its prevHash.
 */
export type AnchorRecord = Sealed & {
  kind: 'anchor'
  prunedThrough: { seq: number, hash: string, time: string }
  retentionDays: number
}

export type ChainRecord = DecisionRecord | AnchorRecord

/** The columns a store keeps beside the hashed body, for filtering; verification checks they agree with it. */
export interface RecordRow {
  id: string
  tenant: string
  seq: number
  kind: string
  time_ms: number
  namespace: string
  rollout: string
  revision: string
  stage: string
  verdict: string
  canary: string
  score: number | null
  window_since_ms: number | null
  prev_hash: string
  hash: string
  body: string
}

/** Seals a record: its hash covers everything but the hash itself; with a key, it is an HMAC and the record says so (`mac`). */
export function seal<T extends Omit<ChainRecord, 'hash'>> (unsealed: T, key?: Buffer): T & { hash: string } {
  const marked = key === undefined ? unsealed : { ...unsealed, mac: 'hmac-sha256' as const }
  return { ...marked, hash: hashOf(marked, key) as string }
}

/**
 * The hash a record should carry: sha256 of its canonical JSON without `hash`, or for a record
 * marked `mac: hmac-sha256` the HMAC-SHA256 of it under `key` (undefined without the key: it
 * cannot be checked).
 */
export function hashOf (record: object, key?: Buffer): string | undefined {
  const { hash: _hash, ...rest } = record as { hash?: string, mac?: string }
  const text = canonicalJson(rest)
  if (rest.mac === undefined) return sha256Hex(text)
  if (rest.mac !== 'hmac-sha256' || key === undefined) return undefined
  return createHmac('sha256', key).update(text).digest('hex')
}

export function toRow (record: ChainRecord): RecordRow {
  const { hash, ...body } = record
  const d = record.kind === 'decision' ? record : undefined
  return {
    id: record.id,
    tenant: record.tenant,
    seq: record.seq,
    kind: record.kind,
    time_ms: Date.parse(record.time),
    namespace: d?.namespace ?? '',
    rollout: d?.rollout ?? '',
    revision: d?.revision ?? '',
    stage: d?.stage ?? '',
    verdict: d?.verdict ?? '',
    canary: d?.canary ?? '',
    score: d?.score ?? null,
    window_since_ms: d === undefined ? null : Date.parse(d.request.since),
    prev_hash: record.prevHash,
    hash,
    body: canonicalJson(body),
  }
}

export function fromRow (row: RecordRow): ChainRecord {
  return { ...(JSON.parse(row.body) as Omit<ChainRecord, 'hash'>), hash: row.hash } as ChainRecord
}

/** The (tenant, namespace, rollout, revision, stage) of a growing analysis; absent parts are ''. */
export interface AnalysisKey {
  tenant: string
  namespace: string
  rollout: string
  revision: string
  stage: string
}

/** The next decision record of a chain whose head is `head` (undefined: an empty chain). */
export function nextDecision (entry: DecisionEntry, head: { seq: number, hash: string } | undefined, id: string, ms: number, key?: Buffer): DecisionRecord {
  return seal({ ...entry, kind: 'decision' as const, id, seq: (head?.seq ?? 0) + 1, time: new Date(ms).toISOString(), prevHash: head?.hash ?? GENESIS }, key)
}

/** The anchor record retention writes at the head before pruning records 1..last.seq. */
export function nextAnchor (
  tenant: string, head: { seq: number, hash: string }, last: { seq: number, hash: string, time_ms: number }, retentionDays: number, id: string, ms: number, key?: Buffer
): AnchorRecord {
  return seal({
    kind: 'anchor' as const,
    id,
    seq: head.seq + 1,
    time: new Date(ms).toISOString(),
    tenant,
    prevHash: head.hash,
    prunedThrough: { seq: Number(last.seq), hash: last.hash, time: new Date(Number(last.time_ms)).toISOString() },
    retentionDays,
  }, key)
}
