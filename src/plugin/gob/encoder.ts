/**
 * A gob encoder for the values the plugin sends back: net/rpc's Response, Argo's Measurement
 * and RpcError, string, uint, map[string]string and struct{}. Types are described in TS
 * (GobType) rather than discovered by reflection; Go's decoder matches struct fields by name
 * and checks only that kinds agree, so a description naming Argo's fields is all it needs.
 *
 * One GobEncoder per stream: each type is defined once, before its first use (net/rpc keeps
 * one Encoder per connection), and ids count up from 65 like Go's.
 */
import { GobWriter, encodeUint } from './bytes.js'
import { TypeId, gobError, type GobInt } from './wire.js'

export type GobType =
  | { readonly kind: 'bool' | 'int' | 'uint' | 'float' | 'bytes' | 'string' }
  | { readonly kind: 'struct', readonly name: string, readonly fields: ReadonlyArray<{ readonly name: string, readonly type: GobType }> }
  | { readonly kind: 'map', readonly name: string, readonly key: GobType, readonly elem: GobType }
  | { readonly kind: 'slice', readonly name: string, readonly elem: GobType }
  /** A GobEncoder (time.Time, metav1.Time): the value is its payload bytes. */
  | { readonly kind: 'GobEncoder', readonly name: string }

export const GobTypes = {
  bool: { kind: 'bool' },
  int: { kind: 'int' },
  uint: { kind: 'uint' },
  float: { kind: 'float' },
  bytes: { kind: 'bytes' },
  string: { kind: 'string' },
} as const satisfies Record<string, GobType>

const BUILTIN_IDS: Record<string, number> = {
  bool: TypeId.bool, int: TypeId.int, uint: TypeId.uint, float: TypeId.float, bytes: TypeId.bytes, string: TypeId.string,
}

/** Values: structs and maps as plain objects (or Maps), slices as arrays, GobEncoder payloads as bytes. */
export type EncodableValue =
  | boolean | GobInt | string | Uint8Array | null | undefined
  | readonly EncodableValue[]
  | ReadonlyMap<EncodableValue, EncodableValue>
  | { readonly [key: string]: EncodableValue }

const FIRST_ID = 65

export class GobEncoder {
  private readonly sent = new Map<GobType, number>()
  private nextId = FIRST_ID

  /**
   * Consecutive Encode calls as one byte string. All or nothing: when a value cannot be
   * encoded, the types defined on the way are forgotten again, so the stream's type state
   * still matches what the peer has seen.
   */
  encodeAll (values: ReadonlyArray<readonly [GobType, EncodableValue]>): Uint8Array {
    const sent = new Map(this.sent)
    const nextId = this.nextId
    try {
      const parts = values.map(([type, value]) => this.encode(type, value))
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
      let at = 0
      for (const p of parts) { out.set(p, at); at += p.length }
      return out
    } catch (err) {
      this.sent.clear()
      for (const [k, v] of sent) this.sent.set(k, v)
      this.nextId = nextId
      throw err
    }
  }

  /** The bytes of one Encode call: the definitions of new types, then the value's message. */
  encode (type: GobType, value: EncodableValue): Uint8Array {
    const out = new GobWriter()
    const id = this.define(type, out)
    const msg = new GobWriter()
    msg.writeInt(id)
    if (type.kind === 'struct') {
      this.writeStruct(msg, type, value)
    } else {
      msg.writeUint(0) // a top-level non-struct is a struct of one field (doc.go)
      this.writeValue(msg, type, value, true)
    }
    writeMessage(out, msg)
    return out.bytes()
  }

  /** The id of `type`, first sending the definitions it and its parts still need. */
  private define (type: GobType, out: GobWriter): number {
    const builtin = BUILTIN_IDS[type.kind]
    if (builtin !== undefined) return builtin
    const known = this.sent.get(type)
    if (known !== undefined) return known
    const id = this.nextId++
    this.sent.set(type, id) // before the parts, so a recursive type refers to itself
    const def = new GobWriter()
    def.writeInt(-id)
    switch (type.kind) {
      case 'struct': {
        const fieldIds = type.fields.map((f) => this.define(f.type, out))
        def.writeUint(3) // wireType.StructT (field 2)
        writeCommonType(def, type.name, id)
        if (type.fields.length > 0) {
          def.writeUint(1) // structType.Field
          def.writeUint(type.fields.length)
          type.fields.forEach((f, i) => {
            def.writeUint(1); def.writeString(f.name)
            def.writeUint(1); def.writeInt(fieldIds[i] as number)
            def.writeUint(0)
          })
        }
        def.writeUint(0) // end of structType
        break
      }
      case 'map': {
        const keyId = this.define(type.key, out)
        const elemId = this.define(type.elem, out)
        def.writeUint(4) // wireType.MapT (field 3)
        writeCommonType(def, type.name, id)
        def.writeUint(1); def.writeInt(keyId)
        def.writeUint(1); def.writeInt(elemId)
        def.writeUint(0)
        break
      }
      case 'slice': {
        const elemId = this.define(type.elem, out)
        def.writeUint(2) // wireType.SliceT (field 1)
        writeCommonType(def, type.name, id)
        def.writeUint(1); def.writeInt(elemId)
        def.writeUint(0)
        break
      }
      case 'GobEncoder':
        def.writeUint(5) // wireType.GobEncoderT (field 4)
        writeCommonType(def, type.name, id)
        def.writeUint(0)
        break
    }
    def.writeUint(0) // end of wireType
    writeMessage(out, def)
    return id
  }

  private writeStruct (w: GobWriter, type: Extract<GobType, { kind: 'struct' }>, value: EncodableValue): void {
    const obj = asRecord(value, type.name)
    let last = -1
    type.fields.forEach((f, i) => {
      const v = obj[f.name]
      if (isZero(f.type, v)) return // zero fields are not sent (doc.go)
      w.writeUint(i - last)
      last = i
      this.writeValue(w, f.type, v, false)
    })
    w.writeUint(0)
  }

  private writeValue (w: GobWriter, type: GobType, v: EncodableValue, sendZero: boolean): void {
    if (v === undefined || v === null) {
      if (!sendZero) return
      v = zeroOf(type)
    }
    switch (type.kind) {
      case 'bool': w.writeUint(v === true ? 1 : 0); return
      case 'int': w.writeInt(asInt(v)); return
      case 'uint': w.writeUint(asInt(v)); return
      case 'float': if (typeof v !== 'number') throw gobError(`expected a number, got ${typeof v}`); w.writeFloat(v); return
      case 'string': if (typeof v !== 'string') throw gobError(`expected a string, got ${typeof v}`); w.writeString(v); return
      case 'bytes':
        if (!(v instanceof Uint8Array)) throw gobError('expected bytes for []byte')
        w.writeBytes(v)
        return
      case 'GobEncoder':
        if (!(v instanceof Uint8Array)) throw gobError(`expected the payload bytes of ${type.name}`)
        w.writeBytes(v)
        return
      case 'struct': this.writeStruct(w, type, v); return
      case 'slice': {
        if (!Array.isArray(v)) throw gobError(`expected a list for ${type.name}`)
        const list = v as readonly EncodableValue[]
        w.writeUint(list.length)
        for (const e of list) this.writeValue(w, type.elem, e, true)
        return
      }
      case 'map': {
        const entries = v instanceof Map ? [...(v as ReadonlyMap<EncodableValue, EncodableValue>).entries()] : Object.entries(asRecord(v, type.name))
        w.writeUint(entries.length)
        for (const [k, e] of entries) {
          this.writeValue(w, type.key, k, true)
          this.writeValue(w, type.elem, e, true)
        }
      }
    }
  }
}

function writeMessage (out: GobWriter, msg: GobWriter): void {
  out.writeRaw(encodeUint(msg.length))
  out.writeRaw(msg.bytes())
}

function writeCommonType (w: GobWriter, name: string, id: number): void {
  w.writeUint(1) // first field of the kind's struct: its CommonType
  if (name !== '') { w.writeUint(1); w.writeString(name); w.writeUint(1) } else { w.writeUint(2) }
  w.writeInt(id)
  w.writeUint(0)
}

function asRecord (v: EncodableValue, what: string): { readonly [key: string]: EncodableValue } {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array || v instanceof Map) {
    throw gobError(`expected an object for ${what || 'struct'}`)
  }
  return v as { readonly [key: string]: EncodableValue }
}

function asInt (v: EncodableValue): GobInt {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v
  throw gobError(`expected an integer, got ${String(v)}`)
}

function isZero (type: GobType, v: EncodableValue): boolean {
  if (v === undefined || v === null) return true
  switch (type.kind) {
    case 'bool': return v === false
    case 'int': case 'uint': case 'float': return v === 0 || v === 0n
    case 'string': return v === ''
    case 'bytes': return v instanceof Uint8Array && v.length === 0
    case 'slice': return Array.isArray(v) && v.length === 0
    case 'map': return v instanceof Map ? v.size === 0 : Object.keys(v).length === 0
    default: return false // structs and GobEncoders are sent when present (pointer fields)
  }
}

function zeroOf (type: GobType): EncodableValue {
  switch (type.kind) {
    case 'bool': return false
    case 'int': case 'uint': case 'float': return 0
    case 'string': return ''
    case 'bytes': case 'GobEncoder': return new Uint8Array(0)
    case 'slice': return []
    case 'map': case 'struct': return {}
  }
}
