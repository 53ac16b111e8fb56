/**
 * Benchmarks for timings the tests used to assert (docs/testing.md "No wall clock"): the tests
 * keep what happened (statuses, counts, order, memory); how fast is measured here, each against
 * a baseline taken in the same run.
 *
 * - 9a overload: the p99 of the score requests a gate admits at twice its measured capacity
 *   (an open loop, MAX_SCORES_IN_FLIGHT=8, the excess shed with 503), against the p99 of a
 *   closed loop of 8 clients at that gate, the load its cap admits (test/http/overload.test.ts).
 * - 9b, 9c decoders: the slowest of N mutated Go streams (gob values, yamux frames) fed to the
 *   plugin's decoders in chunks, against the costliest unmutated stream (the largest, fed a byte
 *   at a time) (test/plugin/decoder-fuzz.test.ts): a mutation that made a decoder's work grow
 *   past its input would show here.
 */
import fc from 'fast-check'
import { closedLoop, dispatcher, openLoop, percentile } from '../test/helpers/load.js'
import { feedGob, feedYamux, gobVectors, mutate, mutation, yamuxVector } from '../test/plugin/helpers/hostile.js'
import type { BenchSegment } from '../src/sandbox/bench.js'
import { scorePath, startGate, type GateBuild } from './lib.js'

export interface TimingRow { id: string, what: string, measured: string, baseline: string, ratio: number | undefined, target: string, result: 'PASS' | 'FAIL' | 'INFO', note?: string }

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`)

/** The admitted p99 at twice capacity may be at most this many times the p99 at capacity. */
const OVERLOAD_TARGET = 3
/** The slowest mutated stream may cost at most this many times the costliest unmutated one. */
const DECODER_TARGET = 10

/**
 * Score URLs over windows of the warm segment that all differ (`until` one millisecond apart),
 * so none is answered from another's reuse or flight: each is an evaluation, as a new analysis
 * run's first measurement is.
 */
function windows (gateUrl: string, seg: BenchSegment): () => string {
  let i = 0
  const span = seg.endMs - seg.startMs - 60_000
  return () => `${gateUrl}${scorePath({ stage: 'canary-1', since: seg.startMs, until: seg.startMs + 60_000 + (i++ % span) })}`
}

export async function benchOverload (
  cordumUrl: string, warm: BenchSegment, build: GateBuild, env: Record<string, string>, seconds: number
): Promise<{ rows: TimingRow[], details: Record<string, unknown> }> {
  const cap = 8
  const gate = await startGate(cordumUrl, build, { ...env, MAX_SCORES_IN_FLIGHT: String(cap) })
  const agent = dispatcher()
  try {
    const next = windows(gate.url, warm)
    await closedLoop(next, 4, 1_000, agent) // JIT and connections
    const atCap = await closedLoop(next, cap, seconds * 1000, agent)
    const answered = atCap.answers.filter((a) => a.status === 200)
    const capacity = answered.length / atCap.seconds
    const over = await openLoop(next, Math.round(2 * capacity), seconds * 1000, agent)
    const admitted = over.answers.filter((a) => a.status === 200)
    const shed = over.answers.filter((a) => a.status === 503).length
    const other = over.answers.length - admitted.length - shed
    const base = percentile(answered.map((a) => a.ms), 99)
    const p99 = percentile(admitted.map((a) => a.ms), 99)
    const ratio = p99 / base
    const bad = answered.length === 0 || admitted.length === 0 || shed === 0 || other > 0
    const row: TimingRow = {
      id: '9a',
      what: `overload: admitted p99 at 2 x capacity (${Math.round(2 * capacity)}/s offered, cap ${cap})`,
      measured: `p99 ${fmt(p99)}, ${admitted.length} admitted, ${shed} shed`,
      baseline: `p99 ${fmt(base)} at capacity (${Math.round(capacity)}/s, ${cap} clients)`,
      ratio,
      target: `<= ${OVERLOAD_TARGET}`,
      result: !bad && ratio <= OVERLOAD_TARGET ? 'PASS' : 'FAIL',
      ...(bad ? { note: `expected answers at capacity, and both admitted and shed (only 200 and 503) at twice it: ${answered.length} answered; ${admitted.length} admitted, ${shed} shed, ${other} other` } : {}),
    }
    return { rows: [row], details: { capacityPerSecond: capacity, atCapacityP99Ms: base, admittedP99Ms: p99, admitted: admitted.length, shed, other } }
  } finally {
    await agent.close()
    await gate.close()
  }
}

/** Milliseconds `run` takes, the median of `reps` runs. */
function medianMs (run: () => void, reps: number): number {
  const times: number[] = []
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now()
    run()
    times.push(performance.now() - t0)
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)] as number
}

/** The slowest mutated case (each timed alone, best of three) against the costliest unmutated stream (the median of its runs). */
function decoderRow (id: string, what: string, cases: Array<() => void>, valid: Array<() => void>): { row: TimingRow, details: Record<string, number> } {
  for (const c of cases.slice(0, 200)) c() // JIT
  const baseline = Math.max(...valid.map((v) => medianMs(v, 21)))
  // Each case's best of three: a garbage collection or a descheduling inside one run is the
  // machine's, not the case's; a case whose work grows past its input is slow every time.
  let slowest = 0
  for (const c of cases) {
    let best = Infinity
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now()
      c()
      best = Math.min(best, performance.now() - t0)
    }
    slowest = Math.max(slowest, best)
  }
  const ratio = slowest / baseline
  return {
    row: { id, what: `${what}: slowest of ${cases.length} mutated streams`, measured: fmt(slowest), baseline: `${fmt(baseline)} (the costliest unmutated stream)`, ratio, target: `<= ${DECODER_TARGET}`, result: ratio <= DECODER_TARGET ? 'PASS' : 'FAIL' },
    details: { cases: cases.length, slowestMs: slowest, baselineMs: baseline },
  }
}

export function benchDecoders (runs: number): { rows: TimingRow[], details: Record<string, unknown> } {
  // The same kinds of cases as the test, from a fixed seed: every run times the same streams.
  const gobCase = fc.tuple(fc.integer({ min: 0, max: gobVectors.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 512 }))
  const gobCases = fc.sample(gobCase, { numRuns: runs, seed: 20261126 })
    .map(([which, edits, chunk]) => { const bytes = mutate(gobVectors[which] as Uint8Array, edits); return () => { feedGob(bytes, chunk) } })
  const yamuxCases = fc.sample(fc.tuple(fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4096 })), { numRuns: runs, seed: 20261126 })
    .map(([edits, chunk]) => { const bytes = mutate(yamuxVector, edits); return () => { feedYamux(bytes, chunk) } })
  // The unmutated streams a byte at a time: the most pushes a stream of that size can take (the cases' chunks are 1 byte and up).
  const gob = decoderRow('9b', 'gob decoder', gobCases, gobVectors.map((v) => () => { feedGob(v, 1) }))
  const yamux = decoderRow('9c', 'yamux session', yamuxCases, [() => { feedYamux(yamuxVector, 1) }])
  return { rows: [gob.row, yamux.row], details: { gob: gob.details, yamux: yamux.details } }
}
