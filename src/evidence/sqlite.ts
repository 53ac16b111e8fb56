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
import { fromRow, nextAnchor, nextDecision, toRow, type AnalysisKey, type ChainRecord, type DecisionEntry, type DecisionRecord, type RecordRow } from './record.js'
import { listPage, listQuery, MIGRATIONS } from './sql.js'
import type { DecisionFilter, EvidenceStore, ListOptions, Page, PruneReport } from './store.js'

export const SQLITE_FILE = 'evidence.sqlite'

/** The database's own text (a constraint, a file path) stays in the cause, for the log; the answer says what failed. */
function unavailable (what: string, err: unknown): GateError {
  return new GateError('GATE_ERR_EVIDENCE_UNAVAILABLE', `the evidence store (SQLite) could not ${what}; retry`, { source: 'evidence', cause: err })
}

export class SqliteStore implements EvidenceStore {
  readonly kind = 'sqlite'
  readonly location: string
  readonly #db: Database.Database
  readonly #now: () => number
  readonly #ids = new DecisionIds()

  constructor (dataDir: string, opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now
    try {
      mkdirSync(dataDir, { recursive: true })
      this.location = join(dataDir, SQLITE_FILE)
      this.#db = new Database(this.location)
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = FULL')
      this.#db.pragma('busy_timeout = 5000')
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

  async append (entry: DecisionEntry): Promise<DecisionRecord> {
    try {
      return this.#db.transaction(() => {
        const { id, ms } = this.#ids.next(this.#now())
        const record = nextDecision(entry, this.#head(entry.tenant), id, ms)
        this.#insert(record)
        return record
      }).immediate()
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

  async verify (tenant: string): Promise<VerifyReport> {
    try {
      const verifier = new ChainVerifier(tenant)
      for (const row of this.#db.prepare('SELECT * FROM decisions WHERE tenant = ? ORDER BY seq').iterate(tenant) as IterableIterator<RecordRow>) {
        verifier.push(row)
        if (verifier.broken) break
      }
      return verifier.finish(this.#head(tenant))
    } catch (err) {
      throw unavailable('verify the chain', err)
    }
  }

  async tenants (): Promise<string[]> {
    try {
      return (this.#db.prepare('SELECT tenant FROM chain_heads ORDER BY tenant').all() as { tenant: string }[]).map((r) => r.tenant)
    } catch (err) {
      throw unavailable('list tenants', err)
    }
  }

  async analysisStart (key: AnalysisKey): Promise<Date | undefined> {
    try {
      const row = this.#db.prepare(`SELECT window_since_ms FROM decisions WHERE kind = 'decision' AND tenant = ? AND namespace = ? AND rollout = ? AND revision = ? AND stage = ?
        ORDER BY seq LIMIT 1`).get(key.tenant, key.namespace, key.rollout, key.revision, key.stage) as { window_since_ms: number } | undefined
      return row === undefined ? undefined : new Date(row.window_since_ms)
    } catch (err) {
      throw unavailable('read the start of the analysis', err)
    }
  }

  async prune (cutoffMs: number, retentionDays: number): Promise<PruneReport[]> {
    try {
      const reports: PruneReport[] = []
      for (const tenant of await this.tenants()) {
        const report = this.#db.transaction((): PruneReport | undefined => {
          const last = this.#db.prepare('SELECT seq, hash, time_ms FROM decisions WHERE tenant = ? AND time_ms < ? ORDER BY seq DESC LIMIT 1').get(tenant, cutoffMs) as { seq: number, hash: string, time_ms: number } | undefined
          const head = this.#head(tenant)
          if (last === undefined || head === undefined) return undefined
          const { id, ms } = this.#ids.next(this.#now())
          const anchor = nextAnchor(tenant, head, last, retentionDays, id, ms)
          this.#insert(anchor)
          const pruned = this.#db.prepare('DELETE FROM decisions WHERE tenant = ? AND seq <= ?').run(tenant, last.seq).changes
          return { tenant, pruned, anchorSeq: anchor.seq, prunedThroughSeq: last.seq }
        }).immediate()
        if (report !== undefined) reports.push(report)
      }
      return reports
    } catch (err) {
      throw unavailable('prune old records', err)
    }
  }

  async close (): Promise<void> {
    if (this.#db.open) this.#db.close()
  }
}
