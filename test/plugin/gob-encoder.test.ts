/**
 * The gob encoder: what it writes must be what Go's encoding/gob reads into Argo's reply types
 * (checked with test/go-host `vectors decode` where Go is installed), and it must keep its
 * per-stream type state consistent when a value cannot be encoded.
 */
import { execFile } from 'node:child_process'
import t from 'tap'
import { MeasurementType, RpcErrorType, StringMapType } from '../../src/plugin/argo.js'
import { GobDecoder } from '../../src/plugin/gob/decoder.js'
import { GobEncoder, GobTypes, type EncodableValue, type GobType } from '../../src/plugin/gob/encoder.js'
import { GobMessageSplitter } from '../../src/plugin/gob/framing.js'
import { decodeGoTime, encodeGoTime } from '../../src/plugin/gob/time.js'
import { isGobStruct, type GobValue } from '../../src/plugin/gob/wire.js'
import { EmptyStructType, ResponseType } from '../../src/plugin/netrpc/types.js'
import { goProgram } from './helpers/go.js'
import { hex } from './helpers/tagged.js'

const started = Date.UTC(2026, 10, 26, 9, 30, 15, 123)
const steps: Array<{ go: string, type: GobType, value: EncodableValue }> = [
  { go: 'Response', type: ResponseType, value: { ServiceMethod: 'Plugin.Run', Seq: 2n ** 40n, Error: '' } },
  {
    go: 'Measurement',
    type: MeasurementType,
    value: {
      Phase: 'Successful',
      Message: 'PASS score 97 — naïve ☃',
      Value: '97',
      Metadata: { verdict: 'pass', score: '97', empty: '' },
      StartedAt: encodeGoTime(started),
      FinishedAt: encodeGoTime(started + 40, 5),
    },
  },
  { go: 'Response', type: ResponseType, value: { ServiceMethod: 'Plugin.Nope', Seq: 0, Error: "rpc: can't find method Plugin.Nope" } },
  { go: 'struct{}', type: EmptyStructType, value: {} },
  { go: 'Response', type: ResponseType, value: { ServiceMethod: 'Plugin.InitPlugin', Seq: 1, Error: '' } },
  { go: 'RpcError', type: RpcErrorType, value: { ErrorString: 'boom' } },
  { go: 'string', type: GobTypes.string, value: 'RPCPlugin' },
  { go: 'uint32', type: GobTypes.uint, value: 7 },
  { go: 'map[string]string', type: StringMapType, value: new Map([['stage', 'canary-1'], ['gate', 'http://x/api/v1/score']]) },
  { go: 'Measurement', type: MeasurementType, value: { Phase: 'Error', Message: 'second Measurement: type already defined' } },
  { go: 'RpcError', type: RpcErrorType, value: { ErrorString: '' } },
  { go: 'string', type: GobTypes.string, value: '' },
]

/** What Go must decode from the stream (cmd/vectors decodeReplies' rendering). */
const expected = [
  { ServiceMethod: 'Plugin.Run', Seq: 2 ** 40, Error: '' },
  {
    Phase: 'Successful',
    Message: 'PASS score 97 — naïve ☃',
    Value: '97',
    Metadata: { verdict: 'pass', score: '97', empty: '' },
    StartedAt: '2026-11-26T09:30:15.123Z',
    FinishedAt: '2026-11-26T09:30:15.163000005Z',
    ResumeAt: null,
  },
  { ServiceMethod: 'Plugin.Nope', Seq: 0, Error: "rpc: can't find method Plugin.Nope" },
  {},
  { ServiceMethod: 'Plugin.InitPlugin', Seq: 1, Error: '' },
  { ErrorString: 'boom' },
  'RPCPlugin',
  7,
  { stage: 'canary-1', gate: 'http://x/api/v1/score' },
  { Phase: 'Error', Message: 'second Measurement: type already defined', Value: '', Metadata: null, StartedAt: null, FinishedAt: null, ResumeAt: null },
  { ErrorString: '' },
  '',
]

function encodeStream (): Uint8Array {
  const enc = new GobEncoder()
  return enc.encodeAll(steps.map((s) => [s.type, s.value] as const))
}

function decodeAll (bytes: Uint8Array): GobValue[] {
  const dec = new GobDecoder()
  const split = new GobMessageSplitter(dec.maxMessageBytes)
  for (const m of split.push(bytes)) dec.pushMessage(m)
  const out: GobValue[] = []
  for (let v = dec.tryDecode(); v !== undefined; v = dec.tryDecode()) out.push(v.value)
  return out
}

t.test('Go decodes the encoder\'s stream into Argo\'s and net/rpc\'s types', async (t) => {
  const vectors = await goProgram(t, 'vectors')
  if (vectors === undefined) return
  const input = JSON.stringify({ hex: hex(encodeStream()), steps: steps.map((s) => ({ type: s.go })) })
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(vectors, ['decode'], (err, out, errOut) => { if (err !== null) reject(new Error(`${err.message}\n${errOut}`)); else resolve(out) })
    child.stdin?.end(input)
  })
  t.strictSame(JSON.parse(stdout), expected)
})

t.test('the decoder reads the encoder\'s stream back', async (t) => {
  const values = decodeAll(encodeStream())
  t.equal(values.length, steps.length)
  const m = values[1]
  t.ok(isGobStruct(m))
  if (!isGobStruct(m)) return
  t.equal(m.Phase, 'Successful')
  t.strictSame([...(m.Metadata as Map<string, string>).entries()], [['verdict', 'pass'], ['score', '97'], ['empty', '']], 'map values are sent even when empty')
  t.equal(values[0] !== null && isGobStruct(values[0]) ? values[0].Seq : undefined, 2 ** 40)
  t.equal(values[7], 7)
  t.equal(values[11], '', 'a top-level zero string is still sent')
})

t.test('a value that cannot be encoded leaves the stream\'s type state as it was', async (t) => {
  const enc = new GobEncoder()
  t.throws(() => enc.encodeAll([[ResponseType, { ServiceMethod: 'x', Seq: 1 }], [MeasurementType, { Phase: 42 } as unknown as EncodableValue]]), /expected a string/)
  // Response must be defined again in the next message: the failed attempt sent nothing.
  const values = decodeAll(enc.encodeAll([[ResponseType, { ServiceMethod: 'Plugin.Type', Seq: 3 }], [GobTypes.string, 'RPCPlugin']]))
  t.equal(values.length, 2)
  t.equal(values[1], 'RPCPlugin')
})

t.test('Go time payloads round-trip', async (t) => {
  for (const ms of [0, Date.UTC(1969, 6, 20, 20, 17, 40, 999), Date.UTC(2026, 10, 26, 9, 0, 0, 1), -62135596800000]) {
    const back = decodeGoTime(encodeGoTime(ms, 777))
    t.equal(back.epochMs, ms, new Date(ms).toISOString())
    t.equal(back.nanos % 1e6, 777, 'sub-millisecond nanoseconds kept')
    t.equal(back.offsetSeconds, null, 'UTC')
  }
  t.equal(decodeGoTime(encodeGoTime(-62135596800000)).isZero, true, "Go's zero time")
  t.throws(() => decodeGoTime(new Uint8Array([3, 0])), /unsupported version 3/)
  t.throws(() => decodeGoTime(new Uint8Array(14).fill(1)), /14 bytes, want 15/)
})
