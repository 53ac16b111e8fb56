/**
 * Deterministic history of a few agent versions, as Cordum and the agents would export it:
 * Prometheus counters and histograms (written as OpenMetrics for `promtool tsdb
 * create-blocks-from openmetrics`) and Cordum scheduler log lines (pushed to Loki). The same
 * generator gives the exact counts over any window, so a test can judge them directly and
 * compare with what the gate reads back from the servers.
 *
 * Time runs in whole minutes: minute i is the sample time HISTORY_START + i min, and the jobs
 * and requests "of minute i" happen in the minute before it. Log lines sit strictly inside
 * their minute, never on a boundary, so (since, until] and [since, until) count the same.
 */
import type { Observations, RateArm, SignalObservation } from '../../src/gate/observations.js'

export const HISTORY_END = Date.UTC(2026, 10, 26, 12, 0, 0)
export const HISTORY_START = HISTORY_END - 8 * 3600_000
const MINUTE = 60_000
export const MINUTES = (HISTORY_END - HISTORY_START) / MINUTE

export interface ArmProfile {
  /** The arm's id (the agent_id the templates send): topic job.support.<id>, label agent_id. */
  hash: string
  jobsPerMinute: number
  /** Every Nth job is denied by policy (0: never). */
  denyEvery?: number
  /** Every Nth job fails (offset 1), times out (offset 3), has its output quarantined (offset 2). */
  failEvery?: number
  timeoutEvery?: number
  quarantineEvery?: number
  requestsPerMinute: number
  /** Request latencies in seconds, cycled. */
  latency: number[]
  /** Scheduling attempts refused for overload per minute, by minute index range [from, to). */
  overload?: { from: number, to: number, perMinute: number }[]
}

const FAST = [...Array(20).fill(0.05), ...Array(17).fill(0.2), 0.4, 0.4, 0.8] as number[]
const SLOW = [...Array(10).fill(0.3), ...Array(26).fill(1.5), 3, 3, 4, 4.5] as number[]

export const BASELINE: ArmProfile = { hash: 'stable', jobsPerMinute: 20, denyEvery: 200, failEvery: 100, timeoutEvery: 400, requestsPerMinute: 20, latency: FAST }

/** Canary versions, each with the story it tells. */
export const CANARIES: Record<string, ArmProfile> = {
  healthy: { hash: 'healthy', jobsPerMinute: 10, denyEvery: 200, failEvery: 100, requestsPerMinute: 10, latency: FAST },
  'deny-spike': { hash: 'deny-spike', jobsPerMinute: 10, denyEvery: 3, failEvery: 100, requestsPerMinute: 10, latency: FAST },
  failing: { hash: 'failing', jobsPerMinute: 10, denyEvery: 200, failEvery: 2, requestsPerMinute: 10, latency: FAST },
  slow: { hash: 'slow', jobsPerMinute: 10, denyEvery: 200, failEvery: 100, requestsPerMinute: 10, latency: SLOW },
  'too-new': { hash: 'too-new', jobsPerMinute: 0.1, requestsPerMinute: 0.1, latency: FAST },
  quarantining: { hash: 'quarantining', jobsPerMinute: 10, quarantineEvery: 8, requestsPerMinute: 10, latency: FAST },
  // Overload refusals in the last 25 minutes (5 whole sub-intervals): sustained.
  overloaded: { hash: 'overloaded', jobsPerMinute: 10, denyEvery: 200, failEvery: 100, requestsPerMinute: 10, latency: FAST, overload: [{ from: MINUTES - 24, to: MINUTES + 1, perMinute: 6 }] },
  // One 5-minute burst an hour before the end: a blip, not sustained.
  blip: { hash: 'blip', jobsPerMinute: 10, denyEvery: 200, failEvery: 100, requestsPerMinute: 10, latency: FAST, overload: [{ from: MINUTES - 64, to: MINUTES - 59, perMinute: 2 }] },
}

/** Whole events of a rate r (per minute) that happen in minute i: floor(i r) - floor((i - 1) r). */
function perMinute (rate: number, i: number): number {
  return i <= 0 ? 0 : Math.floor(i * rate + 1e-9) - Math.floor((i - 1) * rate + 1e-9)
}

type JobStatus = 'denied' | 'JOB_STATUS_SUCCEEDED' | 'JOB_STATUS_FAILED' | 'JOB_STATUS_TIMEOUT' | 'OUTPUT_QUARANTINED'

function jobStatus (p: ArmProfile, j: number): JobStatus {
  if (p.denyEvery !== undefined && j % p.denyEvery === 0) return 'denied'
  if (p.failEvery !== undefined && j % p.failEvery === 1 % p.failEvery) return 'JOB_STATUS_FAILED'
  if (p.quarantineEvery !== undefined && j % p.quarantineEvery === 2 % p.quarantineEvery) return 'OUTPUT_QUARANTINED'
  if (p.timeoutEvery !== undefined && j % p.timeoutEvery === 3 % p.timeoutEvery) return 'JOB_STATUS_TIMEOUT'
  return 'JOB_STATUS_SUCCEEDED'
}

export const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, Infinity]

/** Cumulative counters of one arm at the end of each minute 0..MINUTES. */
export interface ArmCounters {
  received: number[]
  byStatus: Record<JobStatus, number[]>
  requests: number[]
  /** Cumulative requests at or under each LATENCY_BUCKETS bound. */
  buckets: number[][]
  latencySum: number[]
  /** Scheduler log lines: dispatch attempts and overload refusals. */
  attempts: number[]
  overloaded: number[]
}

const STATUSES: JobStatus[] = ['denied', 'JOB_STATUS_SUCCEEDED', 'JOB_STATUS_FAILED', 'JOB_STATUS_TIMEOUT', 'OUTPUT_QUARANTINED']

export function overloadAt (p: ArmProfile, i: number): number {
  return (p.overload ?? []).filter((o) => i >= o.from && i < o.to).reduce((s, o) => s + o.perMinute, 0)
}

export function counters (p: ArmProfile): ArmCounters {
  const c: ArmCounters = {
    received: [0],
    byStatus: Object.fromEntries(STATUSES.map((s) => [s, [0]])) as Record<JobStatus, number[]>,
    requests: [0],
    buckets: LATENCY_BUCKETS.map(() => [0]),
    latencySum: [0],
    attempts: [0],
    overloaded: [0],
  }
  let job = 0
  let request = 0
  for (let i = 1; i <= MINUTES; i++) {
    const jobs = perMinute(p.jobsPerMinute, i)
    const status = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>
    for (let n = 0; n < jobs; n++) status[jobStatus(p, ++job)]++
    c.received.push((c.received[i - 1] as number) + jobs)
    for (const s of STATUSES) c.byStatus[s].push((c.byStatus[s][i - 1] as number) + status[s])
    const reqs = perMinute(p.requestsPerMinute, i)
    const inBucket = LATENCY_BUCKETS.map(() => 0)
    let sum = 0
    for (let n = 0; n < reqs; n++) {
      const l = p.latency[request++ % p.latency.length] as number
      sum += l
      LATENCY_BUCKETS.forEach((le, b) => { if (l <= le) inBucket[b] = (inBucket[b] as number) + 1 })
    }
    c.requests.push((c.requests[i - 1] as number) + reqs)
    LATENCY_BUCKETS.forEach((_, b) => c.buckets[b]?.push((c.buckets[b]?.[i - 1] as number) + (inBucket[b] as number)))
    c.latencySum.push((c.latencySum[i - 1] as number) + sum)
    // Every job not denied is dispatched once; each overload refusal is one more attempt.
    const refused = overloadAt(p, i)
    c.attempts.push((c.attempts[i - 1] as number) + jobs - status.denied + refused)
    c.overloaded.push((c.overloaded[i - 1] as number) + refused)
  }
  return c
}

/** The global approval queue depth at minute i: 0-4 and empty every 5 minutes, except an incident. */
export function queueDepth (i: number): number {
  // Incident: 40 approvals waiting from 5 h to 4 h before the end; empty exactly at its start.
  if (i > MINUTES - 300 && i <= MINUTES - 240) return 40
  return i % 5
}

export function minuteOf (ms: number): number {
  const i = (ms - HISTORY_START) / MINUTE
  if (!Number.isInteger(i) || i < 0 || i > MINUTES) throw new Error(`${new Date(ms).toISOString()} is not a whole minute of the history`)
  return i
}

function delta (series: number[], since: number, until: number): number {
  return (series[minuteOf(until)] as number) - (series[minuteOf(since)] as number)
}

/** Exact rate counts of one arm for each signal of the example policy, over (since, until]. */
export function armCounts (c: ArmCounters, since: number, until: number): Record<string, RateArm> {
  const d = (s: number[]): number => delta(s, since, until)
  const ok = d(c.byStatus.JOB_STATUS_SUCCEEDED)
  const failed = d(c.byStatus.JOB_STATUS_FAILED)
  const timedOut = d(c.byStatus.JOB_STATUS_TIMEOUT)
  const quarantined = d(c.byStatus.OUTPUT_QUARANTINED)
  return {
    policy_deny_rate: { n: d(c.received), k: d(c.byStatus.denied) },
    job_failure_rate: { n: ok + failed + timedOut, k: failed + timedOut },
    schema_violation_rate: { n: ok + failed + timedOut + quarantined, k: quarantined },
    overload_rate: { n: d(c.attempts), k: d(c.overloaded) },
  }
}

/**
 * p-quantile of the requests in (since, until] the way PromQL's histogram_quantile reads
 * cumulative buckets: linear interpolation inside the bucket holding the rank, the lowest
 * bucket starting at 0, and the highest finite bound when the rank falls in +Inf.
 */
export function histogramQuantile (q: number, c: ArmCounters, since: number, until: number): number | undefined {
  const cum = c.buckets.map((b) => delta(b, since, until))
  const total = cum[cum.length - 1] as number
  if (total === 0) return undefined
  const rank = q * total
  const b = cum.findIndex((v) => v >= rank)
  const upper = LATENCY_BUCKETS[b] as number
  if (upper === Infinity) return LATENCY_BUCKETS[LATENCY_BUCKETS.length - 2]
  const lower = b === 0 ? 0 : LATENCY_BUCKETS[b - 1] as number
  const below = b === 0 ? 0 : cum[b - 1] as number
  return lower + (upper - lower) * (rank - below) / ((cum[b] as number) - below)
}

/** Sub-interval overload counts, as the gate buckets them: whole widths inside the window, clock-aligned. */
export function overloadBuckets (c: ArmCounters, since: number, until: number, widthMinutes: number): { start: string, n: number, k: number }[] {
  const w = widthMinutes * MINUTE
  const out = []
  for (let s = Math.ceil(since / w) * w; s + w <= Math.floor(until / w) * w; s += w) {
    out.push({ start: new Date(s).toISOString(), n: delta(c.attempts, s, s + w), k: delta(c.overloaded, s, s + w) })
  }
  return out
}

/** Approval backlog read at `until`: the depth then, and the time since the queue was last empty. */
export function backlogAt (since: number, until: number): { pending: number, oldestAgeSeconds: number } | undefined {
  const last = minuteOf(until)
  for (let i = last; i >= minuteOf(since); i--) {
    if (queueDepth(i) === 0) return { pending: queueDepth(last), oldestAgeSeconds: (last - i) * 60 }
  }
  return undefined
}

/** Everything the example policy's signals would observe for a canary against the baseline. */
export function expectedObservations (canary: ArmProfile, since: number, until: number, widthMinutes = 5): Observations {
  const cc = counters(canary)
  const bc = counters(BASELINE)
  const c = armCounts(cc, since, until)
  const b = armCounts(bc, since, until)
  const signals: Record<string, SignalObservation> = {}
  for (const name of Object.keys(c)) signals[name] = { canary: c[name] as RateArm, baseline: b[name] as RateArm }
  ;(signals.overload_rate?.canary as RateArm).buckets = overloadBuckets(cc, since, until, widthMinutes)
  ;(signals.overload_rate?.baseline as RateArm).buckets = overloadBuckets(bc, since, until, widthMinutes)
  const backlog = backlogAt(since, until)
  signals.approval_backlog = backlog === undefined ? { unavailable: { code: 'GATE_ERR_UPSTREAM_QUERY', reason: 'queue never empty' } } : { canary: backlog, baseline: backlog }
  const latency: SignalObservation = {}
  const cq = histogramQuantile(0.95, cc, since, until)
  const bq = histogramQuantile(0.95, bc, since, until)
  latency.canary = cq === undefined ? { seconds: 0, n: 0 } : { seconds: cq, n: delta(cc.requests, since, until) }
  if (bq !== undefined) latency.baseline = { seconds: bq, n: delta(bc.requests, since, until) }
  signals.latency_p95 = latency
  return { window: { since: new Date(since).toISOString(), until: new Date(until).toISOString() }, signals }
}

function labels (l: Record<string, string>): string {
  return `{${Object.entries(l).map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`).join(',')}}`
}

/** One counter or gauge series, from its first non-zero value on (as client libraries create them). */
function series (name: string, l: Record<string, string>, values: number[], always = false): string {
  const first = always ? 0 : values.findIndex((v) => v !== 0)
  if (first === -1) return ''
  let out = ''
  for (let i = first; i < values.length; i++) out += `${name}${labels(l)} ${values[i]} ${(HISTORY_START + i * MINUTE) / 1000}\n`
  return out
}

/** OpenMetrics text for promtool: Cordum's scheduler counters and approval gauge, the agents' histograms. */
export function openMetrics (arms: ArmProfile[], extra = ''): string {
  const all = arms.map((p) => ({ p, c: counters(p) }))
  let out = '# HELP cordum_scheduler_jobs_received Jobs received by the scheduler.\n# TYPE cordum_scheduler_jobs_received counter\n'
  for (const { p, c } of all) out += series('cordum_scheduler_jobs_received_total', { topic: `job.support.${p.hash}` }, c.received)
  out += '# HELP cordum_scheduler_safety_denied Jobs denied at dispatch.\n# TYPE cordum_scheduler_safety_denied counter\n'
  for (const { p, c } of all) out += series('cordum_scheduler_safety_denied_total', { topic: `job.support.${p.hash}` }, c.byStatus.denied)
  out += '# HELP cordum_scheduler_jobs_completed Jobs finished, by status.\n# TYPE cordum_scheduler_jobs_completed counter\n'
  for (const { p, c } of all) {
    for (const s of STATUSES.filter((x) => x !== 'denied')) out += series('cordum_scheduler_jobs_completed_total', { topic: `job.support.${p.hash}`, status: s }, c.byStatus[s])
  }
  out += '# HELP agent_request_duration_seconds Agent request latency.\n# TYPE agent_request_duration_seconds histogram\n'
  for (const { p, c } of all) {
    const hash = { agent_id: p.hash }
    for (let i = 0; i <= MINUTES; i++) {
      const ts = (HISTORY_START + i * MINUTE) / 1000
      LATENCY_BUCKETS.forEach((le, b) => { out += `agent_request_duration_seconds_bucket${labels({ ...hash, le: le === Infinity ? '+Inf' : String(le) })} ${c.buckets[b]?.[i]} ${ts}\n` })
      out += `agent_request_duration_seconds_count${labels(hash)} ${c.requests[i]} ${ts}\n`
      out += `agent_request_duration_seconds_sum${labels(hash)} ${c.latencySum[i]} ${ts}\n`
    }
  }
  out += '# HELP cordum_approval_queue_depth Approvals waiting.\n# TYPE cordum_approval_queue_depth gauge\n'
  out += series('cordum_approval_queue_depth', { risk_tier: 'all' }, Array.from({ length: MINUTES + 1 }, (_, i) => queueDepth(i)), true)
  return `${out}${extra}# EOF\n`
}

/** Cordum scheduler log lines (slog JSON) per arm: one "dispatching job" per dispatched job, one "failed to pick subject" per refusal. */
export function schedulerLogs (arms: ArmProfile[]): { labels: Record<string, string>, values: [string, string][] } {
  const values: [string, string][] = []
  for (const p of arms) {
    const c = counters(p)
    const topic = `job.support.${p.hash}`
    for (let i = 1; i <= MINUTES; i++) {
      const dispatched = (c.attempts[i] as number) - (c.attempts[i - 1] as number) - ((c.overloaded[i] as number) - (c.overloaded[i - 1] as number))
      const refused = overloadAt(p, i)
      const base = HISTORY_START + (i - 1) * MINUTE
      for (let n = 0; n < dispatched + refused; n++) {
        const at = base + 1_000 + n * 250 // strictly inside the minute
        const line = n < dispatched
          ? { time: new Date(at).toISOString(), level: 'INFO', msg: 'dispatching job', component: 'scheduler', job_id: `${p.hash}-${i}-${n}`, subject: `worker.${p.hash}`, topic }
          : { time: new Date(at).toISOString(), level: 'ERROR', msg: 'failed to pick subject', component: 'scheduler', job_id: `${p.hash}-${i}-${n}`, topic, error: n % 2 === 0 ? 'pool_overloaded' : 'no_workers' }
        values.push([`${BigInt(at) * 1_000_000n}`, JSON.stringify(line)])
      }
    }
    // Noise the queries must not count: another component's lines naming the topic.
    values.push([`${BigInt(HISTORY_END - 90_000) * 1_000_000n}`, JSON.stringify({ level: 'WARN', msg: 'no pool mapping for topic, will retry', component: 'scheduler', topic, error: 'no_pool_mapping' })])
  }
  values.sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1))
  return { labels: { app: 'cordum-scheduler', pod: 'cordum-scheduler-0' }, values }
}
