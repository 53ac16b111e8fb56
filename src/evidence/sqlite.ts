/**
 * The embedded evidence store: one SQLite file (better-sqlite3) under DATA_DIR, in WAL mode
 * with synchronous=FULL, so a committed record survives the process being killed, and readers
 * never block the writer. Every append is one IMMEDIATE transaction (read the tenant's head,
 * insert, move the head): SQLite allows one writer at a time, so chains cannot fork even if
 * two processes share the file.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { GateError } from '../errors.js'
import { ChainVerifier, type Head, type VerifyReport } from './chain.js'
import { DecisionIds } from './ids.js'
import { fromRow, hashOf, nextAnchor, nextDecision, toRow, type AnalysisKey, type ChainRecord, type DecisionEntry, type DecisionRecord, type RecordRow } from './record.js'
import { ANALYSIS_WHERE_SQLITE, LEDGER_UPSERT_SET, listPage, listQuery, MIGRATIONS, SQLITE_RULE } from './sql.js'
import type { LedgerJob, LedgerStore } from '../sources/cordum/ledger.js'
import type { AnalysisStart, DecisionFilter, EvidenceStore, ListOptions, Page, PruneReport, RolloutKey, StepStart, StoreOptions } from './store.js'

export const SQLITE_FILE = 'evidence.sqlite'

/** How long one attempt waits for a lock (synchronously), and how long a write keeps trying (asynchronously). */
const BUSY_STEP_MS = 20
const BUSY_BUDGET_MS = 5_000

/** Records read from the file at once (a few milliseconds of reading). */
const VERIFY_BATCH = 200

/** The database's own text (a constraint, a file path) stays in the cause, for the log; the answer says what failed. */
function unavailable (what: string, err: unknown): GateError {
  return new GateError('GATE_ERR_EVIDENCE_UNAVAILABLE', `the evidence store (SQLite) could not ${what}; retry`, { source: 'evidence', cause: err })
}

export class SqliteStore implements EvidenceStore, LedgerStore {
  readonly kind = 'sqlite'
  readonly location: string
  readonly #db: Database.Database
  readonly #now: () => number
  readonly #ids = new DecisionIds()
  readonly #key: Buffer | undefined

  constructor (dataDir: string, opts: StoreOptions = {}) {
    this.#now = opts.now ?? Date.now
    this.#key = opts.key
    try {
      mkdirSync(dataDir, { recursive: true })
      this.location = join(dataDir, SQLITE_FILE)
      this.#db = new Database(this.location)
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = FULL')
      // SQLite waits for a lock synchronously, holding the event loop: wait only briefly there,
      // and longer in #write, between turns of the loop.
      this.#db.pragma(`busy_timeout = ${BUSY_STEP_MS}`)
      this.#migrate()
    } catch (err) {
      throw new GateError('GATE_ERR_CONFIG_INVALID', `DATA_DIR: cannot open the evidence store in '${dataDir}': ${(err as Error).message}`, { cause: err })
    }
  }

  #migrate (): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)')
    const applied = new Set((this.#db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version))
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue
      this.#db.transaction(() => {
        this.#db.exec(m.sqlite)
        this.#db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString())
      }).immediate()
    }
  }

  #head (tenant: string): Head | undefined {
    return this.#db.prepare('SELECT seq, hash FROM chain_heads WHERE tenant = ?').get(tenant) as Head | undefined
  }

  #insert (record: ChainRecord): void {
    const row = toRow(record)
    this.#db.prepare(`INSERT INTO decisions (id, tenant, seq, kind, time_ms, namespace, rollout, revision, stage, verdict, canary, score, window_since_ms, prev_hash, hash, body)
      VALUES (@id, @tenant, @seq, @kind, @time_ms, @namespace, @rollout, @revision, @stage, @verdict, @canary, @score, @window_since_ms, @prev_hash, @hash, @body)`).run(row)
    this.#db.prepare('INSERT INTO chain_heads (tenant, seq, hash) VALUES (?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash').run(record.tenant, record.seq, record.hash)
  }

  /**
   * A write transaction; while another connection holds the database locked (SQLITE_BUSY) it is
   * tried again every BUSY_STEP_MS for up to BUSY_BUDGET_MS, waiting between turns of the event
   * loop: a locked file must not stop /healthz and every other request with it.
   */
  async #write<T> (fn: () => T): Promise<T> {
    const deadline = performance.now() + BUSY_BUDGET_MS
    for (;;) {
      try {
        return this.#db.transaction(fn).immediate()
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || performance.now() >= deadline) throw err
        await new Promise((resolve) => setTimeout(resolve, BUSY_STEP_MS))
      }
    }
  }

  async append (entry: DecisionEntry): Promise<DecisionRecord> {
    try {
      return await this.#write(() => {
        const { id, ms } = this.#ids.next(this.#now())
        const record = nextDecision(entry, this.#head(entry.tenant), id, ms, this.#key)
        this.#insert(record)
        return record
      })
    } catch (err) {
      throw unavailable('write the decision record', err)
    }
  }

  async get (id: string): Promise<ChainRecord | undefined> {
    try {
      const row = this.#db.prepare('SELECT * FROM decisions WHERE id = ?').get(id) as RecordRow | undefined
      return row === undefined ? undefined : fromRow(row)
    } catch (err) {
      throw unavailable('read a decision record', err)
    }
  }

  async list (filter: DecisionFilter, opts: ListOptions): Promise<Page> {
    try {
      const { sql, params } = listQuery(filter, opts, () => '?')
      return listPage(this.#db.prepare(sql).all(...params) as RecordRow[], opts)
    } catch (err) {
      throw unavailable('list decision records', err)
    }
  }

  async verify (tenant: string, anchors?: Head[]): Promise<VerifyReport> {
    try {
      const verifier = new ChainVerifier(tenant, { ...(this.#key === undefined ? {} : { key: this.#key }), ...(anchors === undefined ? {} : { anchors }) })
      // SQLite answers on the event loop: the chain is read in batches and checked in slices
      // of 10 ms (ChainVerifier.pushAll), so a long chain never holds up /healthz or a score
      // (issue 20: 40,000 records in one go held the loop 5.9 s). The head is read first; a record appended
      // between two batches lies beyond it and is left for the next verify.
      const head = this.#head(tenant)
      const batch = this.#db.prepare('SELECT * FROM decisions WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?')
      let after = -1
      for (;;) {
        const rows = batch.all(tenant, after, VERIFY_BATCH) as RecordRow[]
        if (!await verifier.pushAll(rows, head?.seq) || rows.length < VERIFY_BATCH) break
        after = Number((rows[rows.length - 1] as RecordRow).seq)
      }
      return verifier.finish(head)
    } catch (err) {
      throw unavailable('verify the chain', err)
    }
  }

  async tenants (): Promise<string[]> {
    try {
      return (this.#db.prepare('SELECT tenant FROM chain_heads UNION SELECT DISTINCT tenant FROM decisions ORDER BY tenant').all() as { tenant: string }[]).map((r) => r.tenant)
    } catch (err) {
      throw unavailable('list tenants', err)
    }
  }

  async heads (): Promise<Array<Head & { tenant: string }>> {
    try {
      return this.#db.prepare('SELECT tenant, seq, hash FROM chain_heads ORDER BY tenant').all() as Array<Head & { tenant: string }>
    } catch (err) {
      throw unavailable('read the chain heads', err)
    }
  }

  async analysisStart (key: AnalysisKey): Promise<AnalysisStart | undefined> {
    try {
      const row = this.#db.prepare(`SELECT window_since_ms, ${SQLITE_RULE} AS rule FROM decisions WHERE ${ANALYSIS_WHERE_SQLITE} AND ${SQLITE_RULE} <> 'request'
        ORDER BY seq LIMIT 1`).get(key.tenant, key.namespace, key.rollout, key.revision, key.stage) as { window_since_ms: number, rule: string } | undefined
      return row === undefined ? undefined : { since: new Date(row.window_since_ms), rule: row.rule }
    } catch (err) {
      throw unavailable('read the start of the analysis', err)
    }
  }

  async stepStart (key: RolloutKey, weight: number): Promise<StepStart> {
    try {
      const where = `kind = 'decision' AND tenant = ? AND namespace = ? AND rollout = ? AND revision = ? AND ${SQLITE_RULE} <> 'request'`
      const params = [key.tenant, key.namespace, key.rollout, key.revision]
      const first = this.#db.prepare(`SELECT seq, json_extract(body, '$.request.until') AS until FROM decisions WHERE ${where}
        AND json_extract(body, '$.request.weight') = ? ORDER BY seq LIMIT 1`).get(...params, weight) as { seq: number, until: string } | undefined
      const other = this.#db.prepare(`SELECT 1 FROM decisions WHERE ${where}
        AND json_extract(body, '$.request.weight') <> ? AND seq < ? LIMIT 1`).get(...params, weight, first?.seq ?? Number.MAX_SAFE_INTEGER)
      return first === undefined ? { afterOtherWeight: other !== undefined } : { at: new Date(first.until), afterOtherWeight: other !== undefined }
    } catch (err) {
      throw unavailable('read the start of the step', err)
    }
  }

  async prune (cutoffMs: number, retentionDays: number): Promise<PruneReport[]> {
    try {
      const reports: PruneReport[] = []
      for (const tenant of await this.tenants()) {
        const report = await this.#write((): PruneReport | undefined => {
          const last = this.#db.prepare('SELECT seq, hash, time_ms FROM decisions WHERE tenant = ? AND time_ms < ? ORDER BY seq DESC LIMIT 1').get(tenant, cutoffMs) as { seq: number, hash: string, time_ms: number } | undefined
          const head = this.#head(tenant)
          if (last === undefined || head === undefined) return undefined
          const { id, ms } = this.#ids.next(this.#now())
          const anchor = nextAnchor(tenant, head, last, retentionDays, id, ms, this.#key)
          this.#insert(anchor)
          const pruned = this.#db.prepare('DELETE FROM decisions WHERE tenant = ? AND seq <= ?').run(tenant, last.seq).changes
          return { tenant, pruned, anchorSeq: anchor.seq, prunedThroughSeq: last.seq }
        })
        if (report !== undefined) reports.push(report)
      }
      return reports
    } catch (err) {
      throw unavailable('prune old records', err)
    }
  }

  hashOk (record: ChainRecord): boolean {
    return hashOf(record, this.#key) === record.hash
  }

  async putJobs (tenant: string, jobs: LedgerJob[]): Promise<void> {
    if (jobs.length === 0) return
    try {
      const put = this.#db.prepare(`INSERT INTO cordum_jobs (tenant, job_id, agent_id, topic, state, updated_us, attempts) VALUES (?, ?, ?, ?, ?, ?, ?) ${LEDGER_UPSERT_SET}`)
      this.#db.transaction(() => { for (const j of jobs) put.run(tenant, j.id, j.agentId, j.topic, j.state, j.updatedUs, j.attempts) })()
    } catch (err) {
      throw unavailable('keep the job ledger', err)
    }
  }

  async addCoverage (tenant: string, fromUs: number, untilUs: number): Promise<void> {
    try {
      this.#db.transaction(() => {
        // Extends the stretch this one touches (a poll covers from where the last one began).
        const grown = this.#db.prepare('UPDATE cordum_job_coverage SET until_us = max(until_us, ?), from_us = min(from_us, ?) WHERE tenant = ? AND until_us >= ? AND from_us <= ?').run(untilUs, fromUs, tenant, fromUs, untilUs).changes
        if (grown === 0) this.#db.prepare('INSERT INTO cordum_job_coverage (tenant, from_us, until_us) VALUES (?, ?, ?)').run(tenant, fromUs, untilUs)
      }).immediate()
    } catch (err) {
      throw unavailable('keep the job ledger', err)
    }
  }

  async ledgerJobs (tenant: string, agents: string[], sinceUs: number, untilUs: number): Promise<LedgerJob[]> {
    if (agents.length === 0) return []
    try {
      const rows = this.#db.prepare(`SELECT job_id, agent_id, topic, state, updated_us, attempts FROM cordum_jobs WHERE tenant = ? AND agent_id IN (${agents.map(() => '?').join(', ')}) AND updated_us BETWEEN ? AND ?`)
        .all(tenant, ...agents, sinceUs, untilUs) as { job_id: string, agent_id: string, topic: string, state: string, updated_us: number, attempts: number }[]
      return rows.map((r) => ({ id: r.job_id, agentId: r.agent_id, topic: r.topic, state: r.state, updatedUs: r.updated_us, attempts: r.attempts }))
    } catch (err) {
      throw unavailable('read the job ledger', err)
    }
  }

  async ledgerCoverage (tenant: string, sinceUs: number, untilUs: number): Promise<Array<[number, number]>> {
    try {
      return (this.#db.prepare('SELECT from_us, until_us FROM cordum_job_coverage WHERE tenant = ? AND until_us >= ? AND from_us <= ?').all(tenant, sinceUs, untilUs) as { from_us: number, until_us: number }[]).map((r) => [r.from_us, r.until_us])
    } catch (err) {
      throw unavailable('read the job ledger', err)
    }
  }

  async ledgerMark (tenant: string): Promise<number | undefined> {
    try {
      return (this.#db.prepare('SELECT max(until_us) AS mark FROM cordum_job_coverage WHERE tenant = ?').get(tenant) as { mark: number | null }).mark ?? undefined
    } catch (err) {
      throw unavailable('read the job ledger', err)
    }
  }

  async pruneLedger (beforeUs: number): Promise<void> {
    try {
      this.#db.transaction(() => {
        this.#db.prepare('DELETE FROM cordum_jobs WHERE updated_us < ?').run(beforeUs)
        this.#db.prepare('DELETE FROM cordum_job_coverage WHERE until_us < ?').run(beforeUs)
        this.#db.prepare('UPDATE cordum_job_coverage SET from_us = ? WHERE from_us < ?').run(beforeUs, beforeUs)
      })()
    } catch (err) {
      throw unavailable('prune the job ledger', err)
    }
  }

  async close (): Promise<void> {
    if (this.#db.open) this.#db.close()
  }
}
