/**
 * net/rpc over gob on one yamux stream, and go-plugin's broker handshake, driven from a fake
 * host that writes requests as Go's net/rpc client does (Request header, then the argument)
 * and reads the replies back.
 */
import t from 'tap'
import { GobDecoder } from '../../src/plugin/gob/decoder.js'
import { GobEncoder, GobTypes, type EncodableValue, type GobType } from '../../src/plugin/gob/encoder.js'
import { GobMessageSplitter } from '../../src/plugin/gob/framing.js'
import { isGobStruct, type GobValue } from '../../src/plugin/gob/wire.js'
import { PluginLogger } from '../../src/plugin/log.js'
import { MuxBroker } from '../../src/plugin/netrpc/broker.js'
import { RpcServer, type RpcMethod } from '../../src/plugin/netrpc/server.js'
import { FrameType } from '../../src/plugin/yamux/frame.js'
import { YamuxStream, type StreamHost } from '../../src/plugin/yamux/stream.js'

const RequestType: GobType = { kind: 'struct', name: 'Request', fields: [{ name: 'ServiceMethod', type: GobTypes.string }, { name: 'Seq', type: GobTypes.uint }] }

const logLines: string[] = []
const log = new PluginLogger({ write: (l: string) => logLines.push(l) }, 'debug')

/** A stream whose far end is the test: what the plugin writes lands in `sent`. */
function fakeStream (id = 7): { stream: YamuxStream, sent: Uint8Array[], frames: Array<[number, number]>, feed: (b: Uint8Array) => void } {
  const sent: Uint8Array[] = []
  const frames: Array<[number, number]> = []
  const host: StreamHost = {
    writable: true,
    sendFrame: (type, flags, _id, _len, payload) => {
      frames.push([type, flags])
      if (type === FrameType.Data && payload !== undefined) sent.push(payload.slice())
    },
    streamClosed: () => {},
  }
  const stream = new YamuxStream(id, host)
  return { stream, sent, frames, feed: (b) => { stream.admit(b.length); stream.receive(b) } }
}

class FakeClient {
  private readonly enc = new GobEncoder()
  private readonly dec = new GobDecoder()
  private readonly split = new GobMessageSplitter(1 << 24)
  private consumed = 0
  constructor (private readonly s: ReturnType<typeof fakeStream>) {}

  call (method: string, seq: number, argType: GobType, arg: EncodableValue): void {
    this.s.feed(this.enc.encodeAll([[RequestType, { ServiceMethod: method, Seq: seq }], [argType, arg]]))
  }

  /** Replies so far, as [header, body] pairs. */
  replies (): Array<{ ServiceMethod: string, Seq: number, Error: string, body: GobValue }> {
    for (; this.consumed < this.s.sent.length; this.consumed++) for (const m of this.split.push(this.s.sent[this.consumed] as Uint8Array)) this.dec.pushMessage(m)
    const values: GobValue[] = []
    for (let v = this.dec.tryDecode(); v !== undefined; v = this.dec.tryDecode()) values.push(v.value)
    this.pending.push(...values)
    const out = []
    while (this.pending.length >= 2) {
      const h = this.pending.shift()
      const body = this.pending.shift() as GobValue
      if (!isGobStruct(h)) throw new Error('reply header is not a struct')
      out.push({ ServiceMethod: String(h.ServiceMethod ?? ''), Seq: Number(h.Seq ?? 0), Error: String(h.Error ?? ''), body })
    }
    this.done.push(...out)
    return this.done
  }

  private readonly pending: GobValue[] = []
  private readonly done: Array<{ ServiceMethod: string, Seq: number, Error: string, body: GobValue }> = []
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
}

t.test('calls run concurrently and replies are matched by Seq, in the order they finish', async (t) => {
  let release: () => void = () => {}
  const slow: RpcMethod = async (args) => { await new Promise<void>((resolve) => { release = resolve }); return { type: GobTypes.string, value: `slow ${String(args)}` } }
  const fast: RpcMethod = (args) => ({ type: GobTypes.string, value: `fast ${String(args)}` })
  const server = new RpcServer(new Map([['Svc', new Map([['Slow', slow], ['Fast', fast]])]]), { log })
  const s = fakeStream()
  const client = new FakeClient(s)
  const served = server.serve(s.stream)
  client.call('Svc.Slow', 0, GobTypes.string, 'a')
  client.call('Svc.Fast', 1, GobTypes.string, 'b')
  await until(() => client.replies().length === 1)
  t.match(client.replies()[0], { ServiceMethod: 'Svc.Fast', Seq: 1, Error: '', body: 'fast b' }, 'the later, faster call is answered first')
  release()
  await until(() => client.replies().length === 2)
  t.match(client.replies()[1], { ServiceMethod: 'Svc.Slow', Seq: 0, Error: '', body: 'slow a' })
  s.stream.remoteFin()
  await served
})

t.test('net/rpc errors: unknown service or method, ill-formed name, a failing method', async (t) => {
  const server = new RpcServer(new Map([['Svc', new Map<string, RpcMethod>([['Boom', () => { throw new Error('it broke') }]])]]), { log })
  const s = fakeStream()
  const client = new FakeClient(s)
  void server.serve(s.stream)
  client.call('Nope.Method', 1, GobTypes.bool, true)
  client.call('Svc.Nope', 2, GobTypes.bool, true)
  client.call('NoDot', 3, GobTypes.bool, true)
  client.call('Svc.Boom', 4, GobTypes.bool, true)
  await until(() => client.replies().length === 4)
  const bySeq = new Map(client.replies().map((r) => [r.Seq, r]))
  t.equal(bySeq.get(1)?.Error, "rpc: can't find service Nope.Method")
  t.equal(bySeq.get(2)?.Error, "rpc: can't find method Svc.Nope")
  t.equal(bySeq.get(3)?.Error, 'rpc: service/method request ill-formed: NoDot')
  t.equal(bySeq.get(4)?.Error, 'it broke')
  for (const r of client.replies()) t.ok(isGobStruct(r.body) && Object.keys(r.body).length === 0, `seq ${r.Seq}: empty struct body, as net/rpc sends`)
})

t.test('at most maxInFlight calls run; further requests wait unread in the stream', async (t) => {
  let started = 0
  const releases: Array<() => void> = []
  const hold: RpcMethod = async () => { started++; await new Promise<void>((resolve) => releases.push(resolve)); return { type: GobTypes.bool, value: true } }
  const server = new RpcServer(new Map([['Svc', new Map([['Hold', hold]])]]), { log, maxInFlight: 2 })
  const s = fakeStream()
  const client = new FakeClient(s)
  void server.serve(s.stream)
  for (let i = 0; i < 5; i++) client.call('Svc.Hold', i, GobTypes.bool, true)
  await until(() => started === 2)
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(started, 2, 'two running')
  t.ok(s.stream.buffered > 0, 'the rest stays in the stream buffer, where the yamux window holds the host back')
  releases.shift()?.()
  await until(() => started === 3)
  t.equal(started, 3, 'a finished call lets the next one in')
  for (const r of releases.splice(0)) r()
  await until(() => started === 5)
  for (const r of releases.splice(0)) r()
  await until(() => client.replies().length === 5)
  t.equal(client.replies().length, 5)
})

t.test('a stream that is not net/rpc over gob is reset', async (t) => {
  const server = new RpcServer(new Map(), { log })
  const s = fakeStream()
  const served = server.serve(s.stream)
  s.feed(new Uint8Array([3, 4, 0, 0x54])) // a bare int where a Request header belongs
  await t.rejects(served, /request header is not a struct/)
  t.ok(s.frames.some(([type, flags]) => type === FrameType.WindowUpdate && (flags & 8) !== 0), 'RST sent')
})

t.test('broker: the 4-byte little-endian id is echoed, in either order, within the timeout', async (t) => {
  const broker = new MuxBroker(log, 200)
  t.teardown(() => { broker.close() })
  const served: Array<[number, Uint8Array]> = []

  const first = broker.reserve((stream, rest) => { served.push([stream.id, rest]) })
  t.equal(first, 1, 'ids start at 1')
  const a = fakeStream(7)
  void broker.accept(a.stream)
  a.feed(new Uint8Array([1, 0])) // the id split across two frames
  a.feed(new Uint8Array([0, 0, 0xaa, 0xbb])) // and the first request bytes right behind it
  await until(() => served.length === 1)
  t.strictSame([...(a.sent[0] ?? [])], [1, 0, 0, 0], 'ack: the same id, little-endian')
  t.strictSame([...(served[0]?.[1] ?? [])], [0xaa, 0xbb], 'bytes after the id go to the RPC server')

  const b = fakeStream(9)
  void broker.accept(b.stream)
  b.feed(new Uint8Array([2, 0, 0, 0]))
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(broker.reserve((stream) => { served.push([stream.id, new Uint8Array()]) }), 2, 'stream first, dispense second')
  await until(() => served.length === 2)
  t.equal(served[1]?.[0], 9)

  const stray = fakeStream(11)
  void broker.accept(stray.stream)
  stray.feed(new Uint8Array([9, 0, 0, 0]))
  await until(() => stray.stream.isReset)
  t.ok(stray.stream.isReset, 'an id nobody dispensed is reset after the timeout')

  const silent = fakeStream(13)
  void broker.accept(silent.stream)
  await until(() => silent.stream.isReset)
  t.ok(silent.stream.isReset, 'a stream that never sends its id is reset after the timeout')
})

t.test('when the host closes its side, running calls are still answered, then the stream is closed', async (t) => {
  let release: () => void = () => {}
  const slow: RpcMethod = async () => { await new Promise<void>((resolve) => { release = resolve }); return { type: GobTypes.string, value: 'late' } }
  const server = new RpcServer(new Map([['Svc', new Map([['Slow', slow]])]]), { log })
  const s = fakeStream()
  const client = new FakeClient(s)
  const served = server.serve(s.stream)
  client.call('Svc.Slow', 5, GobTypes.bool, true)
  await until(() => s.stream.buffered === 0)
  s.stream.remoteFin()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(s.frames.some(([type, flags]) => type === FrameType.WindowUpdate && (flags & 4) !== 0), 'no FIN while a call runs')
  release()
  await served
  t.match(client.replies()[0], { Seq: 5, body: 'late' }, 'the running call was answered')
  t.ok(s.frames.some(([type, flags]) => type === FrameType.WindowUpdate && (flags & 4) !== 0), 'then FIN')
})
