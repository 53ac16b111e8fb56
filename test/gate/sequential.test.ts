/**
 * The validity of the rules' e-values, by simulation: data generated exactly on a boundary (the
 * least favourable point of each null), Bernoulli events in both arms, the e-value read on the
 * cumulative counts at each of 100 looks. By Ville's inequality a rule crosses 1/alpha in at
 * most alpha of runs; the comparative test's binomial model of Bernoulli counts is an
 * approximation, and this is where it would show. Also: the crossing rate under the alternative
 * (power), and the pieces the judge builds on.
 */
import t from 'tap'
import { canaryShare, fixedHorizonEvents, HARM, lnEvidence, lnMean, lnMixture, normalQuantile, PASS_RATE, type RateLimit, type Side } from '../../src/gate/sequential.js'
import { binomial, rng } from '../helpers/random.js'

const ALPHA = 0.05
const CUT = Math.log(1 / ALPHA)

interface Case { name: string, side: Side, limit: RateLimit, pc: number, pb: number, perLook: [number, number] }

/** Share of runs in which the e-value crosses 1/alpha at some look. */
function crossingRate (c: Case, runs: number, looks: number, seed: number): number {
  const random = rng(seed)
  let crossed = 0
  for (let r = 0; r < runs; r++) {
    const n = { nc: 0, kc: 0, nb: 0, kb: 0 }
    for (let look = 0; look < looks; look++) {
      n.nc += c.perLook[0]
      n.kc += binomial(random, c.perLook[0], c.pc)
      n.nb += c.perLook[1]
      n.kb += binomial(random, c.perLook[1], c.pb)
      if (lnEvidence(c.side, n, c.limit) >= CUT) { crossed++; break }
    }
  }
  return crossed / runs
}

// Canary-1's arms (10% of 200 jobs/min, 5-minute looks) and canary-2's (25%), 100 looks.
const NULLS: Case[] = [
  { name: 'job failures: harm at exactly 2x a 2% baseline', side: 'harm', limit: { maxRatio: 2, floor: 0 }, pc: 0.04, pb: 0.02, perLook: [100, 900] },
  { name: 'job failures: pass at exactly the 2x margin', side: 'pass', limit: { maxRatio: 2, floor: 0 }, pc: 0.04, pb: 0.02, perLook: [100, 900] },
  { name: 'job failures with the 2% floor: harm at 2x', side: 'harm', limit: { maxRatio: 2, floor: 0.02 }, pc: 0.04, pb: 0.02, perLook: [100, 900] },
  { name: 'job failures with the 2% floor: pass at 2x', side: 'pass', limit: { maxRatio: 2, floor: 0.02 }, pc: 0.04, pb: 0.02, perLook: [100, 900] },
  { name: 'overload: harm at 1.5x a 0.5% floor over a quiet baseline', side: 'harm', limit: { maxRatio: 1.5, floor: 0.005 }, pc: 0.0075, pb: 0.001, perLook: [250, 750] },
  { name: 'overload: harm at 1.5x a busy baseline', side: 'harm', limit: { maxRatio: 1.5, floor: 0.005 }, pc: 0.03, pb: 0.02, perLook: [250, 750] },
  { name: 'deny: harm at exactly 3%', side: 'harm', limit: { maxRate: 0.03, floor: 0 }, pc: 0.03, pb: 0.01, perLook: [300, 2700] },
  { name: 'deny: pass at exactly 3%', side: 'pass', limit: { maxRate: 0.03, floor: 0 }, pc: 0.03, pb: 0.01, perLook: [300, 2700] },
]

t.test('under the null, each boundary crosses 1/alpha over 100 looks in at most alpha of runs', async (t) => {
  NULLS.forEach((c, i) => {
    const rate = crossingRate(c, 1000, 100, 1500 + i)
    t.comment(`${c.name}: crossed in ${(rate * 100).toFixed(1)}% of 1000 runs`)
    t.ok(rate <= ALPHA, `${c.name}: ${rate} <= ${ALPHA}`)
  })
})

t.test('under the alternatives the shipped rules are built for, the boundaries do cross', async (t) => {
  const cases: Array<Case & { within: number, atLeast: number }> = [
    // Healthy canary-1 job failures pass within 12 looks (an hour) in most runs...
    { name: 'job failures equal to the baseline pass', side: 'pass', limit: { maxRatio: 2, floor: 0.02 }, pc: 0.02, pb: 0.02, perLook: [100, 900], within: 12, atLeast: 0.9 },
    // ... a 4x regression is harmful within 12 looks, and a 5% deny rate over the 3% limit too.
    { name: 'job failures 4x the baseline are harm', side: 'harm', limit: { maxRatio: 2, floor: 0.02 }, pc: 0.08, pb: 0.02, perLook: [100, 900], within: 12, atLeast: 0.95 },
    { name: 'a 5% deny rate is harm', side: 'harm', limit: { maxRate: 0.03, floor: 0 }, pc: 0.05, pb: 0.01, perLook: [300, 2700], within: 12, atLeast: 0.95 },
  ]
  cases.forEach((c, i) => {
    const rate = crossingRate(c, 400, c.within, 2500 + i)
    t.comment(`${c.name}: crossed within ${c.within} looks in ${(rate * 100).toFixed(1)}% of 400 runs`)
    t.ok(rate >= c.atLeast, `${c.name}: ${rate} >= ${c.atLeast}`)
  })
})

t.test('the pieces: mixtures, shares, means, sample sizes', async (t) => {
  t.equal(lnMixture(0, 0, 0.03, HARM), 0, 'no events, no evidence (e-value 1)')
  t.ok(lnMixture(1000, 10, 0.03, PASS_RATE) > CUT, '1% in 1000 events is evidence under 3%')
  t.ok(lnMixture(1000, 10, 0.03, HARM) < 0, '... and none over it')
  t.ok(lnMixture(1000, 60, 0.03, HARM) > CUT, '6% in 1000 events is evidence over 3%')
  t.equal(canaryShare(1, 100, 900), 0.1, 'equal rates: the canary holds its share of the events')
  t.ok(Math.abs(canaryShare(2, 100, 900) - 200 / 1100) < 1e-15, 'twice the rate: twice the weight')
  t.ok(Math.abs(Math.exp(lnMean(Math.log(4), Math.log(16))) - 10) < 1e-12, 'the mean of e-values 4 and 16 is 10')
  t.ok(Math.abs(normalQuantile(0.95) - 1.6448536) < 1e-6)
  t.ok(Math.abs(normalQuantile(0.8) - 0.8416212) < 1e-6)
  t.ok(Math.abs(normalQuantile(0.001) + 3.0902323) < 2e-5, 'the tail to the accuracy of the approximation')
  // The figure the margins rest on: telling 2% from 4% at alpha 5%, power 80%.
  t.equal(fixedHorizonEvents(0.02, 0.04, 0.05, 0.8), 391)
  t.equal(fixedHorizonEvents(0.02, 0.03, 0.05, 0.8), 1398, 'a 1.5x margin needs 3.6 times as many')
  t.throws(() => normalQuantile(1), /p must be in \(0, 1\)/)
  // A floor with no baseline: the rule reads the canary against M x floor alone.
  const noBaseline = { nc: 3600, kc: 300, nb: 0, kb: 0 }
  t.equal(lnEvidence('harm', noBaseline, { maxRatio: 2, floor: 0.02 }), lnMixture(3600, 300, 0.04, HARM))
})
