/**
 * Renders decoded GobValues in the tagged JSON form test/go-host's `vectors` program writes for
 * the Go values it encoded (cmd/vectors/tagged.go), so the two can be compared exactly.
 */
import { GobComplex, GobInterface, GobOpaque, type GobValue } from '../../../src/plugin/gob/wire.js'

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

function float (n: number): unknown {
  if (Number.isNaN(n)) return { $float: 'NaN' }
  if (n === Infinity) return { $float: '+Inf' }
  if (n === -Infinity) return { $float: '-Inf' }
  return n
}

export function tagged (v: GobValue): unknown {
  if (v === null) return null
  if (typeof v === 'bigint') return { $big: v.toString() }
  if (typeof v === 'number') return float(v)
  if (typeof v === 'boolean' || typeof v === 'string') return v
  if (v instanceof Uint8Array) return { $bytes: hex(v) }
  if (v instanceof GobComplex) return { $complex: [float(v.real), float(v.imag)] }
  if (v instanceof GobInterface) return { $iface: v.name, value: tagged(v.value) }
  if (v instanceof GobOpaque) return { $opaque: v.kind, type: v.typeName, hex: hex(v.bytes) }
  if (Array.isArray(v)) return v.map(tagged)
  if (v instanceof Map) {
    const pairs = [...v.entries()].map(([k, e]) => [tagged(k), tagged(e)] as const)
    pairs.sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1))
    return { $map: pairs }
  }
  const out: Record<string, unknown> = {}
  for (const [k, e] of Object.entries(v)) out[k] = tagged(e)
  return out
}
