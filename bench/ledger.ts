/**
 * Bench group `ledger` (7a, 7c): the job ledger against a jobs list with Cordum's 1000-job cap
 * (test/helpers/jobs-list.ts, real loopback HTTP) and a clock advanced by the ledger's own
 * cadence, 200 jobs a minute in the tenant (a canary at 10%) and 40 in another for 3 hours.
 *
 * - 7a: job outcomes the ledger counted in the canary's 3 h window over the true number (target
 *   1.00), against what Cordum's list alone still holds at the window's end (the baseline).
 * - 7c: requests to Cordum's jobs list per tracked tenant per minute, at that cadence (one
 *   tenant's polls serve every canary in it).
 */
import { CordumClient } from '../src/sources/cordum/client.js'
import { countJobs, countJobsFromLedger } from '../src/sources/cordum/feeds.js'
import { JobLedger, MemoryLedgerStore } from '../src/sources/cordum/ledger.js'
import type { ObservationRequest } from '../src/sources/source.js'
import { jobsList, truth, type Traffic } from '../test/helpers/jobs-list.js'
import type { TimingRow } from './timings.js'

const START = Date.UTC(2026, 10, 26, 6, 0, 0)
const MIN = 60_000
const TRAFFIC: Traffic[] = [
  { tenant: 'default', agent: 'canary', perMinute: 20, failEvery: 50 },
  { tenant: 'default', agent: 'stable', perMinute: 180, failEvery: 100 },
  { tenant: 'other', agent: 'billing', perMinute: 40 },
]

export async function benchLedger (hours: number): Promise<{ rows: TimingRow[], details: Record<string, unknown> }> {
  const list = await jobsList(TRAFFIC, START)
  const client = new CordumClient({ url: list.url, maxRetries: 0 })
  const ledger = new JobLedger({ client, store: new MemoryLedgerStore(), now: () => list.now, background: false })
  const ctx = { signal: new AbortController().signal, deadline: Date.now() + 3_600_000 }
  try {
    const end = START + hours * 60 * MIN
    let polls = 0
    list.now = START + MIN
    await ledger.refresh('default', list.now, list.now, ctx)
    const first = list.requests
    while (list.now < end) {
      list.now = Math.min(end, list.now + (ledger.intervalMs('default') as number))
      await ledger.refresh('default', list.now, list.now, ctx)
      polls++
    }
    const since = START + 2 * MIN
    const until = end
    const req: ObservationRequest = { tenant: 'default', canary: 'canary', baseline: 'stable', since: new Date(since), until: new Date(until), subIntervalMinutes: 5, overloadReasonCodes: [] }
    const want = truth(TRAFFIC, START, 'canary', since, until, list.now).done
    const fromLedger = await countJobsFromLedger(ledger, req, ['canary', 'stable'], undefined, ctx)
    const c = fromLedger.arms.get('canary')
    const counted = (c?.succeeded ?? 0) + (c?.failed ?? 0)
    const walk = await countJobs(client, req, ['canary', 'stable'], undefined, ctx)
    const w = walk.arms.get('canary')
    const walked = (w?.succeeded ?? 0) + (w?.failed ?? 0)
    const minutes = (list.now - START) / MIN
    const perMinute = (list.requests - first) / minutes
    const ratio = counted / want
    return {
      rows: [
        { id: '7a', what: `job ledger: canary job outcomes counted / true in a ${hours} h window, 200 jobs/min, Cordum's 1000-job cap`, measured: `${counted}/${want} (coverage ${(fromLedger.coverage?.share ?? 0).toFixed(2)})`, baseline: `${walked}/${want} from Cordum's list alone`, ratio, target: '= 1.00', result: ratio === 1 && fromLedger.coverage?.share === 1 ? 'PASS' : 'FAIL' },
        { id: '7c', what: 'job ledger: requests to Cordum per tracked tenant per minute (every canary of the tenant shares them)', measured: `${perMinute.toFixed(2)} requests/min (${polls} polls)`, baseline: '-', ratio: undefined, target: '-', result: 'INFO' },
      ],
      details: { counted, want, walked, polls, requests: list.requests, perMinute, intervalMs: ledger.intervalMs('default') },
    }
  } finally {
    ledger.close()
    await client.close()
    await list.close()
  }
}
