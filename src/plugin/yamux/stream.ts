/**
 * One yamux stream. Flow control is per stream (spec.md "Flow Control"):
 * - receive: the peer may send at most `recvWindow` more bytes. Bytes wait in `recvChunks`
 *   until the reader takes them; only then is the window given back, in updates of at least
 *   half a window (as hashicorp/yamux does). A reader that stops reading therefore stops the
 *   sender: nothing here buffers more than one window.
 * - send: writes go out in Data frames no larger than the peer's remaining window and wait for
 *   its WindowUpdate when it is used up, one write after another in order.
 */
import { Flag, FrameType, INITIAL_WINDOW, yamuxError } from './frame.js'
import type { GateError } from '../../errors.js'

/** What a stream needs from its session (kept narrow so streams are testable alone). */
export interface StreamHost {
  sendFrame: (type: number, flags: number, streamId: number, length: number, payload?: Uint8Array) => void
  /** False while the connection's write buffer is full: data frames must wait. */
  readonly writable: boolean
  streamClosed: (stream: YamuxStream) => void
}

/** Data frames are cut at this size so one large write cannot monopolise the connection. */
const MAX_FRAME_PAYLOAD = 64 * 1024

interface PendingWrite {
  data: Uint8Array
  offset: number
  resolve: () => void
  reject: (err: Error) => void
}

export class YamuxStream {
  private readonly recvChunks: Uint8Array[] = []
  private recvBytes = 0
  /** Bytes the peer may still send before it must wait for an update from us. */
  private recvWindow = INITIAL_WINDOW
  /** Bytes read by the application but not yet returned to the peer as window. */
  private consumed = 0
  private sendWindow = INITIAL_WINDOW
  private readonly writes: PendingWrite[] = []
  private reader: { resolve: (c: Uint8Array | null) => void, reject: (e: Error) => void } | null = null
  private remoteClosed = false
  private localClosed = false
  private finSent = false
  private failure: Error | null = null

  constructor (readonly id: number, private readonly host: StreamHost) {}

  /** Bytes buffered for the reader (never more than one window). */
  get buffered (): number {
    return this.recvBytes
  }

  get isReset (): boolean {
    return this.failure !== null
  }

  // --- session side ---------------------------------------------------------------------------

  /** Checks a Data frame's length against the window before any of its payload is taken. */
  admit (length: number): void {
    if (length > this.recvWindow) throw yamuxError(`stream ${this.id}: data frame of ${length} bytes exceeds the receive window of ${this.recvWindow}`)
    this.recvWindow -= length
  }

  receive (chunk: Uint8Array): void {
    if (this.failure !== null || this.remoteClosed) return
    const copy = chunk.slice()
    if (this.reader !== null) {
      const r = this.reader
      this.reader = null
      this.consume(copy.length)
      r.resolve(copy)
      return
    }
    this.recvChunks.push(copy)
    this.recvBytes += copy.length
  }

  growSendWindow (delta: number): void {
    this.sendWindow += delta
    this.pump()
  }

  remoteFin (): void {
    if (this.remoteClosed) return
    this.remoteClosed = true
    this.wakeReader()
    this.maybeFinished()
  }

  /** The peer reset the stream, or the session ended: every pending read and write fails. */
  fail (err: GateError | Error): void {
    if (this.failure !== null) return
    this.failure = err
    this.recvChunks.length = 0
    this.recvBytes = 0
    this.wakeReader()
    for (const w of this.writes.splice(0)) w.reject(err)
    this.host.streamClosed(this)
  }

  /**
   * The session ended cleanly (the host closed the connection): what was received can still be
   * read, then the reader sees the end; writes that did not go out fail.
   */
  sessionEnded (err: GateError | Error): void {
    if (this.failure !== null) return
    for (const w of this.writes.splice(0)) w.reject(err)
    this.localClosed = true
    this.finSent = true
    this.remoteClosed = true
    this.wakeReader()
  }

  /** Called by the session when the connection can take more data. */
  pump (): void {
    while (this.writes.length > 0 && this.sendWindow > 0 && this.host.writable && this.failure === null) {
      const w = this.writes[0] as PendingWrite
      const n = Math.min(this.sendWindow, w.data.length - w.offset, MAX_FRAME_PAYLOAD)
      this.host.sendFrame(FrameType.Data, 0, this.id, n, w.data.subarray(w.offset, w.offset + n))
      this.sendWindow -= n
      w.offset += n
      if (w.offset === w.data.length) {
        this.writes.shift()
        w.resolve()
      }
    }
    if (this.writes.length === 0 && this.localClosed && !this.finSent && this.failure === null) {
      this.finSent = true
      this.host.sendFrame(FrameType.WindowUpdate, Flag.FIN, this.id, 0)
      this.maybeFinished()
    }
  }

  // --- application side -----------------------------------------------------------------------

  /** The next bytes from the peer; null once it has half-closed and everything was read. */
  read (): Promise<Uint8Array | null> {
    if (this.reader !== null) return Promise.reject(yamuxError(`stream ${this.id}: concurrent reads`))
    const chunk = this.recvChunks.shift()
    if (chunk !== undefined) {
      this.recvBytes -= chunk.length
      this.consume(chunk.length)
      return Promise.resolve(chunk)
    }
    if (this.failure !== null) return Promise.reject(this.failure)
    if (this.remoteClosed) return Promise.resolve(null)
    return new Promise((resolve, reject) => { this.reader = { resolve, reject } })
  }

  /** Resolves once every byte has been handed to the connection. */
  write (data: Uint8Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure)
    if (this.localClosed) return Promise.reject(yamuxError(`stream ${this.id}: closed for writing`))
    if (data.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.writes.push({ data, offset: 0, resolve, reject })
      this.pump()
    })
  }

  /** Half-close: FIN once queued writes are out. Reading continues until the peer closes too. */
  close (): void {
    if (this.localClosed || this.failure !== null) return
    this.localClosed = true
    this.pump()
  }

  /** Abort the stream at once (RST). */
  reset (reason = `stream ${this.id} reset locally`): void {
    if (this.failure !== null) return
    this.host.sendFrame(FrameType.WindowUpdate, Flag.RST, this.id, 0)
    this.fail(yamuxError(reason))
  }

  private consume (n: number): void {
    this.consumed += n
    if (this.consumed >= INITIAL_WINDOW / 2 && !this.remoteClosed && this.failure === null) {
      const delta = this.consumed
      this.consumed = 0
      this.recvWindow += delta
      this.host.sendFrame(FrameType.WindowUpdate, 0, this.id, delta)
    }
  }

  private wakeReader (): void {
    if (this.reader === null) return
    const r = this.reader
    this.reader = null
    if (this.failure !== null) r.reject(this.failure)
    else r.resolve(null)
  }

  private maybeFinished (): void {
    if (this.remoteClosed && this.finSent && this.failure === null) this.host.streamClosed(this)
  }
}
