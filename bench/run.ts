/**
 * npm run bench: the performance benchmarks of docs/performance.md, each measured against a
 * baseline taken in the same run, printed as a table of ratio, target and PASS/FAIL; exits 1
 * when a target is missed (2 for a usage mistake or a benchmark that could not run).
 *
 *   npm run bench                 # the documented full run (sizes 10k, 100k, 1M per arm)
 *   npm run bench -- --quick      # small sizes and short runs: checks the harness, not the targets' figures
 *
 * Flags: --quick (implies --from-source), --sizes=a,b,c (b = 10 x a), --duration=S (seconds of
 * load per route for throughput, in alternating 2-second runs), --evaluations=N (warm
 * evaluations for RSS drift), --no-plugin, --from-source (run the gate through tsx instead of
 * building dist/), --only=GROUPS (some of scaling, coalescing, throughput, incremental, memory,
 * overload, warming, decoders, ledger, plugin, decisions), --evidence=none (gates keep no decision
 * records), --json=PATH (default .bench/results.json). The overload and decoders groups
 * (bench/timings.ts) measure what the tests no longer time; decisions (bench/decisions.ts) is
 * the rollout simulator on issue 15's targets (no sandbox, no gate process).
 *
 * The sandbox (bench profile, src/sandbox/bench.ts) runs in its own process; every gate under
 * measurement is a separate `agent-canary-gate serve` process, started fresh where the cache
 * must be cold; autocannon and the timed requests run here. Upstream requests and bytes are
 * counted by the sandbox, not reported by the gate.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { request } from 'undici'
import type { BenchProfile, BenchSegment } from '../src/sandbox/bench.js'
import { benchDecisions } from './decisions.js'
import { benchLedger } from './ledger.js'
import { benchDecoders, benchOverload } from './timings.js'
import { buildDist, cpuMsOf, ROOT, score, scorePath, startGate, startSandboxProcess, upstreamDelta, type GateBuild, type GateProc, type SandboxProc, type Score, type ScoreAsk } from './lib.js'

type Outcome = 'PASS' | 'FAIL' | 'INFO'

interface Row {
  id: string
  what: string
  measured: string
  baseline: string
  ratio: number | undefined
  target: string
  result: Outcome
  note?: string
}

const H = 3600_000
const GROUPS = ['scaling', 'coalescing', 'throughput', 'incremental', 'memory', 'overload', 'warming', 'decoders', 'ledger', 'plugin', 'decisions']
/** The groups that measure a gate against the sandbox (the others need neither). */
const SANDBOX_GROUPS = ['scaling', 'coalescing', 'throughput', 'incremental', 'memory', 'overload', 'warming']
const STAGE = 'canary-1'

function usage (message: string): never {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(2)
}

function options (): {
  only: Set<string>
  gateEnv: Record<string, string>
  build: GateBuild
  quick: boolean
  sizes: number[]
  duration: number
  evaluations: number
  plugin: boolean
  json: string
  burst: number
  incremental: number
} {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      duration: { type: 'string' },
      evaluations: { type: 'string' },
      'no-plugin': { type: 'boolean', default: false },
      'from-source': { type: 'boolean', default: false },
      only: { type: 'string' },
      evidence: { type: 'string' },
      json: { type: 'string' },
    },
  })
  const quick = values.quick === true
  const sizes = (values.sizes ?? (quick ? '1000,10000,20000' : '10000,100000,1000000')).split(',').map(Number)
  if (sizes.length !== 3 || sizes.some((n) => !Number.isInteger(n) || n < 100 || n > 3_000_000)) usage('--sizes needs three whole numbers from 100 to 3000000, e.g. 10000,100000,1000000')
  if (sizes[1] !== 10 * (sizes[0] as number)) usage('--sizes: the second size must be ten times the first (the 10 x 10k comparison)')
  const duration = Number(values.duration ?? (quick ? 2 : 20))
  if (!Number.isFinite(duration) || duration < 2) usage('--duration must be a number of seconds >= 2')
  const evaluations = Number(values.evaluations ?? (quick ? 500 : 10_000))
  if (!Number.isInteger(evaluations) || evaluations < 100 || evaluations % 10 !== 0) usage('--evaluations must be a whole number >= 100, a multiple of 10')
  const only = new Set((values.only ?? GROUPS.join(',')).split(',').map((g) => g.trim()))
  for (const g of only) if (!GROUPS.includes(g)) usage(`--only takes a comma-separated list of ${GROUPS.join(', ')}; got '${g}'`)
  if (values.evidence !== undefined && values.evidence !== 'none') usage("--evidence takes only 'none' (gates keep no decision records)")
  const gateEnv: Record<string, string> = values.evidence === 'none' ? { EVIDENCE_URL: 'none' } : {}
  const hasGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0
  return { only, gateEnv, build: quick || values['from-source'] === true ? 'source' : 'dist', quick, sizes, duration, evaluations, plugin: !quick && values['no-plugin'] !== true && hasGo, json: values.json ?? join(ROOT, '.bench', 'results.json'), burst: 200, incremental: quick ? 3_000 : 30_000 }
}

const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`)
const fmtBytes = (b: number): string => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`)
const fmtN = (n: number): string => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n))

function log (line: string): void {
  process.stdout.write(`${line}\n`)
}

/** The data: a warm-up segment, one segment per size, one for the growing window; all hours in the past. */
function layout (sizes: number[], incremental: number): { profile: BenchProfile, warm: BenchSegment, sized: BenchSegment[], growing: BenchSegment } {
  const base = Math.floor(Date.now() / H) * H - 16 * H
  const warm = { startMs: base, endMs: base + 10 * 60_000, perArm: 1000 }
  const sized = sizes.map((n, i) => ({ startMs: base + (1 + 2 * i) * H, endMs: base + (2 + 2 * i) * H, perArm: n }))
  const growing = { startMs: base + 8 * H, endMs: base + 14 * H, perArm: incremental }
  return { profile: { segments: [warm, ...sized, growing] }, warm, sized, growing }
}

/**
 * The realistic profile of benchmarks 1 and 4: a segment with a jobs list of the newest 1000
 * jobs, as Cordum keeps, and a warm-up segment of 500 jobs per arm (all of them on that list
 * when the sandbox's clock is at its end).
 */
function cappedProfile (seg: BenchSegment): BenchProfile {
  const warm = { startMs: seg.startMs - 2 * H, endMs: seg.startMs - 2 * H + 10 * 60_000, perArm: CORDUM_JOBS_CAP / 2 }
  return { segments: [warm, seg], jobsCap: CORDUM_JOBS_CAP }
}

const whole = (s: BenchSegment): ScoreAsk => ({ stage: STAGE, since: s.startMs, until: s.endMs })

/**
 * What a benchmark reads: `both` is stage canary-1 (decision log, jobs list, approvals), the
 * issue's "decisions and jobs"; `decisions` is the bench gates file's stage bench-decisions
 * (the decision log alone, the list Cordum leaves unbounded).
 */
type Lists = 'both' | 'decisions'
const stageOf = (lists: Lists): string => (lists === 'both' ? STAGE : 'bench-decisions')
const listsText = (lists: Lists, n: number): string => (lists === 'both' ? `${fmtN(n)} decisions + ${fmtN(n)} jobs per arm` : `${fmtN(n)} decisions per arm`)
const eventsOf = (lists: Lists, perArm: number): number => (lists === 'both' ? 4 : 2) * perArm

/** A score must be a 200 that counted every decision (and job) of both arms. */
function checkCounts (s: Score, perArm: number, what: string, lists: Lists = 'both'): string | undefined {
  if (s.status !== 200) return `${what}: HTTP ${s.status} ${s.error ?? ''}`
  const got = lists === 'both' ? [s.canaryDecisions, s.baselineDecisions, s.canaryJobs, s.baselineJobs] : [s.canaryDecisions, s.baselineDecisions]
  if (got.some((n) => n !== perArm)) return `${what}: counted decisions canary/baseline ${String(got[0])}/${String(got[1])}${lists === 'both' ? `, jobs ${String(got[2])}/${String(got[3])}` : ''}, expected ${perArm} each`
  return undefined
}

/** A 503 the gate sheds with (event-loop pressure, or MAX_SCORES_IN_FLIGHT reached): asked again, never counted as an answer. */
const SHED = /under pressure|MAX_SCORES_IN_FLIGHT/

let build: GateBuild = 'dist'
let gateEnv: Record<string, string> = {}
/**
 * Gates reading the main sandbox, whose jobs list is uncapped (a million jobs per arm, unlike
 * Cordum's 1000), run with CORDUM_MAX_PAGES raised to that list's length in pages plus ten;
 * gates reading the realistic (capped) sandbox keep the production default.
 */
let uncappedEnv: Record<string, string> = {}
const JOBS_PAGE = 500
const pagesFor = (perArm: number): number => Math.ceil((2 * perArm) / JOBS_PAGE) + 10
/** Cordum's jobs list: the newest 1000 jobs of all tenants (research/cordum-api.md). */
const CORDUM_JOBS_CAP = 1000

/**
 * A score, asked again (up to 10 times, 1 s apart) while the gate sheds it with 503 "under
 * pressure", as Argo would: on this shared machine a gate's event-loop samples can spike just
 * after it starts. The timing `ms` is that of the answered request.
 */
async function answered (gateUrl: string, ask: ScoreAsk): Promise<{ s: Score, ms: number, shed: number }> {
  let shed = 0
  for (;;) {
    const t0 = performance.now()
    const s = await score(gateUrl, ask)
    const ms = performance.now() - t0
    if (!(s.status === 503 && SHED.test(s.error ?? '')) || shed >= 10) return { s, ms, shed }
    shed++
    await sleep(1_000)
  }
}

async function warmGate (sandbox: SandboxProc, warm: BenchSegment, env: Record<string, string> = uncappedEnv): Promise<GateProc> {
  const gate = await startGate(sandbox.url, build, { ...gateEnv, ...env })
  // Warm the gate's code (JIT) on its own segment so "cold" below means a cold cache only.
  const { s: w } = await answered(gate.url, whole(warm))
  const bad = checkCounts(w, warm.perArm, 'warm-up')
  if (bad !== undefined) { await gate.close(); throw new Error(bad) }
  return gate
}

const median = (xs: number[]): number => { const a = [...xs].sort((x, y) => x - y); return a[Math.floor(a.length / 2)] as number }

interface Cold {
  shed: number
  tries?: number[]
  gateCpuMs: number
  sandboxCpuMs: number
  lists: Lists
  perArm: number
  ms: number
  requests: number
  bytes: number
  peakRssMb: number
  rssStartMb: number
  byPath: Record<string, number>
  error?: string
}

/**
 * One cold evaluation (nothing of this window cached) at a fresh, JIT-warmed gate, or in quick
 * mode at `shared` (each size is its own window, so its cache is cold there too; only the peak
 * RSS is then the process's so far). A refused evaluation is returned with its error, not thrown.
 */
async function coldEvaluation (sandbox: SandboxProc, warm: BenchSegment, seg: BenchSegment, lists: Lists, shared?: GateProc): Promise<Cold> {
  const gate = shared ?? await warmGate(sandbox, warm)
  try {
    const rssStartMb = gate.memory().rssMb
    const before = await sandbox.stats()
    const cpu0 = [gate.cpuMs(), cpuMsOf(sandbox.pid)]
    const { s, ms, shed } = await answered(gate.url, { ...whole(seg), stage: stageOf(lists) })
    const gateCpuMs = gate.cpuMs() - (cpu0[0] as number)
    const sandboxCpuMs = cpuMsOf(sandbox.pid) - (cpu0[1] as number)
    const bad = checkCounts(s, seg.perArm, listsText(lists, seg.perArm), lists)
    const d = upstreamDelta(before, await sandbox.stats())
    const c: Cold = { shed, lists, perArm: seg.perArm, ms, gateCpuMs, sandboxCpuMs, requests: d.requests, bytes: d.bytes, byPath: d.byPath, peakRssMb: gate.memory().peakRssMb, rssStartMb }
    if (bad !== undefined) c.error = bad
    return c
  } finally {
    if (shared === undefined) await gate.close()
  }
}

/** Rows 3a/3b (and 3c, 5a) for one series of cold evaluations. */
function scalingRows (cold: Cold[], tag: string): Row[] {
  const [small, mid, large] = cold as [Cold, Cold, Cold]
  const lists = small.lists
  const what = lists === 'both' ? 'decisions + jobs' : 'decision log'
  const perEvent = (c: Cold): number => c.ms * 1000 / eventsOf(lists, c.perArm)
  const failed = cold.filter((c) => c.error !== undefined)
  const note = failed.length > 0 ? { note: failed.map((c) => c.error).join('; ') } : {}
  const ok = (c: Cold): boolean => c.error === undefined
  const rows: Row[] = []
  const scale = perEvent(large) / perEvent(small)
  rows.push({ id: `3a${tag}`, what: `scaling, ${what}: time per event ${fmtN(large.perArm)} / ${fmtN(small.perArm)}`, measured: ok(large) ? `${perEvent(large).toFixed(2)} µs/event (${fmtMs(large.ms)})` : 'refused', baseline: `${perEvent(small).toFixed(2)} µs/event (${fmtMs(small.ms)})`, ratio: ok(large) && ok(small) ? scale : undefined, target: '<= 1.5', result: ok(large) && ok(small) && scale <= 1.5 ? 'PASS' : 'FAIL', ...note })
  const cpuPerEvent = (c: Cold): number => c.gateCpuMs * 1000 / eventsOf(lists, c.perArm)
  const cpuScale = cpuPerEvent(large) / cpuPerEvent(small)
  rows.push({ id: `3e${tag}`, what: `scaling, ${what}: the gate's CPU per event ${fmtN(large.perArm)} / ${fmtN(small.perArm)}`, measured: `${cpuPerEvent(large).toFixed(2)} µs/event (${fmtMs(large.gateCpuMs)})`, baseline: `${cpuPerEvent(small).toFixed(2)} µs/event (${fmtMs(small.gateCpuMs)})`, ratio: ok(large) && ok(small) ? cpuScale : undefined, target: '-', result: 'INFO' })
  const ten = mid.ms / (10 * small.ms)
  rows.push({ id: `3b${tag}`, what: `scaling, ${what}: ${fmtN(mid.perArm)} vs 10 x ${fmtN(small.perArm)}`, measured: ok(mid) ? fmtMs(mid.ms) : 'refused', baseline: `10 x ${fmtMs(small.ms)}`, ratio: ok(mid) && ok(small) ? ten : undefined, target: '<= 3', result: ok(mid) && ok(small) && ten <= 3 ? 'PASS' : 'FAIL' })
  rows.push({ id: `3c${tag}`, what: `scaling, ${what}: upstream bytes, cold`, measured: cold.map((c) => `${fmtBytes(c.bytes)}${ok(c) ? '' : ' (refused)'}`).join(' / '), baseline: '-', ratio: undefined, target: '-', result: 'INFO' })
  rows.push({ id: `5a${tag}`, what: `peak RSS judging ${fmtN(large.perArm)} per arm, ${what}`, measured: `${large.peakRssMb.toFixed(0)} MB${ok(large) ? '' : ' (refused)'}`, baseline: `${large.rssStartMb.toFixed(0)} MB before`, ratio: large.peakRssMb / large.rssStartMb, target: '-', result: 'INFO' })
  return rows
}

/** `n` answered (200) evaluations, `concurrency` at a time; a shed 503 waits a little and asks again. */
async function evaluations (url: string, n: number, concurrency: number): Promise<{ shed: number }> {
  let left = n
  let shed = 0
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left--
      for (;;) {
        const res = await request(url)
        await res.body.dump()
        if (res.statusCode === 200) break
        if (res.statusCode !== 503) throw new Error(`warm evaluation answered ${res.statusCode}`)
        shed++
        await sleep(50)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { shed }
}

const DL = '/api/v1/governance/decisions'
type Delta = ReturnType<typeof upstreamDelta>

/** Decisions (or jobs, unit µs) of a segment at or before `untilMs`: event j is at start + floor(j W / N) + offset (the baseline's jobs: 1 µs). */
function eventsUntil (seg: BenchSegment, untilMs: number, unit: 1 | 1000, offsetU = 0): number {
  const x = (untilMs - seg.startMs) * unit - offsetU
  const w = (seg.endMs - seg.startMs) * unit
  return Math.max(0, Math.min(seg.perArm, Math.ceil(((x + 1) * seg.perArm) / w)))
}

/**
 * The jobs of each arm in [since, until] that a list of the newest `cap` jobs as of `until` holds,
 * for the sandbox's spacing (job j of an arm at start + floor(j W / N) µs, the baseline's 1 µs
 * later; equal times go to the canary first). Jobs of earlier segments are before `since`.
 */
function cappedJobs (seg: BenchSegment, sinceMs: number, untilMs: number, cap: number): [number, number] {
  const w = (seg.endMs - seg.startMs) * 1000
  const at = (j: number, arm: number): number => seg.startMs * 1000 + Math.floor((j * w) / seg.perArm) + arm
  const last = (arm: number): number => { let j = seg.perArm - 1; while (j >= 0 && at(j, arm) > untilMs * 1000) j--; return j }
  const next = [last(0), last(1)]
  const counted: [number, number] = [0, 0]
  for (let k = 0; k < cap; k++) {
    const [c, b] = next as [number, number]
    if (c < 0 && b < 0) break
    const arm = b < 0 || (c >= 0 && at(c, 0) >= at(b, 1)) ? 0 : 1
    if (at(next[arm] as number, arm) >= sinceMs * 1000) counted[arm]++
    next[arm] = (next[arm] as number) - 1
  }
  return counted
}

/**
 * Two measurements at one fresh gate, [start, start + firstMs] then 5 minutes longer: upstream
 * cost of each. With `cap` (a sandbox whose jobs list holds the newest `cap` jobs), the sandbox's
 * clock is set to each measurement's end first, so the jobs list is what Cordum would hold when a
 * window ending then is measured; the gate's clock stays the wall clock (its slices are closed).
 */
async function growth (sandbox: SandboxProc, warm: BenchSegment, seg: BenchSegment, firstMs: number, cap?: number): Promise<{ first: Delta, second: Delta, error?: string }> {
  if (cap !== undefined) await sandbox.setClock(warm.endMs)
  const gate = await warmGate(sandbox, warm, cap === undefined ? uncappedEnv : {})
  try {
    const out: { first: Delta, second: Delta, error?: string } = { first: undefined as unknown as Delta, second: undefined as unknown as Delta }
    const errors: string[] = []
    let before = await sandbox.stats()
    for (const [i, until] of [seg.startMs + firstMs, seg.startMs + firstMs + 5 * 60_000].entries()) {
      if (cap !== undefined) await sandbox.setClock(until)
      const { s } = await answered(gate.url, { stage: STAGE, since: seg.startMs, until })
      const after = await sandbox.stats()
      const d = upstreamDelta(before, after)
      before = after
      if (i === 0) out.first = d
      else out.second = d
      const decisions = eventsUntil(seg, until, 1)
      // Uncapped, every job of the window; capped, those of the newest `cap` (about cap / 2 per arm).
      const [jobs, baselineJobs] = cap === undefined ? [eventsUntil(seg, until, 1000), eventsUntil(seg, until, 1000, 1)] : cappedJobs(seg, seg.startMs, until, cap)
      if (s.status !== 200) errors.push(`measurement ${i + 1}: HTTP ${s.status} ${s.error ?? ''}`)
      else if (s.canaryDecisions !== decisions || s.baselineDecisions !== decisions || s.canaryJobs !== jobs || s.baselineJobs !== baselineJobs) errors.push(`measurement ${i + 1}: counted decisions ${String(s.canaryDecisions)}/${String(s.baselineDecisions)} and jobs ${String(s.canaryJobs)}/${String(s.baselineJobs)} (canary/baseline), expected ${decisions}/${decisions} and ${jobs}/${baselineJobs}`)
    }
    if (errors.length > 0) out.error = errors.join('; ')
    return out
  } finally {
    await gate.close()
  }
}

interface Cannon { ok: number, seconds: number, p50: number, p99: number, non2xx: number, errors: number, total: number }

/** One autocannon run; `ok` counts answered 2xx only: a shed 503 is cheap and must not count as throughput. */
async function cannon (url: string, connections: number, duration: number): Promise<Cannon> {
  const r = await autocannon({ url, connections, duration })
  return { ok: r['2xx'], seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts, total: r.requests.total }
}

interface Throughput { ratio: number, score: Cannon[], health: Cannon[], shed: number, text: [string, string] }

/**
 * Score vs /healthz on one gate: `seconds` of load on each, in alternating 2-second runs (in
 * A-B-B-A order), and the ratio of all 2xx answered. This machine's speed drifts over seconds
 * (a shared VM: the same route ran at 7k and at 14k req/s a few seconds apart), so long runs
 * one after the other measured the drift as much as the gate; short alternating runs see the
 * same machine. Each score run is about a fifth of a SCORE_REUSE_SECONDS period, so the
 * re-evaluations when a reused answer expires fall into the runs in proportion.
 */
async function throughput (gateUrl: string, ask: ScoreAsk, load: { seconds: number, quick: boolean, connections?: number }): Promise<Throughput> {
  const scoreUrl = `${gateUrl}${scorePath(ask)}`
  const healthUrl = `${gateUrl}/healthz`
  const connections = load.connections ?? 100
  // Quick mode (the harness check) runs 1-second runs and no warm-up.
  const each = load.quick ? 1 : 2
  if (!load.quick) {
    await cannon(healthUrl, connections, 1)
    await cannon(scoreUrl, connections, 1)
  }
  const health: Cannon[] = []
  const scores: Cannon[] = []
  const runs = Math.max(1, Math.round(load.seconds / each))
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      health.push(await cannon(healthUrl, connections, each))
      scores.push(await cannon(scoreUrl, connections, each))
    } else {
      scores.push(await cannon(scoreUrl, connections, each))
      health.push(await cannon(healthUrl, connections, each))
    }
  }
  const rate = (xs: Cannon[]): number => xs.reduce((s, x) => s + x.ok, 0) / xs.reduce((s, x) => s + x.seconds, 0)
  const worst = (xs: Cannon[]): number => Math.max(...xs.map((x) => x.p99))
  const shed = [...health, ...scores].reduce((s, r) => s + r.non2xx + r.errors, 0)
  return { ratio: rate(scores) / rate(health), score: scores, health, shed, text: [`${rate(scores).toFixed(0)} req/s, p99 ${worst(scores)} ms`, `${rate(health).toFixed(0)} req/s, p99 ${worst(health)} ms`] }
}

/** What every benchmark group gets: the sandbox, its segments, the options, and where results go. */
interface Run {
  opts: ReturnType<typeof options>
  sandbox: SandboxProc
  warm: BenchSegment
  sized: BenchSegment[]
  growing: BenchSegment
  rows: Row[]
  details: Record<string, unknown>
}

/** 3. Window scaling: a fresh gate per size and series, one cold evaluation each (medians of three for the smaller sizes). */
async function benchScaling ({ opts, sandbox, warm, sized, rows, details }: Run): Promise<Cold> {
  const series: Record<Lists, Cold[]> = { both: [], decisions: [] }
  for (const lists of ['both', 'decisions'] as const) {
    // Quick mode shares one gate per series (a fresh process per size costs seconds).
    const shared = opts.quick ? await warmGate(sandbox, warm) : undefined
    try {
      for (const [i, seg] of sized.entries()) {
        // The machine is shared: the two smaller sizes are measured three times (fresh gates) and the median kept.
        const reps = opts.quick || i === sized.length - 1 ? 1 : 3
        const tries: Cold[] = []
        for (let r = 0; r < reps; r++) tries.push(await coldEvaluation(sandbox, warm, seg, lists, shared))
        const c = {
          ...(tries[0] as Cold),
          ms: median(tries.map((x) => x.ms)),
          gateCpuMs: median(tries.map((x) => x.gateCpuMs)),
          sandboxCpuMs: median(tries.map((x) => x.sandboxCpuMs)),
          tries: tries.map((x) => x.ms),
        }
        series[lists].push(c)
        log(`scaling: ${listsText(lists, c.perArm)}: ${fmtMs(c.ms)}${c.tries.length > 1 ? ` (median of ${c.tries.map(fmtMs).join(', ')})` : ''}, ${c.requests} upstream requests, ${fmtBytes(c.bytes)}, ${(c.ms * 1000 / eventsOf(lists, c.perArm)).toFixed(2)} µs/event, CPU gate ${fmtMs(c.gateCpuMs)} sandbox ${fmtMs(c.sandboxCpuMs)}, peak RSS ${c.peakRssMb.toFixed(0)} MB${tries.some((x) => x.shed > 0) ? `, shed ${tries.map((x) => x.shed).join('/')} times before answering` : ''}${c.error === undefined ? '' : `; REFUSED: ${c.error}`}`)
      }
    } finally {
      await shared?.close()
    }
  }
  details.scaling = series
  rows.push(...scalingRows(series.both, ''), ...scalingRows(series.decisions, 'd'))
  return series.both[0] as Cold
}

/** 2. Coalescing: 200 identical cold requests at a fresh gate vs one cold request. */
async function benchCoalescing ({ opts, sandbox, sized, rows, details }: Run, gate: GateProc, solo: Cold): Promise<void> {
  if (solo.error !== undefined) throw new Error(`the smallest window must evaluate for the coalescing benchmark: ${solo.error}`)
  const before = await sandbox.stats()
  const ask = async (): Promise<Score> => await score(gate.url, whole(sized[0] as BenchSegment))
  const answers = await Promise.all(Array.from({ length: opts.burst }, ask))
  // Answers shed with 503 (under pressure: a busy shared machine) are asked again together, as Argo would.
  let shed = 0
  for (let round = 0; round < 10; round++) {
    const again = answers.flatMap((a, i) => (a.status === 503 && SHED.test(a.error ?? '') ? [i] : []))
    if (again.length === 0) break
    shed += again.length
    await sleep(1_000)
    const retried = await Promise.all(again.map(ask))
    again.forEach((i, k) => { answers[i] = retried[k] as Score })
  }
  const d = upstreamDelta(before, await sandbox.stats())
  const wrong = answers.map((a) => checkCounts(a, solo.perArm, 'burst')).filter((x) => x !== undefined)
  const ratio = d.requests / solo.requests
  details.coalescing = { burst: opts.burst, shed, requests: d.requests, byPath: d.byPath, solo: solo.requests, soloByPath: solo.byPath, wrongAnswers: wrong.length }
  rows.push({ id: '2', what: `coalescing: ${opts.burst} identical cold requests`, measured: `${d.requests} upstream requests`, baseline: `${solo.requests} (one cold request)`, ratio, target: '= 1.0', result: ratio === 1 && wrong.length === 0 ? 'PASS' : 'FAIL', ...(wrong.length > 0 ? { note: `${wrong.length} answers wrong: ${wrong[0] as string}` } : shed > 0 ? { note: `${shed} requests were shed (503) and asked again` } : {}) })
  log(`coalescing: ${opts.burst} concurrent cold requests cost ${d.requests} upstream requests; one alone cost ${solo.requests}`)
}

/**
 * 1. Warm throughput: score vs /healthz on the same gate. The target row asks a 10k window of a
 * sandbox of its own whose jobs list holds the newest 1000 jobs, as Cordum's does: a warm score
 * is evaluated again whenever its reused answer expires (SCORE_REUSE_SECONDS), and against the
 * bench profile's uncapped list that re-reads every job of the window (20k here, 40 pages, some
 * 0.4 s on this machine, every 10 s), which no Cordum serves. Row 1u measures that too.
 */
async function benchThroughput ({ opts, sandbox, warm, sized, rows, details }: Run): Promise<void> {
  const seg = sized[0] as BenchSegment
  const profile = cappedProfile(seg)
  const capped = await startSandboxProcess(profile)
  try {
    const cappedWarm = profile.segments[0] as BenchSegment
    await capped.setClock(cappedWarm.endMs)
    const gate = await warmGate(capped, cappedWarm, {})
    try {
      await capped.setClock(seg.endMs)
      const { s } = await answered(gate.url, whole(seg))
      if (s.status !== 200) throw new Error(`the throughput window must be answered first: HTTP ${s.status} ${s.error ?? ''}`)
      const tp = await throughput(gate.url, whole(seg), { seconds: opts.duration, quick: opts.quick })
      details.throughput = tp
      rows.push({ id: '1', what: 'warm score vs /healthz, 100 connections, jobs list capped', measured: tp.text[0], baseline: tp.text[1], ratio: tp.ratio, target: '>= 0.8', result: tp.ratio >= 0.8 ? 'PASS' : 'FAIL', ...shedNote(tp) })
      log(`throughput: score ${tp.text[0]}, /healthz ${tp.text[1]}, ${tp.shed} not 2xx`)
      // At 10 connections the gate is busy but rarely sheds: its capacity without the shedding dynamics.
      const low = await throughput(gate.url, whole(seg), { seconds: opts.duration / 2, quick: opts.quick, connections: 10 })
      details.throughput10 = low
      rows.push({ id: '1c', what: 'the same at 10 connections', measured: low.text[0], baseline: low.text[1], ratio: low.ratio, target: '-', result: 'INFO', ...shedNote(low) })
      log(`throughput at 10 connections: score ${low.text[0]}, /healthz ${low.text[1]}, ${low.shed} not 2xx`)
    } finally {
      await gate.close()
    }
  } finally {
    await capped.close()
  }
  const gate = await warmGate(sandbox, warm)
  try {
    await answered(gate.url, whole(seg))
    const u = await throughput(gate.url, whole(seg), { seconds: opts.duration / 2, quick: opts.quick })
    details.throughputUncapped = u
    rows.push({ id: '1u', what: 'row 1 against the uncapped jobs list (bench only)', measured: u.text[0], baseline: u.text[1], ratio: u.ratio, target: '-', result: 'INFO', ...shedNote(u) })
    log(`throughput, jobs list uncapped: score ${u.text[0]}, /healthz ${u.text[1]}, ${u.shed} not 2xx`)
  } finally {
    await gate.close()
  }
}

function shedNote (tp: Throughput): { note?: string } {
  return tp.shed > 0 ? { note: `${tp.shed} answers were not 2xx (503: shed at MAX_SCORES_IN_FLIGHT or under event-loop pressure) and are not counted as throughput` } : {}
}

/**
 * 4. Incremental: a growing window measured twice, the second 5 minutes longer, each pair at a
 * fresh gate. The target row reads all lists as a real install sees them: a sandbox of its own
 * whose jobs list holds the newest 1000 jobs, as Cordum's does. The same growth against the
 * uncapped list (every job of the window re-read each time) is reported for comparison.
 */
async function benchIncremental ({ sandbox, warm: uncappedWarm, growing, rows, details }: Run): Promise<void> {
  const dl = (d: Delta): number => d.bytesByPath[DL] ?? 0
  const capped = await startSandboxProcess(cappedProfile(growing))
  try {
    const warm = cappedProfile(growing).segments[0] as BenchSegment
    const typical = await growth(capped, warm, growing, 5 * H + 20 * 60_000, CORDUM_JOBS_CAP)
    details.incremental = typical
    const bad = typical.error
    const ratio = typical.second.bytes / typical.first.bytes
    rows.push({ id: '4', what: `incremental: 2nd measurement of a growing window (5h20m, +5 min), all lists, jobs list capped at ${CORDUM_JOBS_CAP} as Cordum's`, measured: `${fmtBytes(typical.second.bytes)} (${typical.second.requests} requests)`, baseline: `${fmtBytes(typical.first.bytes)} (${typical.first.requests} requests)`, ratio, target: '<= 0.1', result: ratio <= 0.1 && bad === undefined ? 'PASS' : 'FAIL', ...(bad === undefined ? {} : { note: bad }) })
    const dlRatio = dl(typical.second) / dl(typical.first)
    rows.push({ id: '4d', what: 'the same measurements, decision log bytes only', measured: `${fmtBytes(dl(typical.second))} (${typical.second.byPath[DL] ?? 0} requests)`, baseline: `${fmtBytes(dl(typical.first))} (${typical.first.byPath[DL] ?? 0} requests)`, ratio: dlRatio, target: '<= 0.1', result: dlRatio <= 0.1 && bad === undefined ? 'PASS' : 'FAIL' })
    log(`incremental (jobs list capped at ${CORDUM_JOBS_CAP}): first measurement ${fmtBytes(typical.first.bytes)} (decision log ${fmtBytes(dl(typical.first))}, ${JSON.stringify(typical.first.bytesByPath)}), second ${fmtBytes(typical.second.bytes)} (decision log ${fmtBytes(dl(typical.second))}, ${JSON.stringify(typical.second.bytesByPath)})`)
    // The same growth where the window crosses a slice-length step (5h55m -> 6h: 15-minute slices give way to hourly ones).
    const step = await growth(capped, warm, growing, 5 * H + 55 * 60_000, CORDUM_JOBS_CAP)
    details.incrementalAcrossStep = step
    const stepRatio = dl(step.second) / dl(step.first)
    const stepAll = step.second.bytes / step.first.bytes
    rows.push({ id: '4s', what: 'decision log bytes, growth across a slice-length step (5h55m, +5 min)', measured: `${fmtBytes(dl(step.second))} (${step.second.byPath[DL] ?? 0} requests); all lists ${fmtBytes(step.second.bytes)}`, baseline: `${fmtBytes(dl(step.first))} (${step.first.byPath[DL] ?? 0} requests); all ${fmtBytes(step.first.bytes)}`, ratio: stepRatio, target: '-', result: 'INFO', ...(step.error === undefined ? {} : { note: step.error }) })
    log(`incremental across a slice step: decision log ${fmtBytes(dl(step.first))}, then ${fmtBytes(dl(step.second))}; all lists ${fmtBytes(step.first.bytes)}, then ${fmtBytes(step.second.bytes)} (${stepAll.toFixed(3)})`)
  } finally {
    await capped.close()
  }
  // For comparison: the bench profile's uncapped jobs list, re-read whole (30k jobs per arm here) at every measurement.
  const uncapped = await growth(sandbox, uncappedWarm, growing, 5 * H + 20 * 60_000)
  details.incrementalUncapped = uncapped
  const uRatio = uncapped.second.bytes / uncapped.first.bytes
  rows.push({ id: '4u', what: 'the growth of row 4 with the jobs list uncapped (bench only)', measured: `${fmtBytes(uncapped.second.bytes)} (${uncapped.second.requests} requests)`, baseline: `${fmtBytes(uncapped.first.bytes)} (${uncapped.first.requests} requests)`, ratio: uRatio, target: '-', result: uncapped.error === undefined ? 'INFO' : 'FAIL', ...(uncapped.error === undefined ? {} : { note: uncapped.error }) })
  log(`incremental, jobs list uncapped: first ${fmtBytes(uncapped.first.bytes)}, second ${fmtBytes(uncapped.second.bytes)}`)
}

/**
 * 5. RSS drift over N warm evaluations (10 at a time) at a gate of its own, after a warm-up of
 * N/10; RSS sampled every N/10 so growth can be told from V8's garbage-collection cycle.
 */
async function benchMemory ({ opts, sandbox, warm, sized, rows, details }: Run): Promise<void> {
  const gate = await warmGate(sandbox, warm)
  try {
    const url = `${gate.url}${scorePath(whole(sized[0] as BenchSegment))}`
    let shed = (await evaluations(url, opts.evaluations / 10, 10)).shed
    const samples = [gate.memory().rssMb]
    for (let i = 0; i < 10; i++) {
      shed += (await evaluations(url, opts.evaluations / 10, 10)).shed
      samples.push(gate.memory().rssMb)
    }
    // RSS swings with V8's major GC cycle (tens of MB): compare the level at the start (median of
    // the first five samples) with the level at the end (median of the last five); a leak lifts the end.
    const [start, end] = [median(samples.slice(0, 5)), median(samples.slice(-5))]
    const drift = end / start
    details.drift = { evaluations: opts.evaluations, samplesMb: samples, shed }
    rows.push({ id: '5b', what: `RSS drift over ${opts.evaluations} warm evaluations`, measured: `${end.toFixed(0)} MB at the end (last ${samples[samples.length - 1]?.toFixed(0)}, max ${Math.max(...samples).toFixed(0)})`, baseline: `${start.toFixed(0)} MB at the start (first ${samples[0]?.toFixed(0)})`, ratio: drift, target: '<= 1.1', result: drift <= 1.1 ? 'PASS' : 'FAIL', ...(shed > 0 ? { note: `${shed} requests were shed (503) on the way and asked again` } : {}) })
    log(`memory: RSS every ${opts.evaluations / 10} warm evaluations: ${samples.map((m) => m.toFixed(0)).join(' ')} MB (${shed} shed and asked again)`)
  } finally {
    await gate.close()
  }
}

/**
 * 7b: a cold evaluation of the largest size's decision log (bench-decisions) at the default
 * deadline (CORDUM_DEADLINE_MS 8000, warming on), asked again every 10 s as Argo retries: the
 * time to the first 200 answer (target <= 10 s, Argo's timeout) and to the verdict, against
 * the same question once warm.
 */
async function benchWarming ({ sandbox, warm, sized, rows, details }: Run): Promise<void> {
  const seg = sized[sized.length - 1] as BenchSegment
  const gate = await warmGate(sandbox, warm, { ...uncappedEnv, CORDUM_DEADLINE_MS: '8000' })
  try {
    const ask = (untilMs: number): string => `${gate.url}${scorePath({ stage: stageOf('decisions'), since: seg.startMs, until: untilMs })}`
    const t0 = performance.now()
    const answers: string[] = []
    let first: number | undefined
    let verdict: number | undefined
    for (let i = 0; i < 60 && verdict === undefined; i++) {
      const asked = performance.now()
      const res = await request(ask(seg.endMs))
      const body = await res.body.json() as { verdict?: string, reasonCodes?: string[] }
      const at = performance.now() - t0
      const warming = body.reasonCodes?.includes('warming') === true
      answers.push(`${res.statusCode}${res.statusCode === 200 ? ` ${warming ? 'warming' : body.verdict ?? '?'}` : ''} at ${(at / 1000).toFixed(1)} s`)
      if (res.statusCode === 200) first ??= performance.now() - asked
      if (res.statusCode === 200 && !warming) verdict = at
      else await sleep(Math.max(0, 10_000 - (performance.now() - asked)))
    }
    // The same question once warm: after the answer reuse (10 s) lapses, so it is evaluated again.
    await sleep(10_500)
    const w0 = performance.now()
    await request(ask(seg.endMs)).then(async (r) => await r.body.dump())
    const warmMs = performance.now() - w0
    details.warming = { answers, first, verdict, warmMs }
    log(`warming: ${answers.join('; ')}`)
    rows.push({ id: '7b', what: `cold evaluation of ${fmtN(seg.perArm)} decisions per arm at the default deadline (8 s, warming on), asked every 10 s: the first 200 answer`, measured: first === undefined ? 'none' : `${fmtMs(first)}; verdict after ${verdict === undefined ? 'none within 10 min' : fmtMs(verdict)} (${answers.length} questions)`, baseline: `${fmtMs(warmMs)} once warm`, ratio: first === undefined ? undefined : first / 10_000, target: '<= 1 (10 s)', result: first !== undefined && first <= 10_000 && verdict !== undefined ? 'PASS' : 'FAIL' })
  } finally {
    await gate.close()
  }
}

/** The groups that measure gates against the sandbox, which runs for their time only. */
async function benchGates (parts: Omit<Run, 'sandbox'>, profile: BenchProfile): Promise<void> {
  const { opts, warm, sized, rows, details } = parts
  const sandbox = await startSandboxProcess(profile)
  const run: Run = { ...parts, sandbox }
  try {
    const solo = opts.only.has('scaling') ? await benchScaling(run) : undefined
    if (opts.only.has('coalescing')) {
      // The burst must reach the gate at once: its in-flight cap (MAX_SCORES_IN_FLIGHT, 64 by
      // default) is raised to the burst, or it would shed most of it before any coalescing.
      const gate = await warmGate(sandbox, warm, { ...uncappedEnv, MAX_SCORES_IN_FLIGHT: String(opts.burst) })
      try {
        await benchCoalescing(run, gate, solo ?? await coldEvaluation(sandbox, warm, sized[0] as BenchSegment, 'both'))
      } finally {
        await gate.close()
      }
    }
    if (opts.only.has('throughput')) await benchThroughput(run)
    if (opts.only.has('incremental')) await benchIncremental(run)
    if (opts.only.has('memory')) await benchMemory(run)
    if (opts.only.has('warming')) await benchWarming(run)
    if (opts.only.has('overload')) {
      const o = await benchOverload(sandbox.url, warm, build, { ...gateEnv, ...uncappedEnv }, opts.quick ? 2 : 10)
      rows.push(...o.rows)
      details.overload = o.details
    }
  } finally {
    await sandbox.close()
  }
}

async function main (): Promise<void> {
  const opts = options()
  build = opts.build
  gateEnv = opts.gateEnv
  uncappedEnv = { CORDUM_MAX_PAGES: String(pagesFor(Math.max(...opts.sizes, opts.incremental))) }
  const gates = SANDBOX_GROUPS.some((g) => opts.only.has(g))
  if (build === 'dist' && (gates || opts.only.has('plugin'))) buildDist()
  const { profile, warm, sized, growing } = layout(opts.sizes, opts.incremental)
  const rows: Row[] = []
  const details: Record<string, unknown> = {}
  const startLoad = loadavg()
  log(`bench: node ${process.version}, ${cpus().length} cores, load ${startLoad.map((l) => l.toFixed(2)).join(' ')}, sizes ${opts.sizes.map(fmtN).join('/')} per arm, ${[...opts.only].join(', ')}${opts.gateEnv.EVIDENCE_URL === 'none' ? ', EVIDENCE_URL=none' : ''}, ${gates ? `gate from ${build === 'dist' ? 'dist/ (built now)' : 'sources (tsx)'}` : 'no gate process'}${opts.quick ? ', quick' : ''}${gates ? `; gates on the uncapped jobs list run with CORDUM_MAX_PAGES=${uncappedEnv.CORDUM_MAX_PAGES as string}` : ''}`)
  if (gates) await benchGates({ opts, warm, sized, growing, rows, details }, profile)
  if (opts.only.has('ledger')) {
    const l = await benchLedger(opts.quick ? 1 : 3)
    rows.push(...l.rows)
    details.ledger = l.details
  }
  if (opts.only.has('decoders')) {
    const d = benchDecoders(opts.quick ? 300 : 5_000)
    rows.push(...d.rows)
    details.decoders = d.details
  }

  if (opts.only.has('decisions')) {
    const d = benchDecisions(opts.quick ? 40 : 400, log)
    rows.push(...d.rows)
    details.decisions = d.details
  }

  // 6. The plugin's round trips (needs Go), informational: its own baseline is Control.Ping.
  if (opts.plugin && opts.only.has('plugin')) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'plugin', 'run.ts')], { cwd: ROOT, env: { ...process.env, BENCH_N: '1000' }, encoding: 'utf8', timeout: 900_000 })
    if (r.status === 0) {
      const p = JSON.parse(readFileSync(join(ROOT, '.bench', 'plugin.json'), 'utf8')) as { ping: { p50: number, p99: number }, run: { p50: number, p99: number }, ratio: { p50: number } }
      rows.push({ id: '6', what: 'plugin Run vs Control.Ping round trip (go-plugin host)', measured: `p50 ${p.run.p50.toFixed(0)} µs, p99 ${p.run.p99.toFixed(0)} µs`, baseline: `p50 ${p.ping.p50.toFixed(0)} µs, p99 ${p.ping.p99.toFixed(0)} µs`, ratio: p.ratio.p50, target: '-', result: 'INFO' })
    } else {
      rows.push({ id: '6', what: 'plugin round trips', measured: 'did not run', baseline: '-', ratio: undefined, target: '-', result: 'FAIL', note: (r.stderr ?? '').trim().split('\n').slice(-3).join(' ') })
    }
  }

  const endLoad = loadavg()
  const widths = [3, 58, 34, 34, 7, 7, 6]
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 10)).join(' ').trimEnd()
  log('')
  log(line(['#', 'benchmark', 'measured', 'baseline (same run)', 'ratio', 'target', 'result']))
  for (const r of rows) {
    log(line([r.id, r.what, r.measured, r.baseline, r.ratio === undefined ? '-' : r.ratio.toFixed(r.ratio < 0.1 ? 3 : 2), r.target, r.result]))
    if (r.note !== undefined) log(`    ${r.note}`)
  }
  log(`load average at start ${startLoad.map((l) => l.toFixed(2)).join(' ')}, at end ${endLoad.map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`)
  mkdirSync(dirname(opts.json), { recursive: true })
  writeFileSync(opts.json, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, cores: cpus().length, load: { start: startLoad, end: endLoad }, quick: opts.quick, sizes: opts.sizes, only: [...opts.only], gateEnv: opts.gateEnv, rows, details }, null, 2)}\n`)
  process.exitCode = rows.some((r) => r.result === 'FAIL') ? 1 : 0
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(2)
})
