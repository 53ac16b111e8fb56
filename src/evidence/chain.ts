/**
 * Verifying a tenant's chain, one row at a time in seq order (stores stream rows in batches, so
 * a long chain never sits in memory). Every check names what it found:
 *   - the body parses and its hash is the stored hash (the record was not altered);
 *   - the filter columns agree with the hashed body (a column was not edited on its own);
 *   - seq has no gap and prevHash is the previous record's hash (nothing removed or reordered);
 *   - the first record starts at GENESIS, or an anchor record later in the chain vouches for
 *     the records retention pruned before it;
 *   - the last record is the head the store recorded (nothing cut off the end).
 */
import { fromRow, GENESIS, hashOf, toRow, type AnchorRecord, type ChainRecord, type RecordRow } from './record.js'

export interface BrokenLink {
  seq: number
  id: string
  reason: string
}

export interface VerifyReport {
  tenant: string
  ok: boolean
  /** Records checked (decisions and anchors). */
  records: number
  first?: { seq: number, id: string, time: string }
  last?: { seq: number, id: string, time: string, hash: string }
  /** Set when retention has pruned the start of the chain. */
  prunedThrough?: { seq: number, time: string, anchorSeq: number }
  /** The first broken link, when the chain does not verify. */
  broken?: BrokenLink
}

export interface Head { seq: number, hash: string }

const COLUMNS: (keyof RecordRow)[] = ['id', 'tenant', 'seq', 'kind', 'time_ms', 'namespace', 'rollout', 'revision', 'stage', 'verdict', 'canary', 'score', 'window_since_ms', 'prev_hash']

export class ChainVerifier {
  readonly #tenant: string
  #records = 0
  #previous: ChainRecord | undefined
  #first: ChainRecord | undefined
  #broken: BrokenLink | undefined
  /** Anchors seen, by the seq they vouch for. */
  readonly #anchors = new Map<number, AnchorRecord>()

  constructor (tenant: string) {
    this.#tenant = tenant
  }

  get broken (): boolean {
    return this.#broken !== undefined
  }

  /** Checks the next row; after the first broken link the rest is not examined. */
  push (row: RecordRow): void {
    if (this.#broken !== undefined) return
    this.#records++
    const fail = (reason: string): void => { this.#broken = { seq: Number(row.seq), id: row.id, reason } }
    let record: ChainRecord
    try {
      record = fromRow(row)
    } catch {
      fail('the stored record is not valid JSON')
      return
    }
    if (hashOf(record) !== row.hash) {
      fail('the record\'s content does not match its hash: it was altered after it was written')
      return
    }
    const expected = toRow(record)
    for (const c of COLUMNS) {
      if (String(expected[c]) !== String(row[c])) {
        fail(`column ${c} holds '${String(row[c])}' but the hashed record says '${String(expected[c])}': the row was edited`)
        return
      }
    }
    if (record.tenant !== this.#tenant) {
      fail(`the record belongs to tenant '${record.tenant}', not '${this.#tenant}'`)
      return
    }
    const prev = this.#previous
    if (prev === undefined) {
      this.#first = record
      if (record.seq === 1 && record.prevHash !== GENESIS) fail('the first record of the chain does not start from the genesis hash')
    } else if (record.seq !== prev.seq + 1) {
      fail(`records ${prev.seq + 1}..${record.seq - 1} are missing: seq jumps from ${prev.seq} to ${record.seq}`)
    } else if (record.prevHash !== prev.hash) {
      fail(`prevHash does not match the hash of record ${prev.seq}: a record was replaced or reordered`)
    }
    if (record.kind === 'anchor') this.#anchors.set(record.prunedThrough.seq, record)
    this.#previous = record
  }

  /** The report, given the head the store recorded for the tenant (undefined if none). */
  finish (head: Head | undefined): VerifyReport {
    const report: VerifyReport = { tenant: this.#tenant, ok: false, records: this.#records }
    const first = this.#first
    const last = this.#previous
    if (first !== undefined) report.first = { seq: first.seq, id: first.id, time: first.time }
    if (last !== undefined) report.last = { seq: last.seq, id: last.id, time: last.time, hash: last.hash }
    if (this.#broken === undefined && first !== undefined && first.seq !== 1) {
      const anchor = this.#anchors.get(first.seq - 1)
      if (anchor === undefined) {
        this.#broken = { seq: first.seq, id: first.id, reason: `records 1..${first.seq - 1} are missing and no anchor record vouches for their removal` }
      } else if (anchor.prunedThrough.hash !== first.prevHash) {
        this.#broken = { seq: first.seq, id: first.id, reason: `the anchor record ${anchor.seq} vouches for hash ${anchor.prunedThrough.hash.slice(0, 12)} of record ${first.seq - 1}, but this record's prevHash is ${first.prevHash.slice(0, 12)}` }
      } else {
        report.prunedThrough = { seq: anchor.prunedThrough.seq, time: anchor.prunedThrough.time, anchorSeq: anchor.seq }
      }
    }
    if (this.#broken === undefined && head !== undefined) {
      if (last === undefined) {
        this.#broken = { seq: head.seq, id: '', reason: `the chain head is record ${head.seq}, but no records are stored` }
      } else if (last.seq !== head.seq || last.hash !== head.hash) {
        this.#broken = { seq: last.seq, id: last.id, reason: `the chain head is record ${head.seq} (${head.hash.slice(0, 12)}), but the last stored record is ${last.seq} (${last.hash.slice(0, 12)}): records were removed from the end` }
      }
    }
    if (this.#broken === undefined && head === undefined && last !== undefined) {
      this.#broken = { seq: last.seq, id: last.id, reason: 'records are stored but the chain head is missing' }
    }
    if (this.#broken !== undefined) report.broken = this.#broken
    report.ok = this.#broken === undefined
    return report
  }
}
