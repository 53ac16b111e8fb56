/**
 * Sub-interval buckets for "sustained" rules: aligned to multiples of the width since the
 * epoch, so the same instant falls in the same bucket whatever window a request asks for, and
 * repeated measurements by Argo line up.
 */
import type { RateBucket } from '../../gate/observations.js'

export class BucketCounter {
  readonly #widthMs: number
  readonly #counts = new Map<number, { n: number, k: number }>()

  constructor (subIntervalMinutes: number) {
    this.#widthMs = subIntervalMinutes * 60_000
  }

  add (atMs: number, hit: boolean): void {
    const start = Math.floor(atMs / this.#widthMs) * this.#widthMs
    const c = this.#counts.get(start) ?? { n: 0, k: 0 }
    c.n++
    if (hit) c.k++
    this.#counts.set(start, c)
  }

  /** Consecutive buckets covering [fromMs, untilMs], oldest first, empty ones included. */
  buckets (fromMs: number, untilMs: number): RateBucket[] {
    const out: RateBucket[] = []
    if (untilMs < fromMs) return out
    const first = Math.floor(fromMs / this.#widthMs) * this.#widthMs
    for (let start = first; start < untilMs || start === first; start += this.#widthMs) {
      const c = this.#counts.get(start) ?? { n: 0, k: 0 }
      out.push({ start: new Date(start).toISOString(), n: c.n, k: c.k })
    }
    return out
  }
}
