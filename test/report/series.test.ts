/**
 * What the report draws must be what the judge decided on: the judge's own rule (margin, harm,
 * bound, time to decide) and each trigger's level; the rule fields win where a record has them;
 * the time to a decision is exactly where a boundary is crossed. Records written before the
 * judge stated its rule fall back to levels worked out from the arm bounds.
 */
import fc from 'fast-check'
import t from 'tap'
import type { DecisionRecord } from '../../src/evidence/record.js'
import { classify, evaluateTrigger, measure } from '../../src/gate/signals.js'
import { lnEvidence } from '../../src/gate/sequential.js'
import { rateLevels, rateTriggerLevel, signalCharts, timeToDecide, triggerSpecs } from '../../src/report/series.js'
import { stage } from '../helpers/policy.js'
import { assertProperty } from '../helpers/property.js'
import { analysis, POLICY } from '../helpers/records.js'

const canary1 = stage('canary-1')
const specs = triggerSpecs({ hash: POLICY.hash, stages: POLICY.policy.stages })
const arm = fc.integer({ min: 0, max: 3000 }).chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 0, max: Math.min(n, 400) }) }))

// Deliberate change (issue 15): the judge now states its rule (margin, harm, bound, evidence)
// and each trigger's level, so the pages draw those; the arithmetic from arm bounds is only the
// fallback for records written before, checked below on such records.
t.test('the levels drawn are the judge\'s rule: they reproduce every status it gives', async (t) => {
  let checked = 0
  assertProperty(fc.property(arm, arm, fc.constantFrom('policy_deny_rate', 'job_failure_rate'), (c, b, name) => {
    const spec = canary1.signals.find((s) => s.name === name)
    if (spec === undefined || c.n < canary1.minDataPoints) return
    const s = classify(spec, measure({ canary: c, baseline: b }, canary1.alpha), canary1)
    const rule = s.rule
    if (rule === undefined) throw new Error('a rate signal states its rule')
    checked++
    if ((s.status === 'fail') !== (rule.decided === 'harm')) throw new Error(`${name} ${JSON.stringify({ c, b })}: status ${s.status}, decided ${String(rule.decided)}`)
    if ((s.status === 'pass') !== (rule.decided === 'pass')) throw new Error(`${name} ${JSON.stringify({ c, b })}: status ${s.status}, decided ${String(rule.decided)}`)
    if ((rule.decided === 'harm') !== (rule.evidence.harm >= 1)) throw new Error(`${name} ${JSON.stringify({ c, b })}: harm progress ${rule.evidence.harm}`)
    const levels = rateLevels(s)
    if (rule.scale === 'rate' ? levels?.margin !== rule.margin || levels.harm !== rule.harm : levels !== undefined) throw new Error(`${name}: levels ${JSON.stringify(levels)} are not the rule's`)
  }), { numRuns: 400 })
  t.ok(checked > 200, `${checked} judged signals compared`)
})

t.test('a rate trigger states the level it fires over, on its signal\'s scale', async (t) => {
  assertProperty(fc.property(arm, arm, fc.constantFrom('policy_deny_rate', 'error_rate_ratio'), (c, b, name) => {
    const trigger = canary1.triggers.find((x) => x.name === name)
    if (trigger === undefined || c.n === 0) return
    const m = measure({ canary: c, baseline: b }, canary1.alpha)
    const result = evaluateTrigger(trigger, m, canary1.alpha)
    const signal = canary1.signals.find((s) => s.name === trigger.signal)
    const s = signal === undefined ? undefined : classify(signal, m, canary1)
    if (result.level === undefined || result.scale === undefined) throw new Error('a rate trigger has a level')
    const expected = result.scale === 'ratio' ? trigger.maxRatio : Math.min(trigger.maxRate ?? Infinity, trigger.maxRatio === undefined ? Infinity : trigger.maxRatio * trigger.floor)
    if (result.level !== expected) throw new Error(`${name} ${JSON.stringify({ c, b })}: level ${result.level} on the ${result.scale} scale, expected ${String(expected)}`)
    const drawn = rateTriggerLevel(result, trigger, s)
    if (s?.rule?.scale === 'ratio' ? drawn !== undefined : drawn !== result.level) throw new Error(`${name}: the rate chart draws ${String(drawn)}`)
  }), { numRuns: 400 })
  t.pass('compared')
})

const healthy = (deny: number, jobs: number): Record<string, any> => ({
  policy_deny_rate: { canary: { n: 400, k: deny }, baseline: { n: 3600, k: 20 } },
  job_failure_rate: { canary: { n: jobs, k: 0 }, baseline: { n: 3000, k: 30 } },
  approval_backlog: { canary: { pending: 0, oldestAgeSeconds: 0 }, baseline: { pending: 2, oldestAgeSeconds: 60 } },
})

t.test('charts: canary and baseline per look, levels per look, the look where a trigger first fired', async (t) => {
  const looks = analysis([
    { until: '2026-11-26T10:00:00.000Z', signals: healthy(2, 0) },
    { until: '2026-11-26T10:05:00.000Z', signals: healthy(60, 10) },
    { until: '2026-11-26T10:10:00.000Z', signals: healthy(90, 40) },
  ])
  t.same(looks.map((r) => r.verdict), ['inconclusive', 'fail', 'fail'])
  const [deny] = signalCharts('policy_deny_rate', looks, 2, specs)
  t.equal(deny?.unit, 'rate')
  t.same(deny?.series.map((s) => s.id), ['canary', 'baseline'])
  t.same(deny?.series[0]?.points.map((p) => p?.y), [2 / 400, 60 / 400, 90 / 400], 'the canary\'s estimate at each look')
  t.ok(deny?.series[0]?.points.every((p) => p !== null && (p.lo as number) <= p.y && p.y <= (p.hi as number)), 'each with its bound around it')
  t.same(deny?.levels.map((l) => l.id), ['margin', 'harm', 'trigger:policy_deny_rate'])
  t.same(deny?.levels.find((l) => l.id === 'trigger:policy_deny_rate')?.values, [0.03, 0.03, 0.03], 'the deny trigger fires over 3%')
  t.same(deny?.markers, [{ id: 'fired:policy_deny_rate', look: 1, label: 'policy_deny_rate fired' }], 'fired first at the second look, marked once')
  const jobs = signalCharts('job_failure_rate', looks, 2, specs)[0]
  t.same(jobs?.series[0]?.points[0], null, 'a look with no canary events has no estimate')
  const backlog = signalCharts('approval_backlog', looks, 2, specs)
  t.same(backlog.map((c) => c.unit), ['count', 'seconds'], 'a backlog: pending and oldest age')
  t.same(backlog[0]?.levels.map((l) => [l.label, l.values[0]]), [['signal limit: fails over', 10], ['trigger approval_backlog: fires over', 25]], 'the signal\'s limit and the trigger\'s, told apart')
  const other = signalCharts('policy_deny_rate', looks, 2, () => undefined)[0]
  t.same(other?.levels.find((l) => l.kind === 'trigger')?.values, [0.03, 0.03, 0.03], 'a record states its own trigger level, whatever policy is loaded now')
  const legacy = structuredClone(looks)
  for (const r of legacy) for (const tr of r.judgement.triggers) { delete tr.level; delete tr.scale }
  const old = signalCharts('policy_deny_rate', legacy, 2, () => undefined)[0]
  t.same(old?.levels.find((l) => l.kind === 'trigger')?.values, [null, null, null], 'an older record of another policy: no trigger level guessed')
})

t.test('the judge\'s own rule and trigger level win where a record has them', async (t) => {
  const looks = analysis([{ until: '2026-11-26T10:00:00.000Z', signals: healthy(60, 100) }])
  const record = looks[0] as DecisionRecord
  const s = record.judgement.signals.find((x) => x.name === 'job_failure_rate') as any
  s.rule = { scale: 'ratio', estimate: 1.8, lower: 0.9, upper: 3.1, margin: 1.2, harm: 2, decided: null, toDecide: { side: 'harm', events: 321, minutes: 12 } }
  const trig = record.judgement.triggers.find((x) => x.name === 'error_rate_ratio') as any
  trig.level = 2.5
  const charts = signalCharts('job_failure_rate', looks, 0, specs)
  t.same(charts.map((c) => c.unit), ['rate', 'ratio'], 'a ratio rule gets its own chart')
  t.same(charts[1]?.series[0]?.points, [{ y: 1.8, lo: 0.9, hi: 3.1 }])
  t.same(charts[1]?.levels.map((l) => [l.id, l.values[0]]), [['margin', 1.2], ['harm', 2], ['trigger:error_rate_ratio', 2.5]])
  t.same(charts[0]?.levels.map((l) => l.values[0]), [null, null, null], 'and no rate-scale levels are made up for it')
  t.same(timeToDecide(s, record, 0.05), { side: 'harm', events: 321, minutes: 12 }, 'its time to decide is the judge\'s')
  const deny = record.judgement.signals.find((x) => x.name === 'policy_deny_rate') as any
  deny.rule = { scale: 'rate', estimate: 0.15, lower: 0.11, upper: 0.19, margin: 0.02, harm: 0.03 }
  t.same(rateLevels(deny), { margin: 0.02, harm: 0.03 })
  t.same(signalCharts('policy_deny_rate', looks, 0, specs)[0]?.series[0]?.points, [{ y: 0.15, lo: 0.11, hi: 0.19 }])
})

t.test('time to a decision: the judge\'s projection, exactly where a boundary is crossed', async (t) => {
  const [record] = analysis([{ until: '2026-11-26T12:00:00.000Z', signals: { ...healthy(0, 20), policy_deny_rate: { canary: { n: 200, k: 2 }, baseline: { n: 3600, k: 20 } } } }])
  const r = record as DecisionRecord
  const deny = r.judgement.signals.find((x) => x.name === 'policy_deny_rate')
  t.equal(deny?.status, 'marginal')
  const d = timeToDecide(deny as any, r, canary1.alpha)
  t.equal(d?.side, 'pass', '1% against a 3% margin: heading for a pass')
  const cut = Math.log(1 / canary1.alpha)
  const at = (m: number): number => lnEvidence('pass', { nc: 200 + m, kc: 0.01 * (200 + m), nb: 3600, kb: 20 }, { maxRate: 0.03, floor: 0 })
  t.ok(at(d?.events as number) >= cut, `after ${d?.events} more events at 1% the pass evidence reaches 1/alpha`)
  t.ok(at((d?.events as number) - 1) < cut, 'and not one event sooner')
  t.equal(d?.minutes, Math.ceil((d?.events as number) / (200 / 180)), 'minutes at the canary\'s rate over the 3h window')
  const jobs = r.judgement.signals.find((x) => x.name === 'job_failure_rate')
  t.equal(jobs?.status, 'insufficient')
  t.same(timeToDecide(jobs as any, r, canary1.alpha)?.side, 'pass', 'no failures in 20 jobs: a pass once there is enough data')
  const legacy = structuredClone(deny) as any
  delete legacy.rule
  t.equal(timeToDecide(legacy, r, undefined), undefined, 'an older record of another policy: not projected (alpha unknown)')
  t.equal(timeToDecide(legacy, r, canary1.alpha)?.side, 'pass', 'an older record of this policy: projected from its arm bounds')
})
