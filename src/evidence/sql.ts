/**
 * What the two stores share: the schema migrations (one list, each in both dialects) and the
 * list query. A migration is never edited once released; a change is a new version.
 */
import { fromRow, type DecisionRecord, type RecordRow } from './record.js'
import type { DecisionFilter, ListOptions, Page } from './store.js'

export interface Migration { version: number, sqlite: string, postgres: string }

const COLUMNS = `
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  time_ms BIGINT NOT NULL,
  namespace TEXT NOT NULL,
  rollout TEXT NOT NULL,
  revision TEXT NOT NULL,
  stage TEXT NOT NULL,
  verdict TEXT NOT NULL,
  score DOUBLE PRECISION,
  window_since_ms BIGINT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  body TEXT NOT NULL,
  UNIQUE (tenant, seq)`

const INDEXES = `
CREATE INDEX decisions_analysis ON decisions (tenant, rollout, namespace, revision, stage, seq);
CREATE INDEX decisions_time ON decisions (time_ms);`

const LEDGER_TABLES = `CREATE TABLE cordum_jobs (
  tenant TEXT NOT NULL,
  job_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_us BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  PRIMARY KEY (tenant, job_id));
CREATE INDEX cordum_jobs_agent ON cordum_jobs (tenant, agent_id, updated_us);
CREATE INDEX cordum_jobs_updated ON cordum_jobs (updated_us);
CREATE TABLE cordum_job_coverage (tenant TEXT NOT NULL, from_us BIGINT NOT NULL, until_us BIGINT NOT NULL);
CREATE INDEX cordum_job_coverage_tenant ON cordum_job_coverage (tenant, until_us);`

/** Upsert of one ledger job: a row changes only for a newer (or the same) updated_us. */
export const LEDGER_UPSERT_SET = `ON CONFLICT (tenant, job_id) DO UPDATE SET agent_id = excluded.agent_id, topic = excluded.topic,
  state = excluded.state, updated_us = excluded.updated_us, attempts = excluded.attempts WHERE excluded.updated_us >= cordum_jobs.updated_us`

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    sqlite: `CREATE TABLE decisions (${COLUMNS});${INDEXES}
CREATE TABLE chain_heads (tenant TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);`,
    postgres: `CREATE TABLE decisions (${COLUMNS});${INDEXES}
CREATE TABLE chain_heads (tenant TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);`,
  },
  {
    // The canary's agent_id as a column, for the `canary` and `agent` filters; filled in from
    // the hashed body of the records already kept (the body itself is not touched).
    version: 2,
    sqlite: `ALTER TABLE decisions ADD COLUMN canary TEXT NOT NULL DEFAULT '';
UPDATE decisions SET canary = COALESCE(json_extract(body, '$.canary'), '') WHERE kind = 'decision';
CREATE INDEX decisions_canary ON decisions (canary, id);`,
    postgres: `ALTER TABLE decisions ADD COLUMN canary TEXT NOT NULL DEFAULT '';
UPDATE decisions SET canary = COALESCE(body::jsonb ->> 'canary', '') WHERE kind = 'decision';
CREATE INDEX decisions_canary ON decisions (canary, id);`,
  },
  {
    // The job ledger (src/sources/cordum/ledger.ts): each Cordum job once by id with its newest
    // state, and the stretches of time in which every job was seen.
    version: 3,
    sqlite: LEDGER_TABLES,
    postgres: LEDGER_TABLES,
  },
]

/**
 * One analysis's decision records (tenant, namespace, rollout, revision, stage: five
 * parameters), and how each one's window was chosen (records from before the rule was kept
 * count as `default`). Only records asked in Argo's form (rule other than `request`) start or
 * extend an analysis: an explicit `since` judges its own request only.
 */
export const ANALYSIS_WHERE_SQLITE = 'kind = \'decision\' AND tenant = ? AND namespace = ? AND rollout = ? AND revision = ? AND stage = ?'
export const ANALYSIS_WHERE_POSTGRES = 'kind = \'decision\' AND tenant = $1 AND namespace = $2 AND rollout = $3 AND revision = $4 AND stage = $5'
export const SQLITE_RULE = 'COALESCE(json_extract(body, \'$.request.windowRule\'), \'default\')'
export const POSTGRES_RULE = 'COALESCE(body::jsonb #>> \'{request,windowRule}\', \'default\')'

/** The list query with placeholders from `p` (`?` for SQLite, `$n` for PostgreSQL); one row more than the limit tells whether a next page exists. */
export function listQuery (filter: DecisionFilter, opts: ListOptions, p: (n: number) => string): { sql: string, params: unknown[] } {
  const where: string[] = ['kind = \'decision\'']
  const params: unknown[] = []
  const add = (clause: (ph: string) => string, value: unknown): void => {
    params.push(value)
    where.push(clause(p(params.length)))
  }
  if (filter.tenants !== undefined) {
    if (filter.tenants.length === 0) where.push('1 = 0')
    else where.push(`tenant IN (${filter.tenants.map((t) => { params.push(t); return p(params.length) }).join(', ')})`)
  }
  for (const key of ['namespace', 'rollout', 'revision', 'stage', 'verdict', 'canary'] as const) {
    const v = filter[key]
    if (v !== undefined) add((ph) => `${key} = ${ph}`, v)
  }
  // An agent's canaries are `<agent>-<pod template hash>` (a hash has no dash), or the bare
  // name. substr compares exactly where LIKE would read _ and % as patterns (and SQLite's
  // ignores case); the rest after the prefix may hold no dash, so `support` is not
  // `support-agent`.
  if (filter.agent !== undefined) {
    const prefix = `${filter.agent}-`
    // One parameter per placeholder, in order: SQLite's `?` are positional.
    const ph = (value: unknown): string => { params.push(value); return p(params.length) }
    where.push(`(canary = ${ph(filter.agent)} OR (substr(canary, 1, ${ph(prefix.length)}) = ${ph(prefix)} AND substr(canary, ${ph(prefix.length + 1)}) <> '' AND substr(canary, ${ph(prefix.length + 1)}) NOT LIKE '%-%'))`)
  }
  if (filter.sinceMs !== undefined) add((ph) => `time_ms >= ${ph}`, filter.sinceMs)
  if (filter.untilMs !== undefined) add((ph) => `time_ms <= ${ph}`, filter.untilMs)
  if (opts.cursor !== undefined) add((ph) => `id ${opts.order === 'desc' ? '<' : '>'} ${ph}`, opts.cursor)
  params.push(opts.limit + 1)
  return { sql: `SELECT * FROM decisions WHERE ${where.join(' AND ')} ORDER BY id ${opts.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${p(params.length)}`, params }
}

/** The page a list query's rows make: at most `limit` records, and a cursor when the extra row came back. */
export function listPage (rows: RecordRow[], opts: ListOptions): Page {
  const items = rows.slice(0, opts.limit).map((r) => fromRow(r) as DecisionRecord)
  return { items, nextCursor: rows.length > opts.limit ? (items[items.length - 1] as DecisionRecord).id : null }
}
