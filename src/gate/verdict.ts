/**
 * The judge: a stage policy and observations in, a verdict with its evidence out.
 * Pure: no I/O, no clock. The rules (docs/judging.md), in order:
 *
 *   1. Any hard trigger fires            -> fail, score 0 (even on small samples: the bound is clear).
 *   2. A required signal or a trigger's
 *      input could not be measured       -> inconclusive (source_unavailable); never pass.
 *   3. A required signal has too little
 *      data                              -> inconclusive (insufficient_data).
 *   4. The canary's share of events is
 *      clearly off the expected weight   -> inconclusive (traffic_split_mismatch).
 *   5. score >= pass                     -> pass
 *      score >= marginal                 -> inconclusive (manual_hold)
 *      else, some signal failed          -> fail (score_below_marginal)
 *      else                              -> inconclusive (undecided): the low score comes only
 *                                           from signals whose bounds still straddle their
 *                                           limits, and a fail must rest on evidence.
 *
 * Score = 100 * sum(w * s) / sum(w), s = 1 / 0.5 / 0 for pass / marginal / fail (Keptn's
 * weighting, with statuses from confidence sequences), over the judged signals and the
 * required signals that lack data (credit 0); optional signals without data are left out.
 */
import type { Stage } from '../config/policy.js'
import { pct } from './format.js'
import { isRateArm, type ApprovalObservation, type Observations } from './observations.js'
import { classify, evaluateTrigger, label, measure, type Measured, type SignalResult, type TriggerResult } from './signals.js'
import { rateBound } from './stats.js'

export type Verdict = 'pass' | 'inconclusive' | 'fail'

export type ReasonCode =
  | 'trigger_fired'
  | 'source_unavailable'
  | 'insufficient_data'
  | 'traffic_split_mismatch'
  | 'score_pass'
  | 'manual_hold'
  | 'score_below_marginal'
  | 'undecided'
  | 'approval_required'
  | 'approval_pending'
  | 'approval_rejected'
  | 'approval_granted'

export interface TrafficSplit {
  status: 'ok' | 'mismatch' | 'not_checked'
  /** Expected canary share of events, 0..1. */
  expected: number | null
  observed: number | null
  lower: number | null
  upper: number | null
  reason: string
}

export interface Judgement {
  verdict: Verdict
  score: number
  stage: string
  summary: string
  reasons: string[]
  reasonCodes: ReasonCode[]
  signals: SignalResult[]
  triggers: TriggerResult[]
  trafficSplit: TrafficSplit
  window: { since: string, until: string }
  dataPoints: { required: number, min: number }
  /** The stage's required human approval, as the gate found it. */
  approval?: ApprovalObservation
}

const CREDIT = { pass: 1, marginal: 0.5, fail: 0 } as const

/** Names of every signal a stage reads: its scored signals and its triggers' inputs. */
export function signalsNeeded (stage: Stage): string[] {
  const names = new Set(stage.signals.map((s) => s.name))
  for (const t of stage.triggers) names.add(t.signal)
  if (stage.trafficSplit.enabled) names.add(stage.trafficSplit.signal)
  return [...names]
}

export function judge (stage: Stage, observations: Observations): Judgement {
  const measured = new Map<string, Measured>()
  const measured$ = (name: string): Measured => {
    let m = measured.get(name)
    if (m === undefined) {
      m = measure(observations.signals[name], stage.alpha)
      measured.set(name, m)
    }
    return m
  }

  const signals = stage.signals.map((s) => classify(s, measured$(s.name), stage))
  const triggers = stage.triggers.map((t) => evaluateTrigger(t, measured$(t.signal), stage.subIntervalMinutes))
  const trafficSplit = checkTrafficSplit(stage, observations, measured$)

  // A required signal without enough data (or unmeasurable) cannot vouch for the canary: it
  // counts with credit 0, so a score never looks healthy for want of evidence. Optional
  // signals without data are left out.
  const judged = signals.filter((s) => s.status === 'pass' || s.status === 'marginal' || s.status === 'fail')
  const scored = [...judged, ...signals.filter((s) => s.required && (s.status === 'insufficient' || s.status === 'unavailable'))]
  const totalWeight = scored.reduce((sum, s) => sum + s.weight, 0)
  const credit = judged.reduce((sum, s) => sum + s.weight * CREDIT[s.status as keyof typeof CREDIT], 0)
  const rawScore = totalWeight === 0 ? 0 : Math.round((1000 * credit) / totalWeight) / 10

  const fired = triggers.filter((t) => t.fired)
  const unavailable = [
    ...signals.filter((s) => s.status === 'unavailable' && s.required).map((s) => s.reason),
    ...triggers.filter((t) => !t.evaluated).map((t) => `trigger ${t.name} ${t.evidence}`),
  ]
  const insufficient = signals.filter((s) => s.status === 'insufficient' && s.required)
  const failed = signals.filter((s) => s.status === 'fail')
  const marginal = signals.filter((s) => s.status === 'marginal')

  let verdict: Verdict
  let score = rawScore
  const codes: ReasonCode[] = []
  const reasons: string[] = []
  if (fired.length > 0) {
    verdict = 'fail'
    score = 0
    codes.push('trigger_fired')
    reasons.push(...fired.map((t) => `rollback trigger ${t.name}: ${t.evidence}`))
  } else if (unavailable.length > 0) {
    verdict = 'inconclusive'
    codes.push('source_unavailable')
    reasons.push(...unavailable)
  } else if (insufficient.length > 0) {
    verdict = 'inconclusive'
    codes.push('insufficient_data')
    reasons.push(...insufficient.map((s) => s.reason))
  } else if (trafficSplit.status === 'mismatch') {
    verdict = 'inconclusive'
    codes.push('traffic_split_mismatch')
    reasons.push(trafficSplit.reason)
  } else if (rawScore >= stage.score.pass) {
    verdict = 'pass'
    codes.push('score_pass')
    reasons.push(`score ${rawScore} >= ${stage.score.pass}: ${judged.length} signal${judged.length === 1 ? '' : 's'} judged, ${judged.filter((s) => s.status === 'pass').length} within thresholds`)
  } else if (rawScore >= stage.score.marginal) {
    verdict = 'inconclusive'
    codes.push('manual_hold')
    reasons.push(`score ${rawScore} is in the manual-hold band ${stage.score.marginal}-${stage.score.pass}: a person should decide`)
  } else if (failed.length > 0) {
    verdict = 'fail'
    codes.push('score_below_marginal')
    reasons.push(`score ${rawScore} < ${stage.score.marginal}`)
  } else {
    verdict = 'inconclusive'
    codes.push('undecided')
    reasons.push(`score ${rawScore} < ${stage.score.marginal}, but no signal has failed: the bounds still straddle their limits, so more data is needed before failing`)
  }
  // 6. A stage that requires a human approval passes only when the statistics pass and a person
  //    approved; the gate asks only then, so nobody is asked to approve a failing canary.
  if (stage.approval !== undefined && verdict === 'pass') {
    const a = observations.approval
    const ref = a === undefined ? '' : [a.ref === undefined ? '' : `approval ref ${a.ref}`, a.jobId === undefined ? '' : `job ${a.jobId}`].filter((x) => x !== '').join(', ')
    if (a === undefined) {
      verdict = 'inconclusive'
      codes.splice(0, codes.length, 'approval_required')
      reasons.unshift(`the signals pass, but stage ${stage.name} requires a human approval, which has not been asked for`)
    } else if (a.status === 'pending') {
      verdict = 'inconclusive'
      codes.splice(0, codes.length, 'approval_pending')
      reasons.unshift(`the signals pass; waiting for a human to approve the promotion in Cordum (${ref})`)
    } else if (a.status === 'rejected') {
      verdict = 'fail'
      codes.splice(0, codes.length, 'approval_rejected')
      reasons.unshift(`a human rejected the promotion in Cordum (${ref})${a.reason === undefined ? '' : `: ${a.reason}`}`)
    } else {
      codes.push('approval_granted')
      reasons.push(`a human approved the promotion in Cordum (${ref})`)
    }
  }
  // Then the evidence behind the score, worst first, and what the sources want a person to know.
  const optionalGaps = signals.filter((s) => !s.required && (s.status === 'unavailable' || s.status === 'insufficient'))
  reasons.push(...failed.map((s) => s.reason), ...marginal.map((s) => s.reason), ...optionalGaps.map((s) => `${s.reason} (optional: not scored)`))
  reasons.push(...signals.flatMap((s) => s.notes))

  const rateCounts = signals
    .filter((s) => s.required && s.canary !== null && 'n' in s.canary && typeof s.canary.n === 'number')
    .map((s) => (s.canary as { n: number }).n)
  const judgement: Judgement = {
    verdict,
    score,
    stage: stage.name,
    summary: '',
    reasons: dedupe(reasons),
    reasonCodes: codes,
    signals,
    triggers,
    trafficSplit,
    window: observations.window,
    dataPoints: { required: stage.minDataPoints, min: rateCounts.length === 0 ? 0 : Math.min(...rateCounts) },
  }
  if (stage.approval !== undefined && observations.approval !== undefined) judgement.approval = observations.approval
  judgement.summary = summarize(judgement)
  return judgement
}

function dedupe (xs: string[]): string[] {
  return [...new Set(xs)]
}

function summarize (j: Judgement): string {
  const head = `${j.verdict.toUpperCase()} at ${j.stage} (score ${j.score})`
  return `${head}: ${j.reasons[0] ?? 'no reason recorded'}`
}

/**
 * Sample-ratio check: the canary's share of the split signal's events should match the
 * expected weight. The share gets the same anytime-valid bound; a mismatch is declared only
 * when the whole bound lies outside the tolerance band, so ordinary rounding of replica
 * counts never trips it.
 */
function checkTrafficSplit (stage: Stage, observations: Observations, measured$: (name: string) => Measured): TrafficSplit {
  const none = (reason: string): TrafficSplit => ({ status: 'not_checked', expected: null, observed: null, lower: null, upper: null, reason })
  const w = observations.expectedWeight
  if (!stage.trafficSplit.enabled) return none('traffic-split check disabled in the gates policy')
  if (w === undefined) return none('no expected canary weight in the request')
  if (w <= 0 || w >= 100) return none(`expected weight ${w}% leaves no split to check`)
  const o = measured$(stage.trafficSplit.signal).observation
  if (!isRateArm(o?.canary) || !isRateArm(o?.baseline)) {
    return none(`${label(stage.trafficSplit.signal)} has no counts for both arms`)
  }
  const total = o.canary.n + o.baseline.n
  if (total === 0) return none(`${label(stage.trafficSplit.signal)} has no events yet`)
  const share = rateBound(total, o.canary.n, stage.alpha)
  const expected = w / 100
  const lo = expected * (1 - stage.trafficSplit.tolerance)
  const hi = Math.min(1, expected * (1 + stage.trafficSplit.tolerance))
  const view = { expected, observed: share.rate, lower: share.lower, upper: share.upper }
  const observed = `canary has ${pct(share.rate)} of ${label(stage.trafficSplit.signal)} events (${o.canary.n}/${total}, bound ${pct(share.lower)}-${pct(share.upper)})`
  if (share.upper < lo || share.lower > hi) {
    return { status: 'mismatch', ...view, reason: `traffic split mismatch: ${observed}, expected ${pct(expected)} (accepted ${pct(lo)}-${pct(hi)}); check the Rollout's weight and the agents' agent_id labels` }
  }
  return { status: 'ok', ...view, reason: `${observed}, expected ${pct(expected)}` }
}
