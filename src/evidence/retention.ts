/**
 * Retention (EVIDENCE_RETENTION_DAYS): records older than the limit are pruned at start and
 * every hour, each tenant's behind an anchor record (see record.ts), so the chain that remains
 * still verifies. Several replicas may prune at once: the chain lock serializes them and the
 * second finds nothing left to prune.
 */
import type { EvidenceStore, PruneReport } from './store.js'

export interface RetentionLog {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export const PRUNE_EVERY_MS = 3_600_000

export function startRetention (store: EvidenceStore, days: number, log: RetentionLog, now: () => number = Date.now): { stop: () => void, run: () => Promise<PruneReport[]> } {
  const run = async (): Promise<PruneReport[]> => {
    try {
      const reports = await store.prune(now() - days * 86_400_000, days)
      for (const r of reports) log.info({ evidence: r }, `pruned ${r.pruned} decision records of tenant ${r.tenant} older than ${days} days behind anchor record ${r.anchorSeq}`)
      return reports
    } catch (err) {
      log.error({ err }, 'evidence retention failed; it runs again in an hour')
      return []
    }
  }
  const timer = setInterval(() => { void run() }, PRUNE_EVERY_MS)
  timer.unref()
  return { stop: () => clearInterval(timer), run }
}
