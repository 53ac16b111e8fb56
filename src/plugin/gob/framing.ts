/**
 * Splits a gob byte stream into its messages: each is a gob uint byte count followed by that
 * many bytes (encoder.go writeMessage). The count is checked against the limit before any
 * buffer is allocated, and a message is assembled into one buffer of exactly its size, so a
 * large message arriving in many small chunks costs one copy.
 */
import { gobError } from './wire.js'

export class GobMessageSplitter {
  private prefix: number[] = []
  private target: Uint8Array | null = null
  private filled = 0

  constructor (private readonly maxMessageBytes: number) {}

  /** True while a message has started but not finished (an end of input here is truncation). */
  get midMessage (): boolean {
    return this.prefix.length > 0 || this.target !== null
  }

  /** Feeds bytes; returns the messages they complete, in order. */
  push (chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    let i = 0
    while (i < chunk.length) {
      if (this.target === null) {
        this.prefix.push(chunk[i++] as number)
        const length = this.prefixLength()
        if (length === undefined) continue
        this.prefix = []
        if (length === 0) throw gobError('message with a byte count of 0')
        if (length > this.maxMessageBytes) throw gobError(`message of ${length} bytes is over the ${this.maxMessageBytes}-byte limit`)
        this.target = new Uint8Array(length)
        this.filled = 0
        continue
      }
      const take = Math.min(this.target.length - this.filled, chunk.length - i)
      this.target.set(chunk.subarray(i, i + take), this.filled)
      this.filled += take
      i += take
      if (this.filled === this.target.length) {
        out.push(this.target)
        this.target = null
      }
    }
    return out
  }

  /** The byte count once its prefix is complete, else undefined. */
  private prefixLength (): number | undefined {
    const first = this.prefix[0] as number
    if (first <= 0x7f) return first
    const n = 256 - first
    if (n > 8) throw gobError(`message byte count: byte count ${n} is over 8`)
    if (this.prefix.length < 1 + n) return undefined
    let x = 0n
    for (let j = 1; j <= n; j++) x = (x << 8n) | BigInt(this.prefix[j] as number)
    if (x > BigInt(this.maxMessageBytes)) throw gobError(`message of ${x} bytes is over the ${this.maxMessageBytes}-byte limit`)
    return Number(x)
  }
}
