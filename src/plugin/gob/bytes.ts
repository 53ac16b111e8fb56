/**
 * Gob's scalar encodings (doc.go "Encoding Details"): unsigned integers are one byte below 128,
 * else a negated byte count and that many big-endian bytes; signed integers fold the sign into
 * bit 0 (complement); floats are the IEEE-754 bits byte-reversed and sent as an unsigned
 * integer. Every read is bounds-checked: a short buffer is an error, never a wrong value.
 */
import { gobError, type GobInt } from './wire.js'

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const utf8 = new TextDecoder('utf-8')
const utf8Encoder = new TextEncoder()

function toGobInt (x: bigint): GobInt {
  return x <= MAX_SAFE && x >= -MAX_SAFE ? Number(x) : x
}

/** A cursor over one gob message. */
export class GobReader {
  private pos = 0

  constructor (private readonly data: Uint8Array) {}

  get remaining (): number {
    return this.data.length - this.pos
  }

  private need (n: number, what: string): void {
    if (n > this.remaining) throw gobError(`${what}: needs ${n} bytes, ${this.remaining} left in the message`)
  }

  /** The unsigned integer as a bigint (all 64 bits). */
  readUintBig (what = 'uint'): bigint {
    this.need(1, what)
    const b = this.data[this.pos++] as number
    if (b <= 0x7f) return BigInt(b)
    const n = 256 - b // -int8(b)
    if (n > 8) throw gobError(`${what}: byte count ${n} is over 8 (0x${b.toString(16)})`)
    this.need(n, what)
    let x = 0n
    for (let i = 0; i < n; i++) x = (x << 8n) | BigInt(this.data[this.pos++] as number)
    return x
  }

  readUint (what = 'uint'): GobInt {
    const b = this.data[this.pos]
    if (b !== undefined && b <= 0x7f) { this.pos++; return b }
    return toGobInt(this.readUintBig(what))
  }

  /** A length, count, field delta or id: must be an exact JS number. */
  readCount (what: string): number {
    const x = this.readUint(what)
    if (typeof x === 'bigint') throw gobError(`${what} ${x} is too large`)
    return x
  }

  readIntBig (what = 'int'): bigint {
    const u = this.readUintBig(what)
    return (u & 1n) === 1n ? ~(u >> 1n) : u >> 1n
  }

  readInt (what = 'int'): GobInt {
    return toGobInt(this.readIntBig(what))
  }

  /** A type id: a signed int that must fit Go's int32 typeId. */
  readTypeId (what = 'type id'): number {
    const x = this.readIntBig(what)
    if (x > 0x7fffffffn || x < -0x80000000n) throw gobError(`${what} ${x} is out of range`)
    return Number(x)
  }

  readFloat (what = 'float'): number {
    const u = this.readUintBig(what)
    const view = new DataView(new ArrayBuffer(8))
    view.setBigUint64(0, u, true) // byte-reversed on the wire: little-endian puts it back
    return view.getFloat64(0, false)
  }

  /** `n` raw bytes, copied so the value does not pin the whole message in memory. */
  readBytes (n: number, what: string): Uint8Array {
    this.need(n, what)
    const out = this.data.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  readString (n: number, what: string): string {
    this.need(n, what)
    const s = utf8.decode(this.data.subarray(this.pos, this.pos + n))
    this.pos += n
    return s
  }
}

/** A growable output buffer with gob's scalar encodings. */
export class GobWriter {
  private buf = new Uint8Array(256)
  private len = 0

  get length (): number {
    return this.len
  }

  private grow (n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  writeByte (b: number): void {
    this.grow(1)
    this.buf[this.len++] = b
  }

  writeUint (x: GobInt): void {
    if (typeof x === 'number') {
      if (!Number.isSafeInteger(x) || x < 0) throw gobError(`cannot encode ${x} as a uint`)
      if (x <= 0x7f) { this.writeByte(x); return }
      x = BigInt(x)
    }
    if (x < 0n || x > 0xffffffffffffffffn) throw gobError(`cannot encode ${x} as a uint`)
    if (x <= 0x7fn) { this.writeByte(Number(x)); return }
    const bytes: number[] = []
    while (x > 0n) { bytes.unshift(Number(x & 0xffn)); x >>= 8n }
    this.writeByte(256 - bytes.length)
    for (const b of bytes) this.writeByte(b)
  }

  writeInt (i: GobInt): void {
    const x = BigInt(i)
    if (x > 0x7fffffffffffffffn || x < -0x8000000000000000n) throw gobError(`cannot encode ${x} as an int`)
    this.writeUint(x < 0n ? ((~x) << 1n) | 1n : x << 1n)
  }

  writeFloat (f: number): void {
    const view = new DataView(new ArrayBuffer(8))
    view.setFloat64(0, f, false)
    this.writeUint(view.getBigUint64(0, true))
  }

  writeBytes (b: Uint8Array): void {
    this.writeUint(b.length)
    this.writeRaw(b)
  }

  writeString (s: string): void {
    this.writeBytes(utf8Encoder.encode(s))
  }

  writeRaw (b: Uint8Array): void {
    this.grow(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }

  bytes (): Uint8Array {
    return this.buf.slice(0, this.len)
  }
}

/** The gob unsigned-integer encoding of `x` on its own (message length prefixes). */
export function encodeUint (x: number): Uint8Array {
  const w = new GobWriter()
  w.writeUint(x)
  return w.bytes()
}
