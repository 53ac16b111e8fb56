import t from 'tap'
import { lnBeta, lnEvidenceAgainst, lnGamma, rateBound } from '../../src/gate/stats.js'

// An independent computation of the same confidence sequence: the mixture's marginal
// likelihood by numerical integration (no Beta function, no lnGamma), then the set
// { p : L(p) > alpha * marginal } found by scanning a fine grid.
function marginalLogLikelihood (n: number, k: number): number {
  // integral_0^1 p^k (1-p)^(n-k) Beta(1/2,1/2)(p) dp with p = sin^2(theta): the Jeffreys
  // density's endpoint singularities cancel, leaving (2/pi) * integral_0^{pi/2} sin^{2k} cos^{2(n-k)} dtheta.
  const steps = 20000
  const h = (Math.PI / 2) / steps
  const logs: number[] = []
  for (let i = 0; i <= steps; i++) {
    const th = i * h
    const s = Math.sin(th)
    const c = Math.cos(th)
    const lv = (k === 0 ? 0 : 2 * k * Math.log(s)) + (n - k === 0 ? 0 : 2 * (n - k) * Math.log(c))
    const w = i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2 // Simpson weights
    logs.push(lv + Math.log(w))
  }
  const m = Math.max(...logs.filter(Number.isFinite))
  const sum = logs.reduce((acc, x) => acc + (Number.isFinite(x) ? Math.exp(x - m) : 0), 0)
  return m + Math.log(sum * h / 3) + Math.log(2 / Math.PI)
}

function bruteForceBounds (n: number, k: number, alpha: number, step: number): { lower: number, upper: number } {
  const cut = marginalLogLikelihood(n, k) + Math.log(alpha)
  let lower = Infinity
  let upper = -Infinity
  for (let i = 0; i <= 1 / step; i++) {
    const p = Math.min(1, i * step)
    const ll = (k === 0 ? 0 : k * Math.log(p)) + (n - k === 0 ? 0 : (n - k) * Math.log1p(-p))
    if (ll > cut) {
      lower = Math.min(lower, p)
      upper = Math.max(upper, p)
    }
  }
  return { lower, upper }
}

t.test('lnGamma matches known values', async (t) => {
  t.ok(Math.abs(lnGamma(1)) < 1e-13, 'ln Gamma(1) = 0')
  t.ok(Math.abs(lnGamma(0.5) - Math.log(Math.sqrt(Math.PI))) < 1e-13, 'Gamma(1/2) = sqrt(pi)')
  t.ok(Math.abs(lnGamma(11) - Math.log(3628800)) < 1e-10, 'Gamma(11) = 10!')
  // Stirling's series for a large argument, independent of the Lanczos coefficients.
  const x = 1e6
  const stirling = (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x)
  t.ok(Math.abs(lnGamma(x) - stirling) / stirling < 1e-12, 'large argument agrees with Stirling')
  t.ok(Math.abs(lnBeta(0.5, 0.5) - Math.log(Math.PI)) < 1e-13, 'B(1/2,1/2) = pi')
})

t.test('the bound matches an independent integration and grid search on a grid of (n, k)', async (t) => {
  const step = 1e-5
  const cases: [number, number][] = []
  for (const n of [1, 5, 20, 50, 137, 400, 1000]) {
    for (const k of new Set([0, 1, Math.floor(n * 0.03), Math.floor(n / 2), n - 1, n].filter((x) => x >= 0 && x <= n))) cases.push([n, k])
  }
  for (const alpha of [0.05, 0.01]) {
    for (const [n, k] of cases) {
      const b = rateBound(n, k, alpha)
      const brute = bruteForceBounds(n, k, alpha, step)
      t.ok(Math.abs(b.lower - brute.lower) <= 2 * step, `lower n=${n} k=${k} alpha=${alpha}: ${b.lower} vs ${brute.lower}`)
      t.ok(Math.abs(b.upper - brute.upper) <= 2 * step, `upper n=${n} k=${k} alpha=${alpha}: ${b.upper} vs ${brute.upper}`)
    }
  }
})

t.test('the bound is the set where the evidence against p stays under 1/alpha', async (t) => {
  const alpha = 0.05
  for (const [n, k] of [[333, 27], [1200, 10], [50, 0], [10, 10]] as const) {
    const b = rateBound(n, k, alpha)
    const edge = Math.log(1 / alpha)
    if (b.lower > 0) {
      t.ok(lnEvidenceAgainst(b.lower, n, k) < edge + 1e-6, `inside at the lower end (${n},${k})`)
      t.ok(lnEvidenceAgainst(b.lower * 0.99, n, k) > edge, `outside just below (${n},${k})`)
    }
    if (b.upper < 1) {
      t.ok(lnEvidenceAgainst(b.upper, n, k) < edge + 1e-6, `inside at the upper end (${n},${k})`)
      t.ok(lnEvidenceAgainst(Math.min(1, b.upper * 1.01), n, k) > edge, `outside just above (${n},${k})`)
    }
  }
})

t.test('known shapes', async (t) => {
  t.same(rateBound(0, 0, 0.05), { n: 0, k: 0, rate: 0, lower: 0, upper: 1 }, 'no data: no knowledge')
  const none = rateBound(500, 0, 0.05)
  t.equal(none.lower, 0, 'zero hits: lower bound is 0')
  t.ok(none.upper > 0 && none.upper < 0.02, `zero hits in 500: small upper bound (${none.upper})`)
  const all = rateBound(40, 40, 0.05)
  t.equal(all.upper, 1, 'all hits: upper bound is 1')
  const smaller = rateBound(1000, 30, 0.01)
  const larger = rateBound(1000, 30, 0.1)
  t.ok(smaller.lower < larger.lower && smaller.upper > larger.upper, 'a smaller alpha gives a wider bound')
})

t.test('bad counts are refused with a message naming the value', async (t) => {
  t.throws(() => rateBound(-1, 0, 0.05), /events n must be a whole number >= 0, got -1/)
  t.throws(() => rateBound(10, 11, 0.05), /hits k must be a whole number in 0..n \(n=10\), got 11/)
  t.throws(() => rateBound(10.5, 1, 0.05), /got 10.5/)
  t.throws(() => rateBound(10, 1, 0), /alpha must be in \(0, 1\), got 0/)
})
