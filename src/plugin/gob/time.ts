/**
 * Go's time.Time as a GobEncoder payload (time.go MarshalBinary / UnmarshalBinary), which is
 * how metav1.Time (a struct embedding time.Time) crosses gob:
 *   version 1: [1][seconds since 0001-01-01 UTC, int64 BE][nanoseconds, int32 BE][zone offset minutes, int16 BE; -1 = UTC]
 *   version 2: version 1 followed by the offset's seconds (int8), for zones not on a whole minute.
 */
import { GobOpaque, gobError, type GobValue } from './wire.js'

/** Seconds from 0001-01-01T00:00:00Z to the Unix epoch (Go's unixToInternal). */
const UNIX_TO_GO = 62_135_596_800n

export interface GoTime {
  /** Milliseconds since the Unix epoch, as Date uses. */
  epochMs: number
  /** Nanoseconds within the second (Date keeps only milliseconds). */
  nanos: number
  /** The zone offset east of UTC in seconds; null for UTC. */
  offsetSeconds: number | null
  /** True for Go's zero time (0001-01-01T00:00:00Z): metav1.Time's "unset". */
  isZero: boolean
}

export function decodeGoTime (payload: Uint8Array): GoTime {
  const version = payload[0]
  if (version !== 1 && version !== 2) throw gobError(`time payload: unsupported version ${String(version)}`)
  const want = version === 1 ? 15 : 16
  if (payload.length !== want) throw gobError(`time payload: ${payload.length} bytes, want ${want} for version ${version}`)
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  const sec = view.getBigInt64(1, false)
  const nanos = view.getInt32(9, false)
  if (nanos < 0 || nanos > 999_999_999) throw gobError(`time payload: nanoseconds ${nanos} out of range`)
  const offsetMin = view.getInt16(13, false)
  const offsetSeconds = offsetMin === -1 ? null : offsetMin * 60 + (version === 2 ? view.getInt8(15) : 0)
  const unixSec = sec - UNIX_TO_GO
  const epochMs = Number(unixSec) * 1000 + Math.floor(nanos / 1e6)
  if (!Number.isFinite(epochMs) || Math.abs(epochMs) > 8.64e15) throw gobError(`time payload: ${sec} seconds is outside the range of a date`)
  return { epochMs, nanos, offsetSeconds, isZero: sec === 0n && nanos === 0 }
}

/** The version-1 UTC payload for an instant, as Go writes it for a UTC time. */
export function encodeGoTime (epochMs: number, extraNanos = 0): Uint8Array {
  const ms = Math.floor(epochMs)
  const unixSec = Math.floor(ms / 1000)
  const nanos = (ms - unixSec * 1000) * 1e6 + extraNanos
  const out = new Uint8Array(15)
  const view = new DataView(out.buffer)
  out[0] = 1
  view.setBigInt64(1, BigInt(unixSec) + UNIX_TO_GO, false)
  view.setInt32(9, nanos, false)
  view.setInt16(13, -1, false)
  return out
}

/** A metav1.Time (GobEncoder payload) as an RFC 3339 UTC string; undefined when unset or zero. */
export function goTimeToIso (v: GobValue | undefined): string | undefined {
  if (!(v instanceof GobOpaque)) return undefined
  const t = decodeGoTime(v.bytes)
  if (t.isZero) return undefined
  return new Date(t.epochMs).toISOString().replace(/\.000Z$/, 'Z')
}
