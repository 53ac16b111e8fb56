/**
 * Splits a gob byte stream into its messages: each is a gob uint byte count followed by that
 * many bytes (encoder.go writeMessage). The count is checked against the limit before any
 * buffer is allocated, and the buffer grows with the bytes that actually arrive (doubling, from
 * 64 KiB): a peer that sends a count of 8 MiB and then stalls costs 64 KiB, not 8 MiB, on each
 * of its streams (test/plugin/decoder-fuzz). A message that does arrive costs at most two copies.
 */
import { gobError } from './wire.js'

const FIRST_BUFFER_BYTES = 64 * 1024

export class GobMessageSplitter {
  private prefix: number[] = []
  private target: Uint8Array | null = null
  /** The byte count of the message being assembled (target may still be smaller). */
  private length = 0
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
        this.length = length
        this.target = new Uint8Array(Math.min(length, FIRST_BUFFER_BYTES))
        this.filled = 0
        continue
      }
      const take = Math.min(this.length - this.filled, chunk.length - i)
      if (this.filled + take > this.target.length) {
        const grown = new Uint8Array(Math.min(this.length, Math.max(this.filled + take, this.target.length * 2)))
        grown.set(this.target.subarray(0, this.filled))
        this.target = grown
      }
      this.target.set(chunk.subarray(i, i + take), this.filled)
      this.filled += take
      i += take
      if (this.filled === this.length) {
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
