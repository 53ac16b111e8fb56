/**
 * The yamux server session (src/plugin/yamux): frames written by hashicorp/yamux's client
 * (test/fixtures/plugin/yamux-frames.json, from test/go-host's `vectors yamux-frames`), flow
 * control both ways, resets, limits, and what it does with frames it must refuse.
 */
import { readFileSync } from 'node:fs'
import { Duplex } from 'node:stream'
import fc from 'fast-check'
import t from 'tap'
import { Flag, FrameParser, FrameType, GoAwayCode, INITIAL_WINDOW, type FrameHeader } from '../../src/plugin/yamux/frame.js'
import { isGateError } from '../../src/errors.js'
import { YamuxSession } from '../../src/plugin/yamux/session.js'
import type { YamuxStream } from '../../src/plugin/yamux/stream.js'
import { assertProperty } from '../helpers/property.js'
import { unhex } from './helpers/tagged.js'
import { until, yamuxPeer } from './helpers/yamux-peer.js'

interface FrameVector { description: string, hex: string, frames: Array<{ type: number, flags: number, stream: number, length: number, payload?: string }> }
const vector = JSON.parse(readFileSync(new URL('../fixtures/plugin/yamux-frames.json', import.meta.url), 'utf8')) as FrameVector

const WU = FrameType.WindowUpdate

t.test('frames written by the Go yamux client parse as the client meant them', async (t) => {
  const parsed: Array<FrameHeader & { payload: string }> = []
  let payload = ''
  const parser = new FrameParser({
    onFrame: () => {},
    onPayload: (_h, c) => { payload += Buffer.from(c).toString('hex') },
    onFrameEnd: (h) => { parsed.push({ ...h, payload }); payload = '' },
  })
  const bytes = unhex(vector.hex)
  for (let i = 0; i < bytes.length; i += 5) parser.push(bytes.subarray(i, i + 5)) // awkward splits on purpose
  t.equal(parsed.length, vector.frames.length, vector.description)
  vector.frames.forEach((f, i) => {
    const p = parsed[i]
    t.match(p, { type: f.type, flags: f.flags, streamId: f.stream, length: f.length }, `frame ${i}`)
    if (f.payload !== undefined) t.equal(p?.payload, f.payload, `frame ${i} payload`)
  })
})

t.test('a session answers the Go client: ACKs its streams, delivers data and FIN, echoes pings, notes go-away', async (t) => {
  const peer = await yamuxPeer()
  t.teardown(peer.close)
  peer.sendRaw(unhex(vector.hex))
  await peer.waitFor((f) => f.type === FrameType.Ping && (f.flags & Flag.ACK) !== 0)
  await until(() => peer.session.goneAway)
  t.strictSame(peer.frames.filter((f) => f.type === WU).map((f) => [f.streamId, f.flags]), [[1, Flag.ACK], [3, Flag.ACK]], 'each SYN answered with a window update carrying ACK')
  t.equal(peer.streams.length, 2)
  const [s1, s3] = peer.streams
  t.equal(Buffer.from(await s1!.read() ?? []).toString(), 'hello')
  t.equal(await s1!.read(), null, 'FIN: end of stream after the data')
  let got = 0
  while (got < 3000) got += (await s3!.read())?.length ?? 0
  t.equal(got, 3000)
  t.equal(peer.session.isClosed, false, 'a normal go-away does not end the session')
})

t.test('receive window: a reader that stops reading stops the sender; reading gives the window back', async (t) => {
  const peer = await yamuxPeer()
  t.teardown(peer.close)
  peer.send(FrameType.WindowUpdate, Flag.SYN, 1, 0)
  await until(() => peer.streams.length === 1)
  const stream = peer.streams[0]!
  const half = new Uint8Array(INITIAL_WINDOW / 2).fill(1)
  peer.send(FrameType.Data, 0, 1, half.length, half)
  peer.send(FrameType.Data, 0, 1, half.length, half)
  await until(() => stream.buffered === INITIAL_WINDOW)
  t.equal(peer.frames.filter((f) => f.type === WU && f.length > 0).length, 0, 'no window update while nothing was read')
  let read = 0
  while (read < INITIAL_WINDOW / 2) read += (await stream.read())?.length ?? 0
  const update = await peer.waitFor((f) => f.type === WU && f.streamId === 1 && f.length > 0)
  t.equal(update.length, read, 'the consumed bytes are returned as window')
  t.ok(stream.buffered <= INITIAL_WINDOW, 'never more than one window buffered')
})

t.test('a data frame beyond the window is a protocol error: go-away(1) and the session ends', async (t) => {
  const peer = await yamuxPeer()
  t.teardown(peer.close)
  peer.send(FrameType.WindowUpdate, Flag.SYN, 1, 0)
  const tooMuch = new Uint8Array(INITIAL_WINDOW + 1)
  peer.send(FrameType.Data, 0, 1, tooMuch.length, tooMuch)
  const goAway = await peer.waitFor((f) => f.type === FrameType.GoAway)
  t.equal(goAway.length, GoAwayCode.ProtocolError)
  const err = await peer.closed
  t.ok(isGateError(err) && err.code === 'GATE_ERR_PLUGIN_PROTOCOL', 'closed with a protocol error')
  t.match(err?.message, /exceeds the receive window/)
})

t.test('send window: writes wait for the peer\'s window updates, frames stay within it', async (t) => {
  const peer = await yamuxPeer()
  t.teardown(peer.close)
  peer.send(FrameType.WindowUpdate, Flag.SYN, 1, 0)
  await until(() => peer.streams.length === 1)
  const total = 600 * 1024
  let written = false
  void peer.streams[0]!.write(new Uint8Array(total).fill(7)).then(() => { written = true })
  const dataBytes = (): number => peer.frames.filter((f) => f.type === FrameType.Data).reduce((n, f) => n + f.length, 0)
  await until(() => dataBytes() === INITIAL_WINDOW)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(dataBytes(), INITIAL_WINDOW, 'stops at the initial window')
  t.equal(written, false, 'the write is still pending')
  t.ok(peer.frames.every((f) => f.type !== FrameType.Data || f.length <= 64 * 1024), 'frames of at most 64 KiB')
  peer.send(FrameType.WindowUpdate, 0, 1, total - INITIAL_WINDOW)
  await until(() => written && dataBytes() === total)
  t.pass('the rest goes once the window is granted')
})

t.test('RST from the host fails the reader; FIN ends it', async (t) => {
  const peer = await yamuxPeer()
  t.teardown(peer.close)
  peer.send(FrameType.WindowUpdate, Flag.SYN, 1, 0)
  peer.send(FrameType.WindowUpdate, Flag.SYN, 3, 0)
  await until(() => peer.streams.length === 2)
  const pending = peer.streams[0]!.read()
  peer.send(FrameType.WindowUpdate, Flag.RST, 1, 0)
  await t.rejects(pending, /reset by the host/)
  peer.send(FrameType.Data, Flag.FIN, 3, 2, new Uint8Array([1, 2]))
  t.strictSame([...(await peer.streams[1]!.read()) ?? []], [1, 2], 'data in the FIN frame is delivered')
  t.equal(await peer.streams[1]!.read(), null)
  peer.streams[1]!.close()
  await peer.waitFor((f) => f.type === WU && f.streamId === 3 && (f.flags & Flag.FIN) !== 0)
  t.equal(peer.session.streamCount, 0, 'closed both ways: forgotten')
})

t.test('pings are echoed with their opaque value', async (t) => {
  const peer = await yamuxPeer()
  t.teardown(peer.close)
  peer.send(FrameType.Ping, Flag.SYN, 0, 0xdeadbeef)
  const ack = await peer.waitFor((f) => f.type === FrameType.Ping)
  t.match(ack, { flags: Flag.ACK, streamId: 0, length: 0xdeadbeef })
})

t.test('refusals: even stream ids, duplicate SYN, too many streams, error go-away', async (t) => {
  const even = await yamuxPeer()
  t.teardown(even.close)
  even.send(FrameType.WindowUpdate, Flag.SYN, 2, 0)
  t.match((await even.closed)?.message, /stream ids are odd/)

  const dup = await yamuxPeer()
  t.teardown(dup.close)
  dup.send(FrameType.WindowUpdate, Flag.SYN, 1, 0)
  dup.send(FrameType.WindowUpdate, Flag.SYN, 1, 0)
  t.match((await dup.closed)?.message, /stream 1 opened twice/)

  const warnings: string[] = []
  const full = await yamuxPeer({ maxStreams: 2, onWarning: (m) => warnings.push(m) })
  t.teardown(full.close)
  for (const id of [1, 3, 5]) full.send(FrameType.WindowUpdate, Flag.SYN, id, 0)
  const rst = await full.waitFor((f) => (f.flags & Flag.RST) !== 0)
  t.equal(rst.streamId, 5, 'the stream over the limit is reset')
  t.equal(full.streams.length, 2)
  t.match(warnings.join('\n'), /refusing stream 5: 2 streams already open/)

  const gone = await yamuxPeer()
  t.teardown(gone.close)
  gone.send(FrameType.GoAway, 0, 0, GoAwayCode.InternalError)
  t.match((await gone.closed)?.message, /internal error/)

  const late = await yamuxPeer()
  t.teardown(late.close)
  late.send(FrameType.Data, 0, 99, 4, new Uint8Array(4)) // data for a stream that does not exist: dropped
  late.send(FrameType.Ping, Flag.SYN, 0, 1)
  await late.waitFor((f) => f.type === FrameType.Ping)
  t.equal(late.session.isClosed, false, 'a late frame for an unknown stream is dropped, the session goes on')

  const version = await yamuxPeer()
  t.teardown(version.close)
  version.sendRaw(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
  t.match((await version.closed)?.message, /protocol version 1/)
})

t.test('the connection ending mid-frame ends every stream', async (t) => {
  const peer = await yamuxPeer()
  peer.send(FrameType.WindowUpdate, Flag.SYN, 1, 0)
  await until(() => peer.streams.length === 1)
  const pending = peer.streams[0]!.read()
  peer.sendRaw(new Uint8Array([0, 0, 0]))
  peer.client.end()
  t.match((await peer.closed)?.message, /middle of a frame/)
  await t.rejects(pending)
  peer.close()
})

t.test('random frames and bytes: a clean protocol error or a live session, never a throw or an unbounded buffer', async (t) => {
  const frame = fc.record({
    type: fc.integer({ min: 0, max: 5 }),
    flags: fc.integer({ min: 0, max: 15 }),
    stream: fc.oneof(fc.constantFrom(0, 1, 3, 5, 7), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
    length: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(INITIAL_WINDOW, INITIAL_WINDOW + 1, 2 ** 32 - 1)),
    payload: fc.integer({ min: 0, max: 400 }),
  })
  const input = fc.oneof(
    fc.array(frame, { maxLength: 30 }).map((frames) => Buffer.concat(frames.map((f) => {
      const h = Buffer.alloc(12)
      h.writeUInt8(f.type, 1); h.writeUInt16BE(f.flags, 2); h.writeUInt32BE(f.stream >>> 0, 4); h.writeUInt32BE(f.length >>> 0, 8)
      return Buffer.concat([h, Buffer.alloc(f.type === 0 ? Math.min(f.length, f.payload) : 0, 0x41)])
    }))),
    fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b))
  )
  let closedWithError = 0
  let stayedOpen = 0
  await assertProperty(fc.asyncProperty(input, fc.integer({ min: 1, max: 50 }), async (bytes, chunk) => {
    const socket = new Duplex({ read () {}, write (_c, _e, cb) { cb() } })
    const streams: YamuxStream[] = []
    const session = new YamuxSession(socket, { onStream: (s) => { streams.push(s) }, maxStreams: 8 })
    let closeErr: Error | undefined
    let closed = false
    session.on('close', (err) => { closed = true; closeErr = err })
    for (let i = 0; i < bytes.length; i += chunk) socket.emit('data', bytes.subarray(i, i + chunk))
    for (const s of streams) if (s.buffered > INITIAL_WINDOW) throw new Error(`stream ${s.id} buffered ${s.buffered}`)
    if (closed) {
      if (closeErr !== undefined && !isGateError(closeErr)) throw closeErr
      closedWithError++
    } else {
      stayedOpen++
    }
    session.close()
  }), { numRuns: 500 })
  t.ok(closedWithError > 0 && stayedOpen > 0, `refused ${closedWithError}, survived ${stayedOpen} of 500`)
})
