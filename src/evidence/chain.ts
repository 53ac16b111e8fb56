/**
 * Verifying a tenant's chain, one row at a time in seq order (stores stream rows in batches, so
 * a long chain never sits in memory). Every check names what it found:
 *   - the body parses and its hash is the stored hash (the record was not altered);
 *   - the filter columns agree with the hashed body (a column was not edited on its own);
 *   - seq has no gap and prevHash is the previous record's hash (nothing removed or reordered);
 *   - the first record starts at GENESIS, or an anchor record later in the chain vouches for
 *     the records retention pruned before it;
 *   - the last record is the head the store recorded (nothing cut off the end);
 *   - with EVIDENCE_HMAC_KEY, each keyed record's HMAC, and no unkeyed record after a keyed one
 *     (a record rewritten by someone without the key);
 *   - each anchor kept outside the database (a head the gate logged and exported, `Head`) is
 *     still in the chain with its hash: a rewritten and rehashed chain, or a tail cut off with
 *     the head moved back, no longer holds it.
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
  /** The first record sealed with the HMAC key (absent: none is; records before it have a plain sha256). */
  keyedFrom?: number
  /** Anchors kept outside the database that the chain was checked against. */
  anchors?: number
}

export interface Head { seq: number, hash: string }

/** The longest a verify holds the event loop at a time. */
const SLICE_MS = 10

export interface VerifyOptions {
  /** EVIDENCE_HMAC_KEY: checks keyed records (without it they cannot be checked, and fail). */
  key?: Buffer
  /**
   * Heads seen outside the database (the gate's memory, its log, Prometheus): the record at
   * each seq must still carry that hash (a prefix of 12 or more hex digits, as the metric
   * holds, is enough), and the chain must reach it.
   */
  anchors?: Head[]
}

const COLUMNS: (keyof RecordRow)[] = ['id', 'tenant', 'seq', 'kind', 'time_ms', 'namespace', 'rollout', 'revision', 'stage', 'verdict', 'canary', 'score', 'window_since_ms', 'prev_hash']

export class ChainVerifier {
  readonly #tenant: string
  #records = 0
  #previous: ChainRecord | undefined
  #first: ChainRecord | undefined
  #broken: BrokenLink | undefined
  /** Anchors seen, by the seq they vouch for. */
  readonly #anchors = new Map<number, AnchorRecord>()
  readonly #key: Buffer | undefined
  /** Heads kept outside the database, by seq. */
  readonly #outside = new Map<number, string>()
  #keyedFrom: number | undefined

  constructor (tenant: string, opts: VerifyOptions = {}) {
    this.#tenant = tenant
    this.#key = opts.key
    for (const a of opts.anchors ?? []) this.#outside.set(a.seq, a.hash)
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
    if (record.mac !== undefined && this.#key === undefined) {
      fail('the record is sealed with an HMAC key (mac hmac-sha256) but this gate has no EVIDENCE_HMAC_KEY to check it')
      return
    }
    if (hashOf(record, this.#key) !== row.hash) {
      fail(record.mac === undefined
        ? 'the record\'s content does not match its hash: it was altered after it was written'
        : 'the record\'s HMAC does not match: it was altered or forged without EVIDENCE_HMAC_KEY (or the key changed)')
      return
    }
    if (record.mac === undefined && this.#keyedFrom !== undefined) {
      fail(`the record has a plain sha256 after record ${this.#keyedFrom} was sealed with the HMAC key: it was rewritten by someone without the key`)
      return
    }
    if (record.mac !== undefined) this.#keyedFrom ??= record.seq
    const outside = this.#outside.get(record.seq)
    if (outside !== undefined && !row.hash.startsWith(outside)) {
      fail(`the record's hash is ${row.hash.slice(0, 12)}, but the head the gate logged and exported for record ${record.seq} was ${outside.slice(0, 12)}: the chain was rewritten from here on`)
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

  /**
   * Checks rows in order, up to (not past) `through`, giving the event loop a turn every
   * SLICE_MS: checking a record (parse, canonical JSON, hash) costs about a millisecond, so a
   * batch checked in one go would hold up every other request. False once the chain is broken
   * or `through` is passed.
   */
  async pushAll (rows: RecordRow[], through?: number): Promise<boolean> {
    let slice = performance.now()
    for (const row of rows) {
      if (through !== undefined && Number(row.seq) > through) return false
      this.push(row)
      if (this.broken) return false
      if (performance.now() - slice > SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve))
        slice = performance.now()
      }
    }
    return true
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
    if (this.#broken === undefined && last !== undefined) {
      const beyond = Math.max(...this.#outside.keys())
      if (beyond > last.seq) {
        this.#broken = { seq: last.seq, id: last.id, reason: `the chain ends at record ${last.seq}, but the gate logged and exported a head at record ${beyond}: records were removed from the end and the head moved back` }
      }
    }
    if (this.#broken === undefined && last === undefined && this.#outside.size > 0) {
      this.#broken = { seq: Math.max(...this.#outside.keys()), id: '', reason: 'no records are stored, but the gate logged and exported a head for this tenant: its records were removed' }
    }
    if (this.#keyedFrom !== undefined) report.keyedFrom = this.#keyedFrom
    if (this.#outside.size > 0) report.anchors = this.#outside.size
    if (this.#broken !== undefined) report.broken = this.#broken
    report.ok = this.#broken === undefined
    return report
  }
}
