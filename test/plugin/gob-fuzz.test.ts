/**
 * Hostile and broken gob input: random bytes, mutated Go vectors, and hand-made lies (huge
 * counts, deep nesting, bad type definitions). Every case must end in a GATE_ERR_PLUGIN_PROTOCOL
 * error, a decoded value, or a wait for more input: never another exception (a RangeError from
 * a huge allocation, a stack overflow), and never a loop that outlives its input.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import t from 'tap'
import { isGateError } from '../../src/errors.js'
import { GobWriter, encodeUint } from '../../src/plugin/gob/bytes.js'
import { GobDecoder, type GobLimits } from '../../src/plugin/gob/decoder.js'
import { GobMessageSplitter } from '../../src/plugin/gob/framing.js'
import { TypeId } from '../../src/plugin/gob/wire.js'
import { assertProperty } from '../helpers/property.js'
import { unhex } from './helpers/tagged.js'

const vectors = (JSON.parse(readFileSync(new URL('../fixtures/plugin/gob-vectors.json', import.meta.url), 'utf8')) as Array<{ hex: string }>).map((v) => unhex(v.hex))

type Outcome = 'decoded' | 'incomplete' | 'refused'

/** Feeds `bytes` in chunks; the outcome, or throws when an error is not a clean refusal. */
function feed (bytes: Uint8Array, chunks: number[], limits: Partial<GobLimits> = {}): Outcome {
  const decoder = new GobDecoder(limits)
  const splitter = new GobMessageSplitter(decoder.maxMessageBytes)
  let decoded = false
  try {
    let at = 0
    let i = 0
    while (at < bytes.length) {
      const n = Math.max(1, chunks[i++ % Math.max(1, chunks.length)] ?? bytes.length)
      for (const m of splitter.push(bytes.subarray(at, at + n))) decoder.pushMessage(m)
      at += n
      for (let v = decoder.tryDecode(); v !== undefined; v = decoder.tryDecode()) decoded = true
    }
  } catch (err) {
    if (isGateError(err) && err.code === 'GATE_ERR_PLUGIN_PROTOCOL' && err.message.startsWith('gob: ')) return 'refused'
    throw err
  }
  return decoded ? 'decoded' : 'incomplete'
}

/** One message: its byte count, then the body. */
function message (body: GobWriter): Uint8Array {
  const b = body.bytes()
  return new Uint8Array([...encodeUint(b.length), ...b])
}

/** The definition of a struct type with the given fields, as a message. */
function structDef (id: number, name: string, fields: Array<[string, number]>): Uint8Array {
  const w = new GobWriter()
  w.writeInt(-id)
  w.writeUint(3); w.writeUint(1); w.writeUint(1); w.writeString(name); w.writeUint(1); w.writeInt(id); w.writeUint(0)
  if (fields.length > 0) {
    w.writeUint(1); w.writeUint(fields.length)
    for (const [n, fid] of fields) { w.writeUint(1); w.writeString(n); w.writeUint(1); w.writeInt(fid); w.writeUint(0) }
  }
  w.writeUint(0); w.writeUint(0)
  return message(w)
}

function sliceDef (id: number, elem: number): Uint8Array {
  const w = new GobWriter()
  w.writeInt(-id)
  w.writeUint(2); w.writeUint(1); w.writeUint(1); w.writeString('[]T'); w.writeUint(1); w.writeInt(id); w.writeUint(0)
  w.writeUint(1); w.writeInt(elem); w.writeUint(0); w.writeUint(0)
  return message(w)
}

function valueOf (id: number, write: (w: GobWriter) => void): Uint8Array {
  const w = new GobWriter()
  w.writeInt(id)
  write(w)
  return message(w)
}

/** The same message with one more byte in it. */
function withTrailer (msg: Uint8Array, byte: number): Uint8Array {
  const body = msg.subarray(1) // these test messages are under 128 bytes: a 1-byte count
  return new Uint8Array([body.length + 1, ...body, byte])
}

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(parts.flatMap((p) => [...p]))

t.test('random bytes end cleanly', async (t) => {
  assertProperty(fc.property(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }), (bytes, chunks) => {
    feed(bytes, chunks)
  }), { numRuns: 400 })
  t.pass('400 random streams: values, waits or GATE_ERR_PLUGIN_PROTOCOL only')
})

t.test('mutated Go vectors end cleanly', async (t) => {
  const mutation = fc.record({
    vector: fc.integer({ min: 0, max: vectors.length - 1 }),
    edits: fc.array(fc.record({ kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
    chunks: fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 4 }),
  })
  const outcomes = { decoded: 0, incomplete: 0, refused: 0 }
  assertProperty(fc.property(mutation, ({ vector, edits, chunks }) => {
    const bytes = [...(vectors[vector] as Uint8Array)]
    for (const e of edits) {
      const at = bytes.length === 0 ? 0 : e.at % bytes.length
      if (e.kind === 'flip') bytes[at] = e.byte
      else if (e.kind === 'insert') bytes.splice(at, 0, e.byte)
      else if (e.kind === 'delete') bytes.splice(at, 1)
      else bytes.length = at
    }
    outcomes[feed(new Uint8Array(bytes), chunks)]++
  }), { numRuns: 600 })
  t.ok(outcomes.refused > 0, `mutations refused: ${outcomes.refused}`)
  t.ok(outcomes.decoded > 0, `mutations that still decode (a changed value is still a value): ${outcomes.decoded}`)
})

t.test('counts that the input cannot hold are refused before allocating', async (t) => {
  const huge = 2 ** 40
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['slice of 2^40 ints', concat(sliceDef(65, TypeId.int), valueOf(65, (w) => { w.writeUint(0); w.writeUint(huge) })), /too large|over the limit/],
    ['slice of 1M ints in 3 bytes', concat(sliceDef(65, TypeId.int), valueOf(65, (w) => { w.writeUint(0); w.writeUint(1_000_000) })), /cannot fit in the \d+ bytes left/],
    ['string of 1 GiB', valueOf(TypeId.string, (w) => { w.writeUint(0); w.writeUint(1 << 30) }), /needs 1073741824 bytes/],
    ['bytes of 2^62', valueOf(TypeId.bytes, (w) => { w.writeUint(0); w.writeUint(2n ** 62n) }), /too large/],
    ['uint of 9 bytes', new Uint8Array([3, 0xf7, 1, 2]), /byte count 9 is over 8/],
    ['message of 2^40 bytes', new Uint8Array([...encodeUint(huge), 1]), /over the \d+-byte limit/],
    ['empty message', new Uint8Array([0]), /byte count of 0/],
    ['interface name of 10 KiB', valueOf(TypeId.interface, (w) => { w.writeUint(0); w.writeUint(10240); w.writeRaw(new Uint8Array(10240)) }), /interface type name of 10240 bytes/],
    ['reserved type id', structDef(20, 'x', []), /reserved/],
    ['type defined twice', concat(structDef(65, 'A', []), structDef(65, 'A', [])), /defined twice/],
    ['undefined type id', valueOf(99, (w) => { w.writeUint(0) }), /never defined/],
    ['field number past the struct', concat(structDef(65, 'P', [['X', TypeId.int]]), valueOf(65, (w) => { w.writeUint(2); w.writeInt(1); w.writeUint(0) })), /field number 1 out of range/],
    ['struct field of type id 0', structDef(65, 'P', [['X', 0]]), /has type id 0/],
    ['singleton with a non-zero delta', valueOf(TypeId.int, (w) => { w.writeUint(1); w.writeInt(5) }), /non-zero field delta/],
    ['data after a definition (outside an interface)', withTrailer(structDef(65, 'A', []), 5), /extra data after the definition of type 65/],
  ]
  for (const [name, bytes, pattern] of cases) {
    t.equal(feed(bytes, [bytes.length]) === 'refused' ? 'refused' : 'not refused', 'refused', name)
    const decoder = new GobDecoder()
    const splitter = new GobMessageSplitter(decoder.maxMessageBytes)
    t.throws(() => { for (const m of splitter.push(bytes)) decoder.pushMessage(m); decoder.tryDecode() }, pattern, `${name}: says why`)
  }
})

t.test('deep nesting and many small values hit limits, not the stack or the heap', async (t) => {
  // type T struct { Next *T }, nested 20 000 deep: 2 bytes a level.
  const levels = 20_000
  const deep = concat(structDef(65, 'T', [['Next', 65]]), valueOf(65, (w) => {
    for (let i = 0; i < levels; i++) w.writeUint(1)
    for (let i = 0; i < levels + 1; i++) w.writeUint(0)
  }))
  t.throws(() => feedOrThrow(deep), /nested deeper than 100 levels/)

  // 200 000 empty structs in a slice: 1 byte each on the wire, a JS object each in memory.
  const many = concat(structDef(65, 'E', []), sliceDef(66, 65), valueOf(66, (w) => {
    w.writeUint(0); w.writeUint(200_000)
    for (let i = 0; i < 200_000; i++) w.writeUint(0)
  }))
  t.throws(() => feedOrThrow(many, { maxNodes: 100_000 }), /more than 100000 parts/)
  t.equal(feed(many, [many.length]), 'decoded', 'within the default limits it decodes')

  // A slice of itself: type S []S, each level one count byte.
  const selfSlice = concat(sliceDef(65, 65), valueOf(65, (w) => { w.writeUint(0); for (let i = 0; i < 5000; i++) w.writeUint(1); w.writeUint(0) }))
  t.throws(() => feedOrThrow(selfSlice), /nested deeper/)
})

t.test('a value spread over messages waits for them, then decodes; its partial types are not kept', async (t) => {
  const v = vectors.find((b) => b.length > 5000) as Uint8Array
  const decoder = new GobDecoder()
  const splitter = new GobMessageSplitter(decoder.maxMessageBytes)
  let values = 0
  for (let i = 0; i < v.length; i += 100) {
    for (const m of splitter.push(v.subarray(i, i + 100))) decoder.pushMessage(m)
    while (decoder.tryDecode() !== undefined) values++
  }
  t.equal(values, 2, 'request header and RunArgs, fed 100 bytes at a time')
  t.equal(decoder.hasPartialValue, false)

  const limited = new GobDecoder({ maxPendingBytes: 2000 })
  const split2 = new GobMessageSplitter(limited.maxMessageBytes)
  t.throws(() => { for (const m of split2.push(v)) limited.pushMessage(m) }, /spanning over 2000 bytes/, 'bytes held for one value are bounded')
})

function feedOrThrow (bytes: Uint8Array, limits: Partial<GobLimits> = {}): void {
  const decoder = new GobDecoder(limits)
  const splitter = new GobMessageSplitter(decoder.maxMessageBytes)
  for (const m of splitter.push(bytes)) decoder.pushMessage(m)
  while (decoder.tryDecode() !== undefined) { /* drain */ }
}
