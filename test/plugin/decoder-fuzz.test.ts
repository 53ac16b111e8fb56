/**
 * The plugin's decoders against hostile input, with memory measured: mutations of the streams
 * Go wrote (test/fixtures/plugin: gob values, yamux frames) and byte counts that claim far more
 * than arrives. Each case ends in a clean GATE_ERR_PLUGIN_PROTOCOL, a value, or a wait for more
 * input; no claimed length allocates its size before the bytes arrive. How fast the slowest case
 * ends is a benchmark (`npm run bench -- --only=decoders`, rows 9b and 9c); the figures are
 * printed here. (gob-fuzz.test.ts and yamux.test.ts hold the hand-made cases; this file adds
 * mutated Go streams, the memory bounds, and the soak scale.)
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import t from 'tap'
import { encodeUint } from '../../src/plugin/gob/bytes.js'
import { DEFAULT_GOB_LIMITS } from '../../src/plugin/gob/decoder.js'
import { GobMessageSplitter } from '../../src/plugin/gob/framing.js'
import { encodeHeader, FrameType, Flag } from '../../src/plugin/yamux/frame.js'
import { assertProperty } from '../helpers/property.js'
import { report, scale } from '../helpers/soak.js'
import { feedGob, feedYamux, gobVectors, mutate, mutation, yamuxVector, type GobOutcome } from './helpers/hostile.js'

const MiB = 1024 * 1024
/** Bytes held in ArrayBuffers (Buffers, Uint8Arrays): where a decoder's allocations land. */
const buffers = (): number => process.memoryUsage().arrayBuffers
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
/** ArrayBuffer bytes still reachable: measured after a full collection. */
const retainedBuffers = (): number => { gc(); return buffers() }

t.test('mutated Go gob streams: a value, a wait or a clean refusal, each within bounded memory', async (t) => {
  const outcomes: Record<GobOutcome, number> = { decoded: 0, incomplete: 0, refused: 0 }
  let slowest = 0
  let retained = 0 // sampled every 250 cases after a full GC: what the cases leave behind
  const base = retainedBuffers()
  const runs = scale(1_000, 30_000)
  let cases = 0
  const started = performance.now()
  assertProperty(fc.property(fc.integer({ min: 0, max: gobVectors.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 512 }), (which, edits, chunk) => {
    const bytes = mutate(gobVectors[which] as Uint8Array, edits)
    const t0 = performance.now()
    outcomes[feedGob(bytes, chunk)]++
    slowest = Math.max(slowest, performance.now() - t0)
    if (++cases % 250 === 0) retained = Math.max(retained, retainedBuffers() - base)
  }), { numRuns: runs })
  t.ok(outcomes.refused > 0 && outcomes.decoded > 0, `outcomes ${JSON.stringify(outcomes)}`)
  t.ok(retained < 8 * MiB, `ArrayBuffer memory still held (after GC) above the start: at most ${(retained / MiB).toFixed(1)} MiB`)
  report(t, 'fuzz gob', { runs, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), ...outcomes, slowestMs: Number(slowest.toFixed(1)), retainedMiB: Number((retained / MiB).toFixed(1)) })
})

t.test('a gob byte count claiming megabytes or more allocates only what arrives', async (t) => {
  // 64 streams (the yamux session's maximum), each announcing a message just under the limit
  // and sending 100 bytes of it: before the fix each cost its full 8 MiB (512 MiB in all).
  const claimed = DEFAULT_GOB_LIMITS.maxMessageBytes
  const before = buffers()
  const splitters = Array.from({ length: 64 }, () => new GobMessageSplitter(claimed))
  const completed = splitters.flatMap((s) => s.push(new Uint8Array([...encodeUint(claimed), ...new Uint8Array(100)])))
  const held = buffers() - before
  t.same(completed, [], 'each waits for the rest of its message')
  t.ok(splitters.every((s) => s.midMessage))
  t.ok(held < 8 * MiB, `64 messages claiming ${claimed / MiB} MiB each hold ${(held / MiB).toFixed(2)} MiB`)

  // A claimed message that does arrive, in small chunks, is assembled exactly.
  const body = new Uint8Array(300_000).map((_, i) => i % 251)
  const s = new GobMessageSplitter(claimed)
  const got: Uint8Array[] = []
  const stream = new Uint8Array([...encodeUint(body.length), ...body])
  for (let at = 0; at < stream.length; at += 777) got.push(...s.push(stream.subarray(at, at + 777)))
  t.equal(got.length, 1)
  t.same(Buffer.from(got[0] as Uint8Array).equals(Buffer.from(body)), true, 'the message arrives whole and unchanged')
  t.equal(got[0]?.length, body.length, 'and exactly its size')

  for (const count of [claimed + 1, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    const b0 = buffers()
    t.throws(() => new GobMessageSplitter(claimed).push(encodeUint(count)), /over the \d+-byte limit/, `a count of ${count} is refused`)
    t.ok(buffers() - b0 < MiB, 'before allocating')
  }
})

t.test('mutated Go yamux streams: a clean protocol error or a live session, within bounded memory', async (t) => {
  const outcomes = { refused: 0, open: 0 }
  let slowest = 0
  let retained = 0 // sampled every 250 cases after a full GC: what the cases leave behind
  const base = retainedBuffers()
  const runs = scale(1_000, 30_000)
  let cases = 0
  const started = performance.now()
  await assertProperty(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4096 }), async (edits, chunk) => {
    const t0 = performance.now()
    outcomes[feedYamux(mutate(yamuxVector, edits), chunk)]++
    slowest = Math.max(slowest, performance.now() - t0)
    // A destroyed socket lets go of its buffers on a later tick: let the event loop turn, as
    // it does between a real plugin's reads.
    await new Promise((resolve) => setImmediate(resolve))
    if (++cases % 250 === 0) retained = Math.max(retained, retainedBuffers() - base)
  }), { numRuns: runs })
  t.ok(outcomes.refused > 0 && outcomes.open > 0, `outcomes ${JSON.stringify(outcomes)}`)
  t.ok(retained < 8 * MiB, `ArrayBuffer memory still held (after GC) above the start: at most ${(retained / MiB).toFixed(1)} MiB`)
  report(t, 'fuzz yamux', { runs, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), ...outcomes, slowestMs: Number(slowest.toFixed(1)), retainedMiB: Number((retained / MiB).toFixed(1)) })
})

t.test('a yamux data frame claiming 4 GiB is refused without allocating it', async (t) => {
  const open = encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1, length: 0 })
  const huge = encodeHeader({ type: FrameType.Data, flags: 0, streamId: 1, length: 2 ** 32 - 1 })
  const before = buffers()
  const outcome = feedYamux(new Uint8Array([...open, ...huge, ...new Uint8Array(1000)]), 64)
  t.equal(outcome, 'refused', 'over the receive window: a protocol error')
  t.ok(buffers() - before < MiB, `held ${((buffers() - before) / 1024).toFixed(0)} KiB`)
})
