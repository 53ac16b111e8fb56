/** Seeded randomness for simulations: reproducible runs, no Math.random. */

/** mulberry32: a small, fast 32-bit PRNG with good equidistribution for simulation use. */
export function rng (seed: number): () => number {
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
export function binomial (random: () => number, n: number, p: number): number {
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
