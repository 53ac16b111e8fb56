/**
 * yamux framing (hashicorp/yamux spec.md): every frame starts with a 12-byte big-endian header
 *   Version u8 (0) | Type u8 | Flags u16 | StreamID u32 | Length u32
 * Data frames carry Length payload bytes; for the other types Length is a value (window delta,
 * ping opaque, go-away code).
 */
import { GateError } from '../../errors.js'

export const HEADER_SIZE = 12
export const PROTO_VERSION = 0

export const FrameType = { Data: 0, WindowUpdate: 1, Ping: 2, GoAway: 3 } as const
export type FrameTypeValue = typeof FrameType[keyof typeof FrameType]

export const Flag = { SYN: 1, ACK: 2, FIN: 4, RST: 8 } as const

export const GoAwayCode = { Normal: 0, ProtocolError: 1, InternalError: 2 } as const

/** Every stream starts with this receive window, on both sides (spec.md "Flow Control"). */
export const INITIAL_WINDOW = 256 * 1024

export interface FrameHeader {
  type: FrameTypeValue
  flags: number
  streamId: number
  length: number
}

export function yamuxError (message: string): GateError {
  return new GateError('GATE_ERR_PLUGIN_PROTOCOL', `yamux: ${message}`)
}

export function encodeHeader (h: FrameHeader): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE)
  const view = new DataView(out.buffer)
  view.setUint8(0, PROTO_VERSION)
  view.setUint8(1, h.type)
  view.setUint16(2, h.flags, false)
  view.setUint32(4, h.streamId, false)
  view.setUint32(8, h.length, false)
  return out
}

export function decodeHeader (b: Uint8Array): FrameHeader {
  const view = new DataView(b.buffer, b.byteOffset, HEADER_SIZE)
  const version = view.getUint8(0)
  if (version !== PROTO_VERSION) throw yamuxError(`frame with protocol version ${version}, want ${PROTO_VERSION}`)
  const type = view.getUint8(1)
  if (type > FrameType.GoAway) throw yamuxError(`frame of unknown type ${type}`)
  return { type: type as FrameTypeValue, flags: view.getUint16(2, false), streamId: view.getUint32(4, false), length: view.getUint32(8, false) }
}

export interface FrameSink {
  /** Every header; for a Data frame, before its payload. May throw to refuse the frame. */
  onFrame: (h: FrameHeader) => void
  /** Payload bytes of the current Data frame, as they arrive (a frame may span many reads). */
  onPayload: (h: FrameHeader, chunk: Uint8Array) => void
  /** After the whole frame (header and payload) has been handed on. */
  onFrameEnd: (h: FrameHeader) => void
}

/**
 * Incremental frame parser: headers are assembled from any split, and Data payloads are
 * handed on piecewise, so nothing here buffers more than one header.
 */
export class FrameParser {
  private readonly header = new Uint8Array(HEADER_SIZE)
  private headerFill = 0
  private current: FrameHeader | null = null
  private payloadLeft = 0

  constructor (private readonly sink: FrameSink) {}

  /** True when input stopped in the middle of a frame. */
  get midFrame (): boolean {
    return this.headerFill > 0 || this.current !== null
  }

  push (chunk: Uint8Array): void {
    let i = 0
    while (i < chunk.length) {
      if (this.current === null) {
        const take = Math.min(HEADER_SIZE - this.headerFill, chunk.length - i)
        this.header.set(chunk.subarray(i, i + take), this.headerFill)
        this.headerFill += take
        i += take
        if (this.headerFill < HEADER_SIZE) return
        this.headerFill = 0
        const h = decodeHeader(this.header)
        this.sink.onFrame(h)
        if (h.type === FrameType.Data && h.length > 0) {
          this.current = h
          this.payloadLeft = h.length
        } else {
          this.sink.onFrameEnd(h)
        }
        continue
      }
      const take = Math.min(this.payloadLeft, chunk.length - i)
      const piece = chunk.subarray(i, i + take)
      i += take
      this.payloadLeft -= take
      const h = this.current
      if (this.payloadLeft === 0) this.current = null
      this.sink.onPayload(h, piece)
      if (this.payloadLeft === 0) this.sink.onFrameEnd(h)
    }
  }
}
