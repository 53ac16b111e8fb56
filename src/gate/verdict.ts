/**
 * The judge: a stage policy and observations in, a verdict with its evidence out.
 * Pure: no I/O, no clock. The rules (docs/judging.md), in order:
 *
 *   1. Any hard trigger fires            -> fail, score 0 (even on small samples: the test is clear).
 *   2. A required signal or a trigger's
 *      input could not be measured       -> inconclusive (source_unavailable); never pass.
 *   3. A required signal has too little
 *      data                              -> inconclusive (insufficient_data).
 *   4. The canary's share of events is
 *      clearly off the expected weight   -> inconclusive (traffic_split_mismatch).
 *   5. A required signal failed (evidence
 *      over its margin)                  -> fail (score_below_marginal).
 *   6. Every judged signal passed        -> pass (score_pass).
 *   7. An optional signal failed, or
 *      overload shows in both arms       -> inconclusive (manual_hold): a person decides.
 *   8. Otherwise some rule is undecided  -> inconclusive (undecided), with the events and
 *                                           minutes each undecided rule still needs.
 *
 * The score carries the evidence and sits in the band of the verdict (Cordum's guide: pass at
 * 95 and over, a manual hold from 75, roll back under 75): fail in [0, marginal), a hold in
 * [marginal, pass), pass in [pass, 100]. Within its band it rises with each signal's credit, a
 * number in [0, 1] that grows with the evidence toward pass and falls with the evidence toward
 * harm (see `credit`); a fired trigger scores 0.
 */
import type { Stage } from '../config/policy.js'
import { pct } from './format.js'
import { isRateArm, type ApprovalObservation, type Observations } from './observations.js'
import { classify, evaluateTrigger, label, measure, toDecideText, type Measured, type SignalResult, type TriggerResult } from './signals.js'

/** The signal the overload rules read (Cordum's overload reason codes). */
const OVERLOAD_SIGNAL = 'overload_rate'
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
  /** Set by the score service: a cold window still being read; ask again (never from the judge). */
  | 'warming'

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

/** Names of every signal a stage reads: its scored signals and its triggers' inputs. */
export function signalsNeeded (stage: Stage): string[] {
  const names = new Set(stage.signals.map((s) => s.name))
  for (const t of stage.triggers) names.add(t.signal)
  if (stage.trafficSplit.enabled) names.add(stage.trafficSplit.signal)
  return [...names]
}

/**
 * A signal's credit in [0, 1]. Deterministic signals (backlog, check, quantile): 1 pass, 0 fail.
 * A rate rule's credit moves continuously through the three states:
 *   pass      0.75 + 0.25 x (margin - upper) / margin   (the farther its bound under the margin, the higher)
 *   undecided 0.5 + 0.25 x (pass progress - harm progress)   (progress = ln E / ln(1/alpha), 0..1)
 *   fail      0.25 x margin / lower                     (the larger the effect, the lower)
 * A required signal without data counts 0.
 */
function credit (s: SignalResult): number {
  const r = s.rule
  if (r !== undefined && s.status === 'pass') return 0.75 + 0.25 * Math.max(0, Math.min(1, (r.margin - r.upper) / r.margin))
  if (r !== undefined && s.status === 'marginal') return 0.5 + 0.25 * (r.evidence.pass - r.evidence.harm)
  if (r !== undefined && s.status === 'fail') return 0.25 * Math.max(0, Math.min(1, r.lower > 0 ? r.margin / r.lower : 1))
  return s.status === 'pass' ? 1 : s.status === 'marginal' ? 0.5 : 0
}

/**
 * A score within [lo, hi] from the signals' weighted mean credit, to one decimal, never past hi.
 * A pass has every credit at 0.75 or more, so its band spreads that range over [pass, 100].
 */
function banded (lo: number, hi: number, scored: SignalResult[], from = 0): number {
  const total = scored.reduce((sum, s) => sum + s.weight, 0)
  const mean = total === 0 ? 0 : scored.reduce((sum, s) => sum + s.weight * credit(s), 0) / total
  const position = Math.max(0, Math.min(1, (mean - from) / (1 - from)))
  return Math.min(hi, Math.floor(10 * (lo + (hi - lo) * position)) / 10)
}

export function judge (stage: Stage, observations: Observations): Judgement {
  const minutes = windowMinutes(observations.window)
  const measured = new Map<string, Measured>()
  const measured$ = (name: string): Measured => {
    let m = measured.get(name)
    if (m === undefined) {
      m = measure(observations.signals[name], stage.alpha, minutes)
      measured.set(name, m)
    }
    return m
  }

  const signals = stage.signals.map((s) => classify(s, measured$(s.name), stage))
  const triggers = stage.triggers.map((t) => evaluateTrigger(t, measured$(t.signal), stage.alpha))
  const trafficSplit = checkTrafficSplit(stage, observations, measured$)
  for (const t of triggers) alignLevel(t, signals.find((s) => s.name === t.signal))

  // A required signal without enough data (or unmeasurable) cannot vouch for the canary: it
  // counts with credit 0. Optional signals without data are left out of the score.
  const judged = signals.filter((s) => s.status === 'pass' || s.status === 'marginal' || s.status === 'fail')
  const scored = [...judged, ...signals.filter((s) => s.required && (s.status === 'insufficient' || s.status === 'unavailable'))]

  const fired = triggers.filter((t) => t.fired)
  const unavailable = [
    ...signals.filter((s) => s.status === 'unavailable' && s.required).map((s) => s.reason),
    ...triggers.filter((t) => !t.evaluated).map((t) => `trigger ${t.name} ${t.evidence}`),
  ]
  const insufficient = signals.filter((s) => s.status === 'insufficient' && s.required)
  const failed = signals.filter((s) => s.status === 'fail')
  const failedRequired = failed.filter((s) => s.required)
  const marginal = signals.filter((s) => s.status === 'marginal')
  const shared = sharedCapacity(stage, signals)

  const P = stage.score.pass
  const Mg = stage.score.marginal
  const hold = (): number => banded(Mg, Math.max(Mg, P - 0.1), scored)
  let verdict: Verdict
  let score: number
  const codes: ReasonCode[] = []
  const reasons: string[] = []
  if (fired.length > 0) {
    verdict = 'fail'
    score = 0
    codes.push('trigger_fired')
    reasons.push(...fired.map((t) => `rollback trigger ${t.name}: ${t.evidence}`))
  } else if (unavailable.length > 0) {
    verdict = 'inconclusive'
    score = hold()
    codes.push('source_unavailable')
    reasons.push(...unavailable)
  } else if (insufficient.length > 0) {
    verdict = 'inconclusive'
    score = hold()
    codes.push('insufficient_data')
    reasons.push(...insufficient.map((s) => s.rule?.toDecide === undefined || s.rule.toDecide === null ? s.reason : `${s.reason}; ${toDecideText(s.rule.toDecide)}`))
  } else if (trafficSplit.status === 'mismatch') {
    verdict = 'inconclusive'
    score = hold()
    codes.push('traffic_split_mismatch')
    reasons.push(trafficSplit.reason)
  } else if (failedRequired.length > 0) {
    verdict = 'fail'
    score = banded(0, Math.max(0, Mg - 0.1), scored)
    codes.push('score_below_marginal')
    reasons.push(`score ${score} < ${Mg}: ${failedRequired.map((s) => label(s.name)).join(', ')} over ${failedRequired.length === 1 ? 'its margin' : 'their margins'}`)
  } else if (judged.length > 0 && judged.every((s) => s.status === 'pass')) {
    verdict = 'pass'
    score = banded(P, 100, scored, 0.75)
    codes.push('score_pass')
    reasons.push(`score ${score} >= ${P}: ${judged.length} signal${judged.length === 1 ? '' : 's'} judged, all within their margins`)
  } else if (failed.length > 0 || shared !== undefined) {
    verdict = 'inconclusive'
    score = hold()
    codes.push('manual_hold')
    if (shared !== undefined) reasons.push(shared)
    if (failed.length > 0) reasons.push(`score ${score} is in the manual-hold band ${Mg}-${P}: optional signal${failed.length === 1 ? '' : 's'} ${failed.map((s) => label(s.name)).join(', ')} failed; a person should decide`)
  } else {
    verdict = 'inconclusive'
    score = hold()
    codes.push('undecided')
    const waiting = marginal.map((s) => `${label(s.name)}: ${s.rule === undefined ? 'undecided' : toDecideText(s.rule.toDecide ?? null)}`)
    reasons.push(`score ${score}: no rule has shown harm, ${marginal.length} not decided yet (${waiting.join('; ')})`)
  }
  // 6. A stage that requires a human approval passes only when the statistics pass and a person
  //    approved; the gate asks only then, so nobody is asked to approve a failing canary.
  if (stage.approval !== undefined && verdict === 'pass') {
    const a = observations.approval
    const ref = a === undefined ? '' : [a.ref === undefined ? '' : `approval ref ${a.ref}`, a.jobId === undefined ? '' : `job ${a.jobId}`].filter((x) => x !== '').join(', ')
    // The score follows the verdict into its band: waiting for a person is a hold.
    if (a === undefined) {
      verdict = 'inconclusive'
      score = hold()
      codes.splice(0, codes.length, 'approval_required')
      reasons.unshift(`the signals pass, but stage ${stage.name} requires a human approval, which has not been asked for`)
    } else if (a.status === 'pending') {
      verdict = 'inconclusive'
      score = hold()
      codes.splice(0, codes.length, 'approval_pending')
      reasons.unshift(`the signals pass; waiting for a human to approve the promotion in Cordum (${ref})`)
    } else if (a.status === 'rejected') {
      verdict = 'fail'
      score = banded(0, Math.max(0, Mg - 0.1), scored)
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

/**
 * A trigger's level on the scale of its signal's rule, so a page draws both on one chart:
 * a ratio level times the baseline's rate is a rate; a rate over the baseline's rate is a ratio.
 */
function alignLevel (t: TriggerResult, s: SignalResult | undefined): void {
  const scale = s?.rule?.scale
  if (t.level === undefined || scale === undefined || t.scale === scale) return
  const b = s?.baseline as { rate?: number } | null | undefined
  const rate = b?.rate
  if (rate === undefined || rate <= 0) {
    delete t.level
    delete t.scale
    return
  }
  t.level = scale === 'rate' ? t.level * rate : t.level / rate
  t.scale = scale
}

/** Minutes between the window's ends, or undefined when they do not parse. */
function windowMinutes (w: { since: string, until: string }): number | undefined {
  const ms = Date.parse(w.until) - Date.parse(w.since)
  return Number.isFinite(ms) && ms > 0 ? ms / 60_000 : undefined
}

/**
 * Overload alike in both arms is the platform's capacity, not the canary: a comparative
 * overload rule cannot fail on it, but while it keeps the rule from passing a person should
 * know, with the pools the source named.
 */
function sharedCapacity (stage: Stage, signals: SignalResult[]): string | undefined {
  for (const s of signals) {
    if (s.name !== OVERLOAD_SIGNAL || s.status !== 'marginal' || s.rule?.scale !== 'ratio') continue
    const b = s.baseline as { rate?: number } | null
    const floor = stage.signals.find((x) => x.name === s.name)?.thresholds.floor ?? 0
    if (b?.rate === undefined || b.rate < floor) continue
    const pools = s.notes.find((n) => /pools?/i.test(n))
    return `${label(s.name)}: overload in both arms (canary ${pct((s.canary as { rate: number }).rate)}, baseline ${pct(b.rate)}): shared capacity, not a regression of the canary; ${pools ?? 'the source named no busy pool (GET /api/v1/pools needs an admin key)'}`
  }
  return undefined
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
  // Counts since the current step's weight took effect, when the request knows them.
  const step = observations.split
  const o = step === undefined ? measured$(stage.trafficSplit.signal).observation : { canary: { n: step.canary, k: 0 }, baseline: { n: step.baseline, k: 0 } }
  if (!isRateArm(o?.canary) || !isRateArm(o?.baseline)) {
    return none(`${label(stage.trafficSplit.signal)} has no counts for both arms`)
  }
  const total = o.canary.n + o.baseline.n
  if (total === 0) return none(`${label(stage.trafficSplit.signal)} has no events ${step === undefined ? 'yet' : `since this step's weight took effect (${step.since})`}`)
  const share = rateBound(total, o.canary.n, stage.alpha)
  const expected = w / 100
  const lo = expected * (1 - stage.trafficSplit.tolerance)
  const hi = Math.min(1, expected * (1 + stage.trafficSplit.tolerance))
  const view = { expected, observed: share.rate, lower: share.lower, upper: share.upper }
  const observed = `canary has ${pct(share.rate)} of ${label(stage.trafficSplit.signal)} events${step === undefined ? '' : ` since ${step.since}`} (${o.canary.n}/${total}, bound ${pct(share.lower)}-${pct(share.upper)})`
  if (share.upper < lo || share.lower > hi) {
    return { status: 'mismatch', ...view, reason: `traffic split mismatch: ${observed}, expected ${pct(expected)} (accepted ${pct(lo)}-${pct(hi)}); check the Rollout's weight and the agents' agent_id labels` }
  }
  return { status: 'ok', ...view, reason: `${observed}, expected ${pct(expected)}` }
}
