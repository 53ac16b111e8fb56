/**
 * Decision ids: UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter
 * that keeps ids made in the same millisecond in order (method 1 of section 6.2), then random
 * bits. Ids sort as strings in the order they were made, so a cursor over ids is a cursor over
 * time, and two replicas never collide.
 */
import { randomBytes } from 'node:crypto'

/**
 * Makes ids that never go backwards within one generator (one per store), even if the clock
 * does: a clock step back reuses the last millisecond with the next counter value.
 */
export class DecisionIds {
  #lastMs = -1
  #counter = 0

  /** A new id at `ms`; returns the millisecond it carries, which is the record's time. */
  next (ms: number): { id: string, ms: number } {
    let at = Math.floor(ms)
    if (at <= this.#lastMs) {
      at = this.#lastMs
      this.#counter++
      if (this.#counter > 0xfff) {
        at = this.#lastMs + 1
        this.#counter = 0
      }
    } else {
      this.#counter = 0
    }
    this.#lastMs = at
    const bytes = randomBytes(16)
    bytes.writeUIntBE(at, 0, 6)
    bytes[6] = 0x70 | (this.#counter >> 8)
    bytes[7] = this.#counter & 0xff
    bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f)
    const hex = bytes.toString('hex')
    return { id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`, ms: at }
  }
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

export function isDecisionId (text: string): boolean {
  return ID.test(text)
}

/**
 * A deterministic UUID-shaped key (version 8, "custom") from a purpose and the parts that make
 * an action unique: the same parts always give the same key, in every replica and after restarts.
 */
export function derivedKey (purpose: string, parts: Record<string, string>, hashHex: (text: string) => string): string {
  const hex = hashHex(`${purpose}\n${JSON.stringify(Object.entries(parts).sort(([a], [b]) => (a < b ? -1 : 1)))}`)
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}
