/**
 * Per-rollout gauges with bounded cardinality. Series labelled by rollout and stage would grow
 * without end (every rollout, every revision), so each rollout/stage pair keeps the label sets
 * it last wrote and when it wrote them:
 *   - an update replaces the pair's series (a signal no longer measured leaves no stale value);
 *   - before every scrape, pairs not updated within the TTL are removed: a finished rollout's
 *     series disappear one TTL after Argo last asked about it;
 *   - past the cap, the pair updated longest ago is removed first, whatever the TTL.
 * Map keeps insertion order and an update re-inserts its key, so the first entry is always
 * the pair updated longest ago.
 */
import type { Gauge } from 'prom-client'

export type Labels = Record<string, string>

/** One value of one gauge for one rollout/stage pair. */
export interface SeriesValue {
  gauge: Gauge<string>
  labels: Labels
  value: number
}

export type EvictionReason = 'expired' | 'capacity'

export interface RolloutSeriesOptions {
  /** A pair not updated for this long is removed at the next scrape (ms). */
  ttlMs: number
  /** At most this many rollout/stage pairs keep series. */
  maxPairs: number
  now?: () => number
  onEvict?: (reason: EvictionReason) => void
}

interface Pair {
  updatedMs: number
  written: { gauge: Gauge<string>, labels: Labels }[]
}

export class RolloutSeries {
  readonly #pairs = new Map<string, Pair>()
  readonly #ttlMs: number
  readonly #maxPairs: number
  readonly #now: () => number
  readonly #onEvict: (reason: EvictionReason) => void

  constructor (opts: RolloutSeriesOptions) {
    if (!(opts.ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${opts.ttlMs}`)
    if (!(Number.isInteger(opts.maxPairs) && opts.maxPairs >= 1)) throw new RangeError(`maxPairs must be a whole number >= 1, got ${opts.maxPairs}`)
    this.#ttlMs = opts.ttlMs
    this.#maxPairs = opts.maxPairs
    this.#now = opts.now ?? Date.now
    this.#onEvict = opts.onEvict ?? (() => {})
  }

  /** Rollout/stage pairs that currently have series. */
  get size (): number {
    return this.#pairs.size
  }

  /** Replaces every series of the pair `key` with `values`. */
  update (key: string, values: SeriesValue[]): void {
    this.#remove(key)
    for (const v of values) v.gauge.set(v.labels, v.value)
    this.#pairs.set(key, { updatedMs: this.#now(), written: values.map((v) => ({ gauge: v.gauge, labels: v.labels })) })
    while (this.#pairs.size > this.#maxPairs) {
      const oldest = this.#pairs.keys().next().value as string
      this.#remove(oldest)
      this.#onEvict('capacity')
    }
  }

  /** Removes the series of pairs not updated within the TTL (called before each scrape). */
  expire (): void {
    const cutoff = this.#now() - this.#ttlMs
    for (const [key, pair] of this.#pairs) {
      if (pair.updatedMs > cutoff) continue
      this.#remove(key)
      this.#onEvict('expired')
    }
  }

  #remove (key: string): void {
    const pair = this.#pairs.get(key)
    if (pair === undefined) return
    for (const w of pair.written) w.gauge.remove(w.labels)
    this.#pairs.delete(key)
  }
}
