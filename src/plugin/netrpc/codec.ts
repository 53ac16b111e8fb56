/**
 * net/rpc's gob codec over one yamux stream (net/rpc server.go gobServerCodec): one gob
 * decoder and one gob encoder for the life of the stream, so type definitions sent once stay
 * known. Reads pull bytes from the stream only while a value is incomplete, so a slow handler
 * side holds the host back through the yamux window instead of buffering its requests.
 */
import { GobDecoder, type GobLimits } from '../gob/decoder.js'
import { GobEncoder, type EncodableValue, type GobType } from '../gob/encoder.js'
import { GobMessageSplitter } from '../gob/framing.js'
import { gobError, type GobValue } from '../gob/wire.js'
import type { YamuxStream } from '../yamux/stream.js'

export class GobStreamCodec {
  private readonly decoder: GobDecoder
  private readonly splitter: GobMessageSplitter
  private readonly encoder = new GobEncoder()

  /** `initial`: bytes already read from the stream (the broker reads the stream id first). */
  constructor (private readonly stream: YamuxStream, limits: Partial<GobLimits> = {}, initial?: Uint8Array) {
    this.decoder = new GobDecoder(limits)
    this.splitter = new GobMessageSplitter(this.decoder.maxMessageBytes)
    if (initial !== undefined && initial.length > 0) this.feed(initial)
  }

  /**
   * The next value on the stream; undefined when the host closed it cleanly between values
   * (null is a value: a nil interface, which is what Argo sends as the argument of Type).
   */
  async readValue (): Promise<GobValue | undefined> {
    for (;;) {
      const decoded = this.decoder.tryDecode()
      if (decoded !== undefined) return decoded.value
      const chunk = await this.stream.read()
      if (chunk === null) {
        if (this.splitter.midMessage || this.decoder.hasPartialValue) throw gobError(`stream ${this.stream.id} ended in the middle of a value`)
        return undefined
      }
      this.feed(chunk)
    }
  }

  /**
   * Encodes the values in order (as consecutive Encode calls) and writes them as one piece.
   * Throws at once, writing nothing, when a value cannot be encoded.
   */
  write (values: ReadonlyArray<readonly [GobType, EncodableValue]>): Promise<void> {
    return this.stream.write(this.encoder.encodeAll(values))
  }

  private feed (chunk: Uint8Array): void {
    for (const message of this.splitter.push(chunk)) this.decoder.pushMessage(message)
  }
}
