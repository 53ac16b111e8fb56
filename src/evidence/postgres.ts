/**
 * The shared evidence store: PostgreSQL (EVIDENCE_URL=postgres://...), for several gate
 * replicas writing one chain per tenant. An append is one transaction that first takes a
 * transaction-scoped advisory lock on the tenant (pg_advisory_xact_lock), then reads the
 * tenant's head, inserts the record and moves the head: replicas queue per tenant instead of
 * forking the chain, and the lock is released by COMMIT, ROLLBACK or a dropped connection, so
 * a replica killed mid-write leaves nothing locked and nothing half-written. UNIQUE (tenant,
 * seq) is the backstop. Migrations run under a session advisory lock, so replicas starting
 * together apply each one once.
 */
import pg from 'pg'
import { GateError } from '../errors.js'
import { ChainVerifier, type Head, type VerifyReport } from './chain.js'
import { DecisionIds } from './ids.js'
import { fromRow, nextAnchor, nextDecision, toRow, type AnalysisKey, type ChainRecord, type DecisionEntry, type DecisionRecord, type RecordRow } from './record.js'
import { listPage, listQuery, MIGRATIONS } from './sql.js'
import type { DecisionFilter, EvidenceStore, ListOptions, Page, PruneReport } from './store.js'

/** Advisory lock class ids ("acg" + purpose), so the gate's locks never collide with an application's. */
const LOCK_CHAIN = 0x61636731
const LOCK_MIGRATE = 0x61636732

const COLUMNS = 'id, tenant, seq, kind, time_ms, namespace, rollout, revision, stage, verdict, canary, score, window_since_ms, prev_hash, hash, body'

/** int8 columns (seq, time_ms) as numbers: they stay far below 2^53. */
const types = { getTypeParser: (oid: number, format?: string) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text')) }

/** The database's own text (a constraint, a host) stays in the cause, for the log; the answer says what failed. */
function unavailable (what: string, err: unknown): GateError {
  return new GateError('GATE_ERR_EVIDENCE_UNAVAILABLE', `the evidence store (PostgreSQL) could not ${what}; retry`, { source: 'evidence', cause: err })
}

/** host:port/database of a connection string, for logs (no user, no password). */
export function describePostgres (url: string): string {
  try {
    const u = new URL(url)
    return `postgres://${u.host}${u.pathname}`
  } catch {
    return 'postgres'
  }
}

export class PostgresStore implements EvidenceStore {
  readonly kind = 'postgres'
  readonly location: string
  readonly #pool: pg.Pool
  readonly #now: () => number
  readonly #ids = new DecisionIds()

  private constructor (url: string, now: () => number) {
    this.location = describePostgres(url)
    this.#now = now
    this.#pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5_000, query_timeout: 10_000, types })
    // A client that loses its connection (the server restarted, an administrator terminated
    // its backend) emits 'error'. The pool listens on idle clients only; a client checked out
    // for an append or a verify would take the process down with it. So every client gets its
    // own listener when it connects: the query under way fails (the request answers 503
    // GATE_ERR_EVIDENCE_UNAVAILABLE), the broken client is discarded on release, and the next
    // request connects afresh.
    this.#pool.on('error', () => {})
    this.#pool.on('connect', (client) => { client.on('error', () => {}) })
  }

  /** Connects and applies migrations; refuses to start (GATE_ERR_CONFIG_INVALID) when it cannot. */
  static async open (url: string, opts: { now?: () => number } = {}): Promise<PostgresStore> {
    const store = new PostgresStore(url, opts.now ?? Date.now)
    try {
      await store.#migrate()
    } catch (err) {
      await store.close()
      throw new GateError('GATE_ERR_CONFIG_INVALID', `EVIDENCE_URL: cannot open the evidence store at ${store.location}: ${(err as Error).message}`, { cause: err })
    }
    return store
  }

  async #migrate (): Promise<void> {
    const client = await this.#pool.connect()
    try {
      await client.query('SELECT pg_advisory_lock($1, 0)', [LOCK_MIGRATE])
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())')
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version))
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue
        await client.query('BEGIN')
        try {
          await client.query(m.postgres)
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version])
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK')
          throw err
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_MIGRATE]).catch(() => {})
      client.release()
    }
  }

  /** Runs `fn` in a transaction holding the tenant's chain lock. */
  async #locked<T> (tenant: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect()
    let broken = false
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CHAIN, tenant])
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => { broken = true })
      throw err
    } finally {
      client.release(broken)
    }
  }

  async #head (client: pg.PoolClient | pg.Pool, tenant: string): Promise<Head | undefined> {
    return (await client.query<Head>('SELECT seq, hash FROM chain_heads WHERE tenant = $1', [tenant])).rows[0]
  }

  async #insert (client: pg.PoolClient, record: ChainRecord): Promise<void> {
    const r = toRow(record)
    await client.query(`INSERT INTO decisions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [r.id, r.tenant, r.seq, r.kind, r.time_ms, r.namespace, r.rollout, r.revision, r.stage, r.verdict, r.canary, r.score, r.window_since_ms, r.prev_hash, r.hash, r.body])
    await client.query('INSERT INTO chain_heads (tenant, seq, hash) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash', [record.tenant, record.seq, record.hash])
  }

  async append (entry: DecisionEntry): Promise<DecisionRecord> {
    try {
      return await this.#locked(entry.tenant, async (client) => {
        const { id, ms } = this.#ids.next(this.#now())
        const record = nextDecision(entry, await this.#head(client, entry.tenant), id, ms)
        await this.#insert(client, record)
        return record
      })
    } catch (err) {
      throw unavailable('write the decision record', err)
    }
  }

  async get (id: string): Promise<ChainRecord | undefined> {
    try {
      const row = (await this.#pool.query<RecordRow>(`SELECT ${COLUMNS} FROM decisions WHERE id = $1`, [id])).rows[0]
      return row === undefined ? undefined : fromRow(row)
    } catch (err) {
      throw unavailable('read a decision record', err)
    }
  }

  async list (filter: DecisionFilter, opts: ListOptions): Promise<Page> {
    try {
      const { sql, params } = listQuery(filter, opts, (n) => `$${n}`)
      return listPage((await this.#pool.query<RecordRow>(sql, params)).rows, opts)
    } catch (err) {
      throw unavailable('list decision records', err)
    }
  }

  async verify (tenant: string): Promise<VerifyReport> {
    try {
      const verifier = new ChainVerifier(tenant)
      // One snapshot (REPEATABLE READ) for the walk and the head, read in batches by seq.
      const client = await this.#pool.connect()
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        const head = await this.#head(client, tenant)
        let after = -1
        for (;;) {
          const rows = (await client.query<RecordRow>(`SELECT ${COLUMNS} FROM decisions WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT 1000`, [tenant, after])).rows
          for (const row of rows) verifier.push(row)
          if (rows.length < 1000 || verifier.broken) break
          after = Number((rows[rows.length - 1] as RecordRow).seq)
        }
        await client.query('COMMIT')
        return verifier.finish(head)
      } finally {
        client.release()
      }
    } catch (err) {
      throw unavailable('verify the chain', err)
    }
  }

  async tenants (): Promise<string[]> {
    try {
      return (await this.#pool.query<{ tenant: string }>('SELECT tenant FROM chain_heads ORDER BY tenant')).rows.map((r) => r.tenant)
    } catch (err) {
      throw unavailable('list tenants', err)
    }
  }

  async analysisStart (key: AnalysisKey): Promise<Date | undefined> {
    try {
      const row = (await this.#pool.query<{ window_since_ms: number }>(`SELECT window_since_ms FROM decisions WHERE kind = 'decision' AND tenant = $1 AND namespace = $2 AND rollout = $3 AND revision = $4 AND stage = $5
        ORDER BY seq LIMIT 1`, [key.tenant, key.namespace, key.rollout, key.revision, key.stage])).rows[0]
      return row === undefined ? undefined : new Date(row.window_since_ms)
    } catch (err) {
      throw unavailable('read the start of the analysis', err)
    }
  }

  async prune (cutoffMs: number, retentionDays: number): Promise<PruneReport[]> {
    try {
      const reports: PruneReport[] = []
      for (const tenant of await this.tenants()) {
        const report = await this.#locked(tenant, async (client): Promise<PruneReport | undefined> => {
          const last = (await client.query<{ seq: number, hash: string, time_ms: number }>('SELECT seq, hash, time_ms FROM decisions WHERE tenant = $1 AND time_ms < $2 ORDER BY seq DESC LIMIT 1', [tenant, cutoffMs])).rows[0]
          const head = await this.#head(client, tenant)
          if (last === undefined || head === undefined) return undefined
          const { id, ms } = this.#ids.next(this.#now())
          const anchor = nextAnchor(tenant, head, last, retentionDays, id, ms)
          await this.#insert(client, anchor)
          const pruned = (await client.query('DELETE FROM decisions WHERE tenant = $1 AND seq <= $2', [tenant, last.seq])).rowCount ?? 0
          return { tenant, pruned, anchorSeq: anchor.seq, prunedThroughSeq: last.seq }
        })
        if (report !== undefined) reports.push(report)
      }
      return reports
    } catch (err) {
      throw unavailable('prune old records', err)
    }
  }

  async close (): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end()
  }
}
