/**
 * Overload against the real service process: measure its capacity in this run (a closed loop
 * of warm score requests on the sandbox), then offer twice that rate in an open loop. The gate
 * must shed the excess with 503 GATE_ERR_UNAVAILABLE + Retry-After by one of its two limits,
 * answer every request it admits, keep its probes and /metrics answering, and not grow its
 * memory. How fast the admitted requests are answered is a benchmark, not an assertion here:
 * `npm run bench -- --only=overload` (row 9a, docs/performance.md); the figures are printed.
 * CI runs a short smoke; `npm run soak` runs it for a minute.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { byStatus, closedLoop, dispatcher, loggedTimes, once, openLoop, percentile, rssOf, scoreUrls, shedBy } from '../helpers/load.js'
import { runCli, serve, waitFor, type Proc } from '../helpers/process.js'
import { report, scale, SOAK } from '../helpers/soak.js'

function kill (p: Proc): void {
  if (p.child.exitCode === null) p.child.kill('SIGKILL')
}

t.test('at twice the measured capacity the gate sheds with 503 + Retry-After, answers what it admits, RSS stays flat', { timeout: SOAK ? 600_000 : 120_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'acg-overload-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const sandbox = runCli(['sandbox', '--port', '0'], {})
  t.teardown(() => kill(sandbox))
  const [, cordum] = await waitFor(sandbox, /Cordum sandbox listening at (http:\/\/\S+)/) as [string, string]
  // A small cap keeps the admitted requests' wait short on a slow shared CI machine; the
  // capacity is measured with up to as many clients as it admits.
  const cap = 8
  const gate = await serve({ CORDUM_URL: cordum, CORDUM_API_KEY: 'sandbox-admin-key', DATA_DIR: dataDir, MAX_SCORES_IN_FLIGHT: String(cap), LOG_LEVEL: 'info' })
  t.teardown(() => kill(gate.proc))
  const agent = dispatcher()
  t.teardown(async () => await agent.close())
  const urls = scoreUrls(gate.url)

  // Warm-up: the gate's throughput climbs for several seconds (JIT, connections, SQLite).
  await closedLoop(urls, 4, scale(2_000, 8_000), agent)
  // Capacity: the best rate of closed loops at a few concurrencies up to the cap (more work in
  // flight is not always faster: concurrent cold requests compete for the one event loop).
  let capacity = 0
  const tried: Record<string, number> = {}
  for (const clients of [2, 4, cap]) {
    const measured = await closedLoop(urls, clients, scale(1_000, 5_000), agent)
    const ok = measured.answers.filter((a) => a.status === 200).length
    t.equal(ok, measured.answers.length, `capacity run with ${clients} clients: every request answered 200 (${JSON.stringify(byStatus(measured.answers))})`)
    tried[clients] = Math.round(ok / measured.seconds)
    capacity = Math.max(capacity, ok / measured.seconds)
  }
  t.ok(capacity >= 5, `capacity ${capacity.toFixed(0)} scores/s (by clients: ${JSON.stringify(tried)})`)

  const rssStart = await rssOf(gate.url, agent)
  const firstLine = gate.proc.lines.length
  const rss: number[] = []
  const probes: Array<Promise<number>> = []
  let lastSample = 0
  const rate = Math.round(2 * capacity)
  const durationMs = scale(4_000, 60_000)
  const overload = await openLoop(urls, rate, durationMs, agent, () => {
    if (performance.now() - lastSample < 500) return
    lastSample = performance.now()
    probes.push(once(`${gate.url}/healthz`, agent).then((a) => a.status))
    probes.push(rssOf(gate.url, agent).then((v) => { rss.push(v); return 200 }, () => 0))
  })
  const probeStatuses = await Promise.all(probes)
  const rssEnd = await rssOf(gate.url, agent)
  await new Promise((r) => setTimeout(r, 200)) // the last log lines
  const inGate = loggedTimes(gate.proc.lines.slice(firstLine), '/api/v1/score', 200)

  const counts = byStatus(overload.answers)
  const admitted = overload.answers.filter((a) => a.status === 200)
  const shed = overload.answers.filter((a) => a.status === 503)
  const p99 = percentile(admitted.map((a) => a.ms), 99)
  const gateP99 = percentile(inGate, 99)
  const offered = overload.answers.length / overload.seconds
  const rssMax = Math.max(rssStart, ...rss, rssEnd)
  const figures = {
    capacityPerSecond: Math.round(capacity),
    capacityByClients: tried,
    offeredPerSecond: Math.round(offered),
    seconds: Number(overload.seconds.toFixed(1)),
    requests: overload.answers.length,
    statuses: counts,
    shedBy: shedBy(overload.answers),
    admittedPerSecond: Math.round(admitted.length / overload.seconds),
    admittedP50Ms: Math.round(percentile(admitted.map((a) => a.ms), 50)),
    admittedP99Ms: Math.round(p99),
    admittedInGateP50Ms: Math.round(percentile(inGate, 50)),
    admittedInGateP99Ms: Math.round(gateP99),
    shedP99Ms: Math.round(percentile(shed.map((a) => a.ms), 99)),
    rssStartMB: Math.round(rssStart / 1e6),
    rssMaxMB: Math.round(rssMax / 1e6),
    rssEndMB: Math.round(rssEnd / 1e6),
  }
  report(t, 'overload', figures)

  t.same(Object.keys(counts).filter((s) => s !== '200' && s !== '503'), [], `only 200 and 503: ${JSON.stringify(counts)}`)
  t.ok(shed.length > 0, `some requests shed (${shed.length})`)
  t.ok(admitted.length > 0, `some requests admitted (${admitted.length})`)
  t.ok(shed.every((a) => a.code === 'GATE_ERR_UNAVAILABLE' && a.retryAfter === '10'), 'every 503 is GATE_ERR_UNAVAILABLE with Retry-After: 10')
  // Shed by the in-flight cap (its queue) or the event-loop delay limit, nothing else: the
  // limits that keep admitted work from queueing (their speed is bench row 9a).
  t.same(Object.keys(figures.shedBy).filter((why) => why !== 'inFlightCap' && why !== 'eventLoopDelay'), [], `shed by the cap or the event-loop delay only: ${JSON.stringify(figures.shedBy)}`)
  t.equal(inGate.length, admitted.length, 'the gate logged every admitted request, each completed 200')
  t.ok(probeStatuses.length > 0 && probeStatuses.every((s) => s === 200), `probes and /metrics answered 200 throughout (${probeStatuses.length})`)
  // Generous: the bound is for a leak (every request retained), not for allocator noise.
  t.ok(rssMax - rssStart < 150e6, `RSS ${figures.rssStartMB} MB -> max ${figures.rssMaxMB} MB: grew less than 150 MB`)
  if (SOAK && rss.length >= 8) {
    // Over a long run a leak shows as growth from the second quarter to the last.
    const quarter = Math.floor(rss.length / 4)
    const early = Math.max(...rss.slice(quarter, 2 * quarter))
    const late = Math.max(...rss.slice(3 * quarter))
    t.ok(late - early < 50e6, `RSS flat over the run: ${Math.round(early / 1e6)} MB -> ${Math.round(late / 1e6)} MB`)
  }

  // Still healthy after: a score request is answered (once the event-loop sample, taken each
  // second, no longer shows the load).
  let after = await once(urls(), agent)
  for (let i = 0; i < 30 && after.status === 503; i++) {
    await new Promise((r) => setTimeout(r, 100))
    after = await once(urls(), agent)
  }
  t.equal(after.status, 200, `answers normally once the load is gone (${after.code ?? ''})`)
})
