/**
 * The server side of a yamux session (hashicorp/yamux spec.md), as go-plugin's plugin side
 * runs it: the host opens every stream (odd ids), the plugin accepts and answers.
 *
 * - Streams: a SYN is answered at once with ACK (an unanswered SYN makes newer yamux hosts drop
 *   the whole session after StreamOpenTimeout), or with RST when the plugin already holds
 *   `maxStreams` streams or is going away.
 * - Pings: a SYN ping is echoed with ACK and the same opaque value (the host's keepalive).
 * - Go-away: a normal go-away is noted (the host opens no more streams); an error code ends the
 *   session. A protocol violation sends go-away(protocol error) and ends it.
 * - Back-pressure: when the socket's write buffer is full, data frames wait and the socket is
 *   no longer read, so neither side's data piles up here; the receive side is bounded by the
 *   per-stream windows (stream.ts).
 */
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { Flag, FrameParser, FrameType, GoAwayCode, encodeHeader, yamuxError, type FrameHeader } from './frame.js'
import { YamuxStream, type StreamHost } from './stream.js'

export interface YamuxSessionOptions {
  /** Called for every stream the host opens, after it has been acknowledged. */
  onStream: (stream: YamuxStream) => void
  /** Streams held at once; more are refused with RST (hashicorp/yamux's AcceptBacklog is 256). */
  maxStreams?: number
  /** Notes for the log (never payload bytes). */
  onWarning?: (message: string) => void
}

export interface YamuxSessionEvents {
  close: [err: Error | undefined]
  goaway: [code: number]
}

export class YamuxSession extends EventEmitter<YamuxSessionEvents> implements StreamHost {
  private readonly streams = new Map<number, YamuxStream>()
  private readonly parser: FrameParser
  private readonly maxStreams: number
  private blocked = false
  private closed = false
  private localGoAway = false
  private remoteGoAway = false

  constructor (private readonly socket: Duplex, private readonly options: YamuxSessionOptions) {
    super()
    this.maxStreams = options.maxStreams ?? 64
    this.parser = new FrameParser({
      onFrame: (h) => { this.onFrame(h) },
      onPayload: (h, chunk) => { this.streams.get(h.streamId)?.receive(chunk) },
      onFrameEnd: (h) => { this.onFrameEnd(h) },
    })
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return
      try {
        this.parser.push(chunk)
      } catch (err) {
        this.protocolError(err as Error)
      }
    })
    socket.on('drain', () => {
      this.blocked = false
      if (this.closed) return
      socket.resume()
      for (const s of [...this.streams.values()]) s.pump()
    })
    socket.on('end', () => { this.shutdown(this.parser.midFrame ? yamuxError('connection ended in the middle of a frame') : undefined) })
    socket.on('error', (err) => { this.shutdown(err) })
    socket.on('close', () => { this.shutdown(undefined) })
  }

  get writable (): boolean {
    return !this.blocked && !this.closed
  }

  get isClosed (): boolean {
    return this.closed
  }

  get streamCount (): number {
    return this.streams.size
  }

  /** True once the host said it will open no more streams. */
  get goneAway (): boolean {
    return this.remoteGoAway
  }

  sendFrame (type: number, flags: number, streamId: number, length: number, payload?: Uint8Array): void {
    if (this.closed) return
    const header = encodeHeader({ type: type as FrameHeader['type'], flags, streamId, length })
    let ok = this.socket.write(header)
    if (payload !== undefined && payload.length > 0) ok = this.socket.write(payload)
    if (!ok && !this.blocked) {
      // Stop reading until the peer takes what we wrote: whatever it sends next (pings,
      // requests) would only make us write more.
      this.blocked = true
      this.socket.pause()
    }
  }

  streamClosed (stream: YamuxStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id)
  }

  /** Tell the host no more streams are accepted (go-away, normal). */
  goAway (code: number = GoAwayCode.Normal): void {
    if (this.localGoAway) return
    this.localGoAway = true
    this.sendFrame(FrameType.GoAway, 0, 0, code)
  }

  /** Ends the session: go-away, then the connection is closed once written. */
  close (): void {
    if (this.closed) return
    this.goAway()
    this.socket.end()
    this.shutdown(undefined)
  }

  private onFrame (h: FrameHeader): void {
    switch (h.type) {
      case FrameType.Ping:
        if ((h.flags & Flag.SYN) !== 0) this.sendFrame(FrameType.Ping, Flag.ACK, 0, h.length)
        return // an ACK answers a ping of ours; this side sends none
      case FrameType.GoAway:
        if (h.length === GoAwayCode.Normal) {
          this.remoteGoAway = true
          this.emit('goaway', h.length)
          return
        }
        throw yamuxError(h.length === GoAwayCode.ProtocolError
          ? 'the host reported a protocol error (go-away 1)'
          : h.length === GoAwayCode.InternalError
            ? 'the host reported an internal error (go-away 2)'
            : `the host went away with unknown code ${h.length}`)
      default:
        this.onStreamFrame(h)
    }
  }

  private onStreamFrame (h: FrameHeader): void {
    if ((h.flags & Flag.SYN) !== 0) this.incomingStream(h.streamId)
    const stream = this.streams.get(h.streamId)
    if (stream === undefined) {
      // A late frame for a stream already closed or refused; its payload is dropped as it
      // arrives (onPayload finds no stream), as hashicorp/yamux discards it.
      return
    }
    if (h.type === FrameType.Data && h.length > 0) stream.admit(h.length)
    if (h.type === FrameType.WindowUpdate && h.length > 0) stream.growSendWindow(h.length)
  }

  /** FIN and RST take effect after the frame's own payload, which still belongs to the stream. */
  private onFrameEnd (h: FrameHeader): void {
    if (h.type !== FrameType.Data && h.type !== FrameType.WindowUpdate) return
    const stream = this.streams.get(h.streamId)
    if (stream === undefined) return
    if ((h.flags & Flag.RST) !== 0) stream.fail(yamuxError(`stream ${h.streamId} reset by the host`))
    else if ((h.flags & Flag.FIN) !== 0) stream.remoteFin()
  }

  private incomingStream (id: number): void {
    if (id === 0 || id % 2 === 0) throw yamuxError(`the host opened stream ${id}; a client's stream ids are odd and non-zero`)
    if (this.streams.has(id)) throw yamuxError(`stream ${id} opened twice`)
    if (this.localGoAway || this.streams.size >= this.maxStreams) {
      this.options.onWarning?.(`refusing stream ${id}: ${this.localGoAway ? 'going away' : `${this.maxStreams} streams already open`}`)
      this.sendFrame(FrameType.WindowUpdate, Flag.RST, id, 0)
      return
    }
    const stream = new YamuxStream(id, this)
    this.streams.set(id, stream)
    this.sendFrame(FrameType.WindowUpdate, Flag.ACK, id, 0)
    this.options.onStream(stream)
  }

  private protocolError (err: Error): void {
    this.options.onWarning?.(err.message)
    this.goAway(GoAwayCode.ProtocolError)
    this.socket.end()
    this.shutdown(err)
  }

  private shutdown (err: Error | undefined): void {
    if (this.closed) return
    this.closed = true
    for (const s of [...this.streams.values()]) {
      if (err === undefined) s.sessionEnded(yamuxError('session closed'))
      else s.fail(err)
    }
    this.streams.clear()
    if (err !== undefined || this.socket.writableEnded) this.socket.destroy()
    else this.socket.end()
    this.emit('close', err)
  }
}
