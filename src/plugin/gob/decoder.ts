/**
 * A general gob decoder: it reads any gob stream into GobValues using only the type definitions
 * the stream itself carries, as Go's Decoder does with a nil target (decoder.go, decode.go).
 *
 * Stream state: the type definitions persist for the life of the stream (net/rpc keeps one
 * Decoder per connection), so one GobDecoder serves one yamux stream.
 *
 * Incremental input: a value may span several messages (a type definition met inside an
 * interface ends the message it is in; Go's Encoder.encodeInterface). When a message the value
 * needs has not arrived, the attempt is abandoned, the types it defined are forgotten, and it is
 * retried from its first message once another message is complete: decoding never blocks and
 * never sees a half-read message.
 *
 * Limits: every length and count is checked against what is left in the message, and against
 * fixed limits, before anything is allocated; nesting depth and the number of decoded nodes
 * per value are bounded too. Breaking a limit is a GATE_ERR_PLUGIN_PROTOCOL error.
 */
import { GobReader } from './bytes.js'
import {
  FIRST_USER_ID, GobComplex, GobInterface, GobOpaque, TypeId, gobError, isGobStruct, newGobStruct,
  type GobStruct, type GobValue, type WireType,
} from './wire.js'

export interface GobLimits {
  /** Largest single message (Go's own limit is 1 GB; a Kubernetes object is under 1.5 MiB). */
  maxMessageBytes: number
  /** Bytes of complete messages held for one value still being assembled. */
  maxPendingBytes: number
  /** Type definitions per stream (Argo's AnalysisRun tree, PodSpec included, is a few hundred). */
  maxTypes: number
  /** Fields in one struct definition. */
  maxFields: number
  /** Elements in one slice, array or map. */
  maxElements: number
  /** Nesting of structs, collections and interfaces in one value. */
  maxDepth: number
  /** Decoded nodes (scalars included) in one top-level value. */
  maxNodes: number
}

export const DEFAULT_GOB_LIMITS: GobLimits = {
  maxMessageBytes: 8 << 20,
  maxPendingBytes: 32 << 20,
  maxTypes: 4096,
  maxFields: 4096,
  maxElements: 1 << 20,
  maxDepth: 100,
  maxNodes: 2_000_000,
}

/** Interface names longer than this are refused, as Go does (decode.go decodeInterface). */
const MAX_INTERFACE_NAME = 1024
/** Type and field names: Go's reflect names are short; generous room for generic instantiations. */
const MAX_TYPE_NAME = 4096

const NEED_MORE: unique symbol = Symbol('gob: need another message')

const common = (name: string): { name: string, id: number } => ({ name, id: TypeId.commonType })

/** gob's own types (type.go), needed to read type definitions. */
const BUILTIN_TYPES = new Map<number, WireType>([
  [TypeId.commonType, { kind: 'struct', name: 'CommonType', fields: [{ name: 'Name', id: TypeId.string }, { name: 'Id', id: TypeId.int }] }],
  [TypeId.arrayType, { kind: 'struct', name: 'arrayType', fields: [common('CommonType'), { name: 'Elem', id: TypeId.int }, { name: 'Len', id: TypeId.int }] }],
  [TypeId.sliceType, { kind: 'struct', name: 'sliceType', fields: [common('CommonType'), { name: 'Elem', id: TypeId.int }] }],
  [TypeId.fieldType, { kind: 'struct', name: 'fieldType', fields: [{ name: 'Name', id: TypeId.string }, { name: 'Id', id: TypeId.int }] }],
  [TypeId.fieldTypeSlice, { kind: 'slice', name: '[]*gob.fieldType', elem: TypeId.fieldType }],
  [TypeId.structType, { kind: 'struct', name: 'structType', fields: [common('CommonType'), { name: 'Field', id: TypeId.fieldTypeSlice }] }],
  [TypeId.mapType, { kind: 'struct', name: 'mapType', fields: [common('CommonType'), { name: 'Key', id: TypeId.int }, { name: 'Elem', id: TypeId.int }] }],
  [TypeId.gobEncoderType, { kind: 'struct', name: 'gobEncoderType', fields: [common('CommonType')] }],
  [TypeId.wireType, {
    kind: 'struct',
    name: 'wireType',
    fields: [
      { name: 'ArrayT', id: TypeId.arrayType },
      { name: 'SliceT', id: TypeId.sliceType },
      { name: 'StructT', id: TypeId.structType },
      { name: 'MapT', id: TypeId.mapType },
      { name: 'GobEncoderT', id: TypeId.gobEncoderType },
      { name: 'BinaryMarshalerT', id: TypeId.gobEncoderType },
      { name: 'TextMarshalerT', id: TypeId.gobEncoderType },
    ],
  }],
])

const SCALAR_NAMES: Record<number, string> = {
  [TypeId.bool]: 'bool',
  [TypeId.int]: 'int',
  [TypeId.uint]: 'uint',
  [TypeId.float]: 'float',
  [TypeId.bytes]: '[]byte',
  [TypeId.string]: 'string',
  [TypeId.complex]: 'complex',
  [TypeId.interface]: 'interface',
}

export interface DecodedValue {
  value: GobValue
  /** The wire type id of the top-level value and its name ("" for an unnamed builtin). */
  typeId: number
  typeName: string
}

export class GobDecoder {
  private readonly types = new Map<number, WireType>()
  private readonly mayReloadCache = new Map<number, boolean>()
  private readonly limits: GobLimits
  /** Complete messages not yet consumed by a finished value. */
  private readonly messages: Uint8Array[] = []
  private pendingBytes = 0
  /** State of the current attempt. */
  private cursor = 0
  private buf = new GobReader(new Uint8Array(0))
  private added: number[] = []
  private nodes = 0
  /** Messages available at the last attempt that ran out: no retry until more arrive. */
  private stalledAt = -1

  constructor (limits: Partial<GobLimits> = {}) {
    this.limits = { ...DEFAULT_GOB_LIMITS, ...limits }
  }

  get maxMessageBytes (): number {
    return this.limits.maxMessageBytes
  }

  /** True when some messages of a value that is not complete yet are held. */
  get hasPartialValue (): boolean {
    return this.messages.length > 0
  }

  /** Adds one complete message (the bytes after its length prefix). */
  pushMessage (message: Uint8Array): void {
    if (message.length === 0) throw gobError('empty message')
    if (message.length > this.limits.maxMessageBytes) throw gobError(`message of ${message.length} bytes is over the ${this.limits.maxMessageBytes}-byte limit`)
    this.pendingBytes += message.length
    if (this.pendingBytes > this.limits.maxPendingBytes) throw gobError(`a value spanning over ${this.limits.maxPendingBytes} bytes of messages`)
    this.messages.push(message)
  }

  /** The next top-level value, or undefined until the messages it needs have all arrived. */
  tryDecode (): DecodedValue | undefined {
    if (this.messages.length === 0 || this.messages.length === this.stalledAt) return undefined
    this.cursor = 0
    this.added = []
    this.nodes = 0
    this.buf = new GobReader(new Uint8Array(0))
    try {
      const typeId = this.decodeTypeSequence(false)
      const value = this.decodeValue(typeId, 0)
      // Go drops what is left of the last message at the next Decode (decoder.go DecodeValue).
      const used = this.messages.splice(0, this.cursor)
      for (const m of used) this.pendingBytes -= m.length
      this.stalledAt = -1
      return { value, typeId, typeName: this.typeName(typeId) }
    } catch (err) {
      for (const id of this.added) { this.types.delete(id); this.mayReloadCache.delete(id) }
      this.added = []
      if (err === NEED_MORE) {
        this.stalledAt = this.messages.length
        return undefined
      }
      throw err
    }
  }

  /** The name a type was defined with, for messages ("" when the stream gave none). */
  typeName (id: number): string {
    return SCALAR_NAMES[id] ?? this.types.get(id)?.name ?? BUILTIN_TYPES.get(id)?.name ?? ''
  }

  private recvMessage (): void {
    const next = this.messages[this.cursor]
    if (next === undefined) throw NEED_MORE
    this.cursor++
    this.buf = new GobReader(next)
  }

  /** decoder.go decodeTypeSequence: definitions, then the id of the value that follows. */
  private decodeTypeSequence (isInterface: boolean): number {
    for (;;) {
      if (this.buf.remaining === 0) this.recvMessage()
      const id = this.buf.readTypeId()
      if (id >= 0) return id
      this.recvType(-id)
      if (this.buf.remaining > 0) {
        if (!isInterface) throw gobError(`extra data after the definition of type ${-id}`)
        // Inside an interface the rest of the value follows as a delimited chunk: skip its count.
        this.buf.readUint('interface chunk length')
      }
    }
  }

  private recvType (id: number): void {
    if (id < FIRST_USER_ID) throw gobError(`type id ${id} is reserved and cannot be defined`)
    if (this.types.has(id)) throw gobError(`type id ${id} is defined twice`)
    if (this.types.size >= this.limits.maxTypes) throw gobError(`more than ${this.limits.maxTypes} type definitions on one stream`)
    const raw = this.decodeValue(TypeId.wireType, 0)
    this.types.set(id, this.toWireType(id, raw))
    this.added.push(id)
  }

  private toWireType (id: number, raw: GobValue): WireType {
    if (!isGobStruct(raw)) throw gobError(`type ${id}: definition is not a wireType`)
    const kinds = ['ArrayT', 'SliceT', 'StructT', 'MapT', 'GobEncoderT', 'BinaryMarshalerT', 'TextMarshalerT'].filter((k) => raw[k] !== undefined)
    if (kinds.length !== 1) throw gobError(`type ${id}: definition must set exactly one kind, got ${kinds.length === 0 ? 'none' : kinds.join(', ')}`)
    const kind = kinds[0] as string
    const body = raw[kind] as GobStruct
    const commonType = body.CommonType
    const name = isGobStruct(commonType) && typeof commonType.Name === 'string' ? commonType.Name : ''
    if (name.length > MAX_TYPE_NAME) throw gobError(`type ${id}: name of ${name.length} characters`)
    const int = (field: string): number => {
      const v = body[field] ?? 0
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw gobError(`type ${id} (${name}): ${field} ${String(v)} is not a valid id or length`)
      return v
    }
    switch (kind) {
      case 'ArrayT': return { kind: 'array', name, elem: int('Elem'), len: int('Len') }
      case 'SliceT': return { kind: 'slice', name, elem: int('Elem') }
      case 'MapT': return { kind: 'map', name, key: int('Key'), elem: int('Elem') }
      case 'GobEncoderT': return { kind: 'GobEncoder', name }
      case 'BinaryMarshalerT': return { kind: 'BinaryMarshaler', name }
      case 'TextMarshalerT': return { kind: 'TextMarshaler', name }
    }
    const list = body.Field ?? []
    if (!Array.isArray(list)) throw gobError(`type ${id} (${name}): Field is not a list`)
    if (list.length > this.limits.maxFields) throw gobError(`type ${id} (${name}): ${list.length} fields is over the limit of ${this.limits.maxFields}`)
    const fields = list.map((f, i) => {
      if (!isGobStruct(f)) throw gobError(`type ${id} (${name}): field ${i} is not a fieldType`)
      const fieldName = f.Name ?? ''
      const fieldId = f.Id ?? 0
      if (typeof fieldName !== 'string' || fieldName.length > MAX_TYPE_NAME) throw gobError(`type ${id} (${name}): field ${i} has a bad name`)
      if (typeof fieldId !== 'number' || !Number.isInteger(fieldId) || fieldId <= 0 || fieldId > 0x7fffffff) throw gobError(`type ${id} (${name}): field ${fieldName} has type id ${String(fieldId)}`)
      return { name: fieldName, id: fieldId }
    })
    return { kind: 'struct', name, fields }
  }

  private lookup (id: number): WireType {
    const t = this.types.get(id) ?? BUILTIN_TYPES.get(id)
    if (t === undefined) throw gobError(`type id ${id} is used but was never defined`)
    return t
  }

  /** A value as Decode would read it: a struct's fields, or a singleton behind a zero delta. */
  private decodeValue (id: number, depth: number): GobValue {
    const t = SCALAR_NAMES[id] === undefined ? this.lookup(id) : undefined
    if (t?.kind === 'struct') return this.decodeStruct(t, depth)
    const delta = this.buf.readCount('singleton field delta')
    if (delta !== 0) throw gobError(`non-zero field delta ${delta} before a ${this.typeName(id) || `type ${id}`} value`)
    return this.decodeField(id, depth)
  }

  private enter (depth: number): void {
    if (depth > this.limits.maxDepth) throw gobError(`value nested deeper than ${this.limits.maxDepth} levels`)
  }

  private decodeField (id: number, depth: number): GobValue {
    if (++this.nodes > this.limits.maxNodes) throw gobError(`value with more than ${this.limits.maxNodes} parts`)
    const b = this.buf
    switch (id) {
      case TypeId.bool: return b.readUint('bool') !== 0
      case TypeId.int: return b.readInt()
      case TypeId.uint: return b.readUint()
      case TypeId.float: return b.readFloat()
      case TypeId.bytes: return b.readBytes(b.readCount('[]byte length'), '[]byte')
      case TypeId.string: return b.readString(b.readCount('string length'), 'string')
      case TypeId.complex: return new GobComplex(b.readFloat('complex real part'), b.readFloat('complex imaginary part'))
      case TypeId.interface: return this.decodeInterface(depth + 1)
    }
    const t = this.lookup(id)
    switch (t.kind) {
      case 'struct': return this.decodeStruct(t, depth + 1)
      case 'slice': return this.decodeList(t.name, t.elem, b.readCount(`${t.name} length`), depth + 1)
      case 'array': {
        const n = b.readCount(`${t.name} length`)
        if (n !== t.len) throw gobError(`array ${t.name}: ${n} elements sent for length ${t.len}`)
        return this.decodeList(t.name, t.elem, n, depth + 1)
      }
      case 'map': return this.decodeMap(t, depth + 1)
      default: {
        const n = b.readCount(`${t.name} payload length`)
        return new GobOpaque(t.kind, t.name, b.readBytes(n, `${t.kind} ${t.name}`))
      }
    }
  }

  private decodeStruct (t: Extract<WireType, { kind: 'struct' }>, depth: number): GobStruct {
    this.enter(depth)
    const out = newGobStruct()
    let fieldnum = -1
    while (this.buf.remaining > 0) {
      const delta = this.buf.readCount('field delta')
      if (delta === 0) break
      fieldnum += delta
      const field = t.fields[fieldnum]
      if (field === undefined) throw gobError(`struct ${t.name || '(unnamed)'}: field number ${fieldnum} out of range (${t.fields.length} fields)`)
      out[field.name] = this.decodeField(field.id, depth)
    }
    return out
  }

  /**
   * Whether a value of this type may contain an interface, whose type definitions can move the
   * value on to the next message: then a count cannot be checked against the current message.
   */
  private mayReload (id: number, seen = new Set<number>()): boolean {
    if (id === TypeId.interface) return true
    if (id < FIRST_USER_ID) return false
    const cached = this.mayReloadCache.get(id)
    if (cached !== undefined) return cached
    if (seen.has(id)) return false
    seen.add(id)
    const t = this.types.get(id)
    let result = false
    if (t !== undefined) {
      switch (t.kind) {
        case 'struct': result = t.fields.some((f) => this.mayReload(f.id, seen)); break
        case 'slice': case 'array': result = this.mayReload(t.elem, seen); break
        case 'map': result = this.mayReload(t.key, seen) || this.mayReload(t.elem, seen); break
      }
    }
    this.mayReloadCache.set(id, result)
    return result
  }

  private checkCount (what: string, n: number, mayReload: boolean, bytesPerItem: number): void {
    if (n > this.limits.maxElements) throw gobError(`${what}: ${n} elements is over the limit of ${this.limits.maxElements}`)
    // Every element takes at least one byte, so a count the message cannot hold is a lie.
    if (!mayReload && n * bytesPerItem > this.buf.remaining) throw gobError(`${what}: ${n} elements cannot fit in the ${this.buf.remaining} bytes left`)
  }

  private decodeList (name: string, elem: number, n: number, depth: number): GobValue[] {
    this.enter(depth)
    const what = name || 'slice'
    this.checkCount(what, n, this.mayReload(elem), 1)
    const out: GobValue[] = []
    for (let i = 0; i < n; i++) {
      if (this.buf.remaining === 0) throw gobError(`${what}: element ${i} of ${n} is missing`)
      out.push(this.decodeField(elem, depth))
    }
    return out
  }

  private decodeMap (t: Extract<WireType, { kind: 'map' }>, depth: number): Map<GobValue, GobValue> {
    this.enter(depth)
    const what = t.name || 'map'
    const n = this.buf.readCount(`${what} length`)
    this.checkCount(what, n, this.mayReload(t.key) || this.mayReload(t.elem), 2)
    const out = new Map<GobValue, GobValue>()
    for (let i = 0; i < n; i++) {
      const key = this.decodeField(t.key, depth)
      out.set(key, this.decodeField(t.elem, depth))
    }
    return out
  }

  private decodeInterface (depth: number): GobInterface | null {
    this.enter(depth)
    const n = this.buf.readCount('interface name length')
    if (n === 0) return null
    if (n > MAX_INTERFACE_NAME) throw gobError(`interface type name of ${n} bytes (limit ${MAX_INTERFACE_NAME})`)
    const name = this.buf.readString(n, 'interface type name')
    const concreteId = this.decodeTypeSequence(true)
    this.buf.readUint('interface value length') // present so a receiver can skip; not needed here
    return new GobInterface(name, this.decodeValue(concreteId, depth))
  }
}
