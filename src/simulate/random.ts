/**
 * Seeded randomness for the rollout simulator (and the statistical tests): reproducible runs,
 * no Math.random. Pure: a generator is a closure over its own state.
 */
import { lnGamma } from '../gate/stats.js'

export type Random = () => number

/** mulberry32: a small, fast 32-bit PRNG with good equidistribution for simulation use. */
export function rng (seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Exact Binomial(n, p) draw by skipping over misses: the gaps between hits of a Bernoulli(p)
 * sequence are geometric, so a draw costs O(k) rather than O(n).
 */
export function binomial (random: Random, n: number, p: number): number {
  if (p <= 0 || n === 0) return 0
  if (p >= 1) return n
  const logQ = Math.log1p(-p)
  let hits = 0
  let position = 0
  for (;;) {
    // Number of misses before the next hit: floor(ln U / ln(1 - p)), U in (0, 1].
    position += Math.floor(Math.log(1 - random()) / logQ) + 1
    if (position > n) return hits
    hits++
  }
}

/**
 * Exact Poisson(mean) draw: Knuth's product of uniforms below mean 30, above it Hormann's
 * transformed rejection PTRS ("The transformed rejection method for generating Poisson random
 * variables", Insurance: Mathematics and Economics 12, 1993), whose cost does not grow with the
 * mean (a minute of 600 decisions costs as much as one of 6).
 */
export function poisson (random: Random, mean: number): number {
  if (!(mean > 0)) return 0
  if (mean < 30) {
    const limit = Math.exp(-mean)
    let k = 0
    let product = random()
    while (product > limit) {
      k++
      product *= random()
    }
    return k
  }
  const slam = Math.sqrt(mean)
  const logMean = Math.log(mean)
  const b = 0.931 + 2.53 * slam
  const a = -0.059 + 0.02483 * b
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4)
  const vr = 0.9277 - 3.6224 / (b - 2)
  for (;;) {
    const u = random() - 0.5
    const v = random()
    const us = 0.5 - Math.abs(u)
    const k = Math.floor((2 * a / us + b) * u + mean + 0.43)
    if (us >= 0.07 && v <= vr) return k
    if (k < 0 || (us < 0.013 && v > us)) continue
    if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -mean + k * logMean - lnGamma(k + 1)) return k
  }
}
