/**
 * The gob decoder against bytes written by Go's own encoding/gob. The committed vectors
 * (test/fixtures/plugin/gob-vectors.json) were written by test/go-host's `vectors gob`; where
 * Go is installed the vectors are also produced afresh and checked the same way, so the
 * committed file cannot drift from what Go writes.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { GobWriter, encodeUint } from '../../src/plugin/gob/bytes.js'
import { GobDecoder } from '../../src/plugin/gob/decoder.js'
import { GobMessageSplitter } from '../../src/plugin/gob/framing.js'
import { decodeGoTime } from '../../src/plugin/gob/time.js'
import { GobInterface, GobOpaque, isGobStruct, type GobValue } from '../../src/plugin/gob/wire.js'
import { goProgram } from './helpers/go.js'
import { tagged, unhex } from './helpers/tagged.js'

interface Vector { name: string, description: string, hex: string, values: unknown[] }

const committed = JSON.parse(readFileSync(new URL('../fixtures/plugin/gob-vectors.json', import.meta.url), 'utf8')) as Vector[]

/** Decodes a whole stream, fed in chunks of `chunk` bytes, as the plugin receives it. */
export function decodeStream (bytes: Uint8Array, chunk: number): GobValue[] {
  const decoder = new GobDecoder()
  const splitter = new GobMessageSplitter(decoder.maxMessageBytes)
  const values: GobValue[] = []
  for (let i = 0; i < bytes.length; i += chunk) {
    for (const m of splitter.push(bytes.subarray(i, i + chunk))) decoder.pushMessage(m)
    for (let d = decoder.tryDecode(); d !== undefined; d = decoder.tryDecode()) values.push(d.value)
  }
  if (splitter.midMessage || decoder.hasPartialValue) throw new Error('stream ended inside a value')
  return values
}

function checkVectors (t: Test, vectors: Vector[]): void {
  for (const v of vectors) {
    for (const chunk of [1 << 20, 7, 1]) {
      const got = decodeStream(unhex(v.hex), chunk)
      t.strictSame(got.map(tagged), v.values, `${v.name} (${v.description}), fed ${chunk === 1 << 20 ? 'whole' : `in ${chunk}-byte chunks`}`)
    }
  }
}

t.test('committed Go vectors decode to the values Go encoded', async (t) => {
  t.ok(committed.length >= 10, 'vectors present')
  checkVectors(t, committed)
})

t.test('the doc.go examples decode byte for byte', async (t) => {
  const point = committed.find((v) => v.name === 'point-twice')
  // doc.go "an encoded example": the definition of Point, then 07 ff 82 01 2c 01 42 00, twice.
  t.equal(point?.hex, '1fff810301010550' + '6f696e7401ff8200' + '0102010158010400' + '01015901040000' + '00' + '07ff82012c014200' + '07ff82012c014200')
  t.equal(committed.find((v) => v.name === 'int')?.hex, '03040054')
})

t.test('an Argo Plugin.Run request: header then interface{} holding RunArgs with the full tree', async (t) => {
  const v = committed.find((x) => x.name === 'rpc-run-request')
  if (v === undefined) return t.fail('vector missing')
  const [header, body] = decodeStream(unhex(v.hex), 4096)
  t.ok(isGobStruct(header))
  if (!isGobStruct(header)) return
  t.equal(header.ServiceMethod, 'Plugin.Run')
  t.equal(header.Seq, undefined, 'Seq 0 is a zero field: not sent')
  t.ok(body instanceof GobInterface, 'body is an interface value')
  if (!(body instanceof GobInterface) || !isGobStruct(body.value)) return t.fail('RunArgs struct expected')
  t.equal(body.name, 'RunArgs')
  const run = body.value.AnalysisRun
  if (!isGobStruct(run)) return t.fail('AnalysisRun expected')
  const meta = run.ObjectMeta
  if (!isGobStruct(meta)) return t.fail('ObjectMeta expected')
  t.equal(meta.Namespace, 'agents')
  t.equal((meta.Labels as Map<string, string>).get('rollouts-pod-template-hash'), '6d4f8b7c9')
  const status = run.Status
  if (!isGobStruct(status) || !(status.StartedAt instanceof GobOpaque)) return t.fail('Status.StartedAt expected')
  t.equal(status.StartedAt.typeName, 'Time')
  t.equal(new Date(decodeGoTime(status.StartedAt.bytes).epochMs).toISOString(), '2026-11-26T09:00:00.000Z')
  const metric = body.value.Metric
  if (!isGobStruct(metric) || !isGobStruct(metric.Provider)) return t.fail('Metric.Provider expected')
  const config = (metric.Provider.Plugin as Map<string, Uint8Array>).get('cordum/agent-canary-gate')
  t.ok(config instanceof Uint8Array, 'json.RawMessage arrives as []byte')
  t.equal(JSON.parse(Buffer.from(config as Uint8Array).toString()).stage, 'canary-1')
})

t.test('Go time payloads: version 1 (UTC, fixed zone) and version 2 (offset with seconds)', async (t) => {
  const v = committed.find((x) => x.name === 'external')
  if (v === undefined) return t.fail('vector missing')
  const [ext] = decodeStream(unhex(v.hex), 1 << 20)
  if (!isGobStruct(ext)) return t.fail('struct expected')
  const when = decodeGoTime((ext.When as GobOpaque).bytes)
  t.equal(new Date(when.epochMs).toISOString(), '2026-11-26T09:30:15.123Z')
  t.equal(when.nanos, 123456789)
  t.equal(when.offsetSeconds, null, 'UTC')
  const zone = decodeGoTime((ext.Zone as GobOpaque).bytes)
  t.equal(zone.offsetSeconds, 5 * 3600 + 30 * 60)
  t.equal(new Date(zone.epochMs).toISOString(), '2026-03-01T06:30:00.000Z')
  const odd = decodeGoTime(((ext.Schedule as Map<string, GobOpaque>).get('odd') as GobOpaque).bytes)
  t.equal(odd.offsetSeconds, 3617, 'version 2 carries the offset seconds')
  t.equal(new Date(odd.epochMs).toISOString(), '1889-12-31T22:59:43.000Z')
})

t.test('a TextMarshaler payload (hand-written: Go\'s encoder never emits this wire kind, decoders must accept it)', async (t) => {
  const def = new GobWriter()
  def.writeInt(-65)
  def.writeUint(7) // wireType.TextMarshalerT (field 6)
  def.writeUint(1) // gobEncoderType.CommonType
  def.writeUint(1); def.writeString('Color'); def.writeUint(1); def.writeInt(65); def.writeUint(0)
  def.writeUint(0); def.writeUint(0)
  const value = new GobWriter()
  value.writeInt(65); value.writeUint(0); value.writeString('teal')
  const framed = (w: GobWriter): number[] => [...encodeUint(w.length), ...w.bytes()]
  const [decoded] = decodeStream(new Uint8Array([...framed(def), ...framed(value)]), 3)
  t.ok(decoded instanceof GobOpaque)
  t.strictSame(tagged(decoded as GobValue), { $opaque: 'TextMarshaler', type: 'Color', hex: Buffer.from('teal').toString('hex') })
})

t.test('fresh vectors from Go decode the same way', async (t) => {
  const vectors = await goProgram(t, 'vectors')
  if (vectors === undefined) return
  const { stdout } = await promisify(execFile)(vectors, ['gob'], { maxBuffer: 64 << 20 })
  const fresh = JSON.parse(stdout) as Vector[]
  t.same(fresh.map((v) => v.name), committed.map((v) => v.name), 'same vector set as committed')
  checkVectors(t, fresh)
})
