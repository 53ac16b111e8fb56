/**
 * What the gate's Cordum key must be allowed to read, signal by signal, and a probe that asks
 * Cordum which of those reads it refuses: one small GET (`limit=1`) per endpoint, a 403 meaning
 * refused. Roles and permissions are Cordum's built-in RBAC (research notes, cordum-api.md
 * section 4): a `viewer` key reads the jobs list and the policy decision log; the approvals
 * queue and the DLQ need role `admin`.
 */
import type { GateError } from '../../errors.js'
import { isForbidden, type CallContext, type CordumClient } from './client.js'

export interface CordumRead {
  /** The route read, as the upstream metrics label it. */
  endpoint: string
  /** The least built-in Cordum role that may read it. */
  role: 'viewer' | 'admin'
  /** The RBAC permission Cordum checks (besides the role, where RBAC is entitled). */
  permission: string
  /** The signals that cannot be measured without it. */
  signals: readonly string[]
}

/** Every read behind Cordum's signals (feeds.ts and source.ts make them). */
export const CORDUM_READS: readonly CordumRead[] = [
  { endpoint: '/api/v1/governance/decisions', role: 'viewer', permission: 'governance.read', signals: ['policy_deny_rate'] },
  { endpoint: '/api/v1/jobs', role: 'viewer', permission: 'jobs.read', signals: ['job_failure_rate', 'schema_violation_rate', 'overload_rate'] },
  { endpoint: '/api/v1/approvals', role: 'admin', permission: 'jobs.approve', signals: ['approval_backlog'] },
  { endpoint: '/api/v1/dlq/page', role: 'admin', permission: 'dlq.read', signals: ['schema_violation_rate', 'overload_rate'] },
]

/** A read Cordum refused, with what it answered. */
export interface Refusal { read: CordumRead, reason: string }

/** The reads that the named signals need. */
export function readsFor (signals: Iterable<string>): CordumRead[] {
  const wanted = new Set(signals)
  return CORDUM_READS.filter((r) => r.signals.some((s) => wanted.has(s)))
}

/**
 * Asks Cordum for each read, concurrently, in `tenant`. Resolves with the refused ones; throws
 * the first failure that is not a 403 (Cordum down, a rejected key): then nothing is known.
 */
export async function refusedReads (client: CordumClient, tenant: string, reads: readonly CordumRead[], ctx: CallContext): Promise<Refusal[]> {
  const outcomes = await Promise.all(reads.map(async (read) => {
    try {
      await client.getJson(read.endpoint, { limit: 1 }, tenant, ctx)
      return undefined
    } catch (err) {
      if (isForbidden(err)) return { read, reason: (err as GateError).message }
      throw err
    }
  }))
  return outcomes.filter((o) => o !== undefined)
}
