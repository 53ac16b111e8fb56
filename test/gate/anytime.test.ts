/**
 * The property the gate's statistics exist for: read at every look of a growing window, the
 * confidence sequence excludes the true rate in at most alpha of runs. A fixed-sample 95%
 * Wilson interval read the same way does not: that is the inflation Argo's repeated
 * measurements would cause.
 */
import t from 'tap'
import { rateBound } from '../../src/gate/stats.js'
import { binomial, rng } from '../helpers/random.js'

function wilson (n: number, k: number, z = 1.959964): { lower: number, upper: number } {
  const p = k / n
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n)
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n)
  return { lower: centre - half, upper: centre + half }
}

t.test('crossing probability over 40 looks stays under alpha; Wilson does not', async (t) => {
  const alpha = 0.05
  const runs = 1500
  const looks = 40
  const perLook = 25 // events between looks: 25..1000 events
  for (const p of [0.02, 0.1, 0.3]) {
    const random = rng(7 + Math.round(p * 1000))
    let csCrossed = 0
    let wilsonCrossed = 0
    for (let r = 0; r < runs; r++) {
      let n = 0
      let k = 0
      let cs = false
      let wi = false
      for (let look = 0; look < looks; look++) {
        n += perLook
        k += binomial(random, perLook, p)
        if (!cs) {
          const b = rateBound(n, k, alpha)
          if (p < b.lower || p > b.upper) cs = true
        }
        if (!wi) {
          const w = wilson(n, k)
          if (p < w.lower || p > w.upper) wi = true
        }
      }
      if (cs) csCrossed++
      if (wi) wilsonCrossed++
    }
    const csRate = csCrossed / runs
    const wilsonRate = wilsonCrossed / runs
    t.comment(`p=${p}: confidence sequence crossed in ${(csRate * 100).toFixed(1)}% of runs, Wilson in ${(wilsonRate * 100).toFixed(1)}%`)
    t.ok(csRate <= alpha, `confidence sequence crossing ${csRate} <= alpha ${alpha} (p=${p})`)
    t.ok(wilsonRate > 2 * alpha, `a fixed-sample interval read ${looks} times crosses far more often: ${wilsonRate} (p=${p})`)
  }
})
