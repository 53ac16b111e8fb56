/**
 * The evidence store seam: where decision records live. Two implementations pass one test
 * suite (test/evidence/store.test.ts): SQLite in DATA_DIR (one gate, the default) and
 * PostgreSQL (EVIDENCE_URL, several gate replicas sharing one chain per tenant).
 *
 * Appends to one tenant's chain are serialized by the store (a SQLite write transaction; a
 * PostgreSQL transaction holding an advisory lock on the tenant), and (tenant, seq) is unique,
 * so concurrent writers can never fork a chain: at worst one waits.
 */
import type { Head, VerifyReport } from './chain.js'
import type { AnalysisKey, ChainRecord, DecisionEntry, DecisionRecord } from './record.js'
import type { AnalysisStart, StepStart } from '../service/ports.js'
import type { LedgerStore } from '../sources/cordum/ledger.js'

export interface DecisionFilter {
  /** Only these tenants (a key bound to tenants); absent: every tenant. */
  tenants?: string[]
  namespace?: string
  rollout?: string
  revision?: string
  stage?: string
  verdict?: string
  /** The canary arm's agent_id, exactly. */
  canary?: string
  /** The agent whose canaries these are: agent_id `<agent>-<hash>` (a hash without a dash), or `<agent>` itself. */
  agent?: string
  /** Record time bounds, epoch ms, inclusive. */
  sinceMs?: number
  untilMs?: number
}

export interface ListOptions {
  limit: number
  /** The id of the last record of the previous page. */
  cursor?: string
  order: 'asc' | 'desc'
}

export interface Page {
  items: DecisionRecord[]
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null
}

export interface PruneReport {
  tenant: string
  /** Records deleted. */
  pruned: number
  /** The anchor record written before deleting them. */
  anchorSeq: number
  prunedThroughSeq: number
}

export interface EvidenceStore extends LedgerStore {
  /** `sqlite` or `postgres`. */
  readonly kind: string
  /** Where it is, for logs: a file path, or host/database (never a password). */
  readonly location: string
  /** Seals the entry into its tenant's chain and stores it; resolves once it is durable. */
  append (entry: DecisionEntry): Promise<DecisionRecord>
  get (id: string): Promise<ChainRecord | undefined>
  list (filter: DecisionFilter, opts: ListOptions): Promise<Page>
  /** Walks a tenant's chain and reports the first broken link; `anchors` are heads kept outside the database (chain.ts). */
  verify (tenant: string, anchors?: Head[]): Promise<VerifyReport>
  /** Every tenant with records or a chain head: read from the records too, so a deleted head row cannot hide a chain. */
  tenants (): Promise<string[]>
  /** Each tenant's chain head as the store keeps it. */
  heads (): Promise<Array<Head & { tenant: string }>>
  /** Whether a record's hash is right (an HMAC under the store's key for a keyed record). */
  hashOk (record: ChainRecord): boolean
  /** The window start (`request.since`) and rule of this analysis's first record asked in Argo's form (no `since`), if any. */
  analysisStart (key: AnalysisKey): Promise<AnalysisStart | undefined>
  /**
   * When the gate first heard of this rollout revision at this expected weight in Argo's form
   * (any stage), the same for every replica: the start of the step's traffic-split window.
   */
  stepStart (key: RolloutKey, weight: number): Promise<StepStart>
  /** Deletes records older than the cutoff, behind an anchor record per tenant (retention). */
  prune (cutoffMs: number, retentionDays: number): Promise<PruneReport[]>
  close (): Promise<void>
}

export const MAX_LIST_LIMIT = 200

/** Options both stores take. */
export interface StoreOptions {
  now?: () => number
  /** EVIDENCE_HMAC_KEY: new records are sealed with an HMAC under it, and keyed records checked with it. */
  key?: Buffer
}

/** A rollout revision: an analysis key without its stage (a weight's steps span stages). */
export type RolloutKey = Omit<AnalysisKey, 'stage'>

export type { AnalysisStart, StepStart }
