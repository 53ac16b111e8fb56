/**
 * Go encoding/gob wire facts (doc.go "Encoding Details", type.go) and the shapes the generic
 * decoder produces. Gob is self-describing: a stream defines every non-builtin type before a
 * value uses it, so the plugin can read Argo's whole AnalysisRun type tree without a copy of
 * Argo's Go types.
 */
import { GateError } from '../../errors.js'

/** Type ids every gob stream knows a priori (type.go bootstrapType / checkId). */
export const TypeId = {
  bool: 1,
  int: 2,
  uint: 3,
  float: 4,
  bytes: 5,
  string: 6,
  complex: 7,
  interface: 8,
  wireType: 16,
  arrayType: 17,
  commonType: 18,
  sliceType: 19,
  structType: 20,
  fieldType: 21,
  fieldTypeSlice: 22,
  mapType: 23,
  /** gob's gobEncoderType (struct{CommonType}); built after mapType, so 24. */
  gobEncoderType: 24,
} as const

/** Ids below this are reserved; a stream may not define them (decoder.go recvType). */
export const FIRST_USER_ID = 64

export type ExternalKind = 'GobEncoder' | 'BinaryMarshaler' | 'TextMarshaler'

export type WireType =
  | { kind: 'struct', name: string, fields: Array<{ name: string, id: number }> }
  | { kind: 'slice', name: string, elem: number }
  | { kind: 'array', name: string, elem: number, len: number }
  | { kind: 'map', name: string, key: number, elem: number }
  | { kind: ExternalKind, name: string }

/** A Go integer that does not fit a JS number exactly comes back as a bigint. */
export type GobInt = number | bigint

/**
 * A struct: the fields that were sent, by Go field name, in an object without a prototype (a
 * field named `__proto__` or `constructor` is just a field). Unsent fields are Go zero values.
 */
export interface GobStruct { readonly [field: string]: GobValue }

/*
 * Non-struct composite values are class instances, so a struct field that happens to be called
 * `kind` or `name` can never make a struct pass for one of them.
 */

/** interface{} holding a value of the concrete type registered under `name`. */
export class GobInterface {
  constructor (readonly name: string, readonly value: GobValue) {}
}

/**
 * The payload of a type that encodes itself (GobEncoder, BinaryMarshaler, TextMarshaler), kept
 * as raw bytes: only the receiver knows its format (metav1.Time: see time.ts).
 */
export class GobOpaque {
  constructor (readonly kind: ExternalKind, readonly typeName: string, readonly bytes: Uint8Array) {}
}

export class GobComplex {
  constructor (readonly real: number, readonly imag: number) {}
}

export type GobValue =
  | boolean
  | GobInt
  | string
  | Uint8Array
  | null
  | GobComplex
  | GobInterface
  | GobOpaque
  | GobValue[]
  | Map<GobValue, GobValue>
  | GobStruct

/** Every refusal of gob input is this error, naming what was wrong and where. */
export function gobError (message: string): GateError {
  return new GateError('GATE_ERR_PLUGIN_PROTOCOL', `gob: ${message}`)
}

/** A decoded struct (not a map, slice, interface, payload, byte slice or scalar). */
export function isGobStruct (v: GobValue | undefined): v is GobStruct {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === null
}

export function newGobStruct (): Record<string, GobValue> {
  return Object.create(null) as Record<string, GobValue>
}
