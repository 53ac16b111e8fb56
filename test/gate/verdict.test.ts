import t from 'tap'
import { judge } from '../../src/gate/verdict.js'
import { healthy, obs, stage } from '../helpers/policy.js'

t.test('a healthy canary with plenty of data passes with score 100', async (t) => {
  const j = judge(stage('canary-1'), obs(healthy(), { expectedWeight: 10 }))
  t.equal(j.verdict, 'pass')
  t.equal(j.score, 100)
  t.same(j.reasonCodes, ['score_pass'])
  t.same(j.dataPoints, { required: 50, min: 3600 })
  t.equal(j.trafficSplit.status, 'ok')
  t.match(j.summary, /^PASS at canary-1 \(score 100\): score 100 >= 95/)
  t.ok(j.triggers.every((tr) => tr.evaluated && !tr.fired), 'every trigger evaluated, none fired')
})

t.test('reasons are sentences with their numbers', async (t) => {
  const s = healthy()
  s.policy_deny_rate = { canary: { n: 333, k: 27 }, baseline: { n: 3000, k: 30 } }
  const j = judge(stage('canary-1'), obs(s))
  t.equal(j.verdict, 'fail')
  t.equal(j.score, 0, 'a trigger forces score 0')
  t.same(j.reasonCodes, ['trigger_fired'])
  t.equal(j.reasons[0], 'rollback trigger policy_deny_rate: policy deny rate 8.1% (27/333, bound 3.7%-14.8%) exceeds 3.0%')
})

t.test('zero events in the canary arm: insufficient, never pass, no crash', async (t) => {
  const s = healthy()
  s.policy_deny_rate = { canary: { n: 0, k: 0 }, baseline: { n: 3000, k: 30 } }
  const j = judge(stage('canary-1'), obs(s))
  t.equal(j.verdict, 'inconclusive')
  t.same(j.reasonCodes, ['insufficient_data'])
  t.match(j.reasons[0], /policy deny rate has 0 canary events; at least 50 are needed/)
  t.equal(j.dataPoints.min, 0)
  t.equal(j.score, 57.1, 'the required signal without data counts 0: (3 x 0 + 3 x 1 + 1 x 1) / 7')
  const trigger = j.triggers.find((x) => x.name === 'policy_deny_rate')
  t.equal(trigger?.fired, false)
  t.match(trigger?.evidence, /no canary events yet/)
})

t.test('zero events in the baseline arm: ratios use the floor and say so', async (t) => {
  const s = healthy()
  s.job_failure_rate = { canary: { n: 3600, k: 40 }, baseline: { n: 0, k: 0 } }
  const j = judge(stage('canary-1'), obs(s))
  t.equal(j.verdict, 'pass', 'the floor (2%) stands in: 1.1% with bound up to 2.0% is within 1.5x of it')
  t.ok(j.reasons.some((r) => /job failure rate: no baseline events: ratios are judged against the floor 2.0%/.test(r)), 'the reasons name the floor')
  const jobs = j.signals.find((x) => x.name === 'job_failure_rate')
  t.ok(jobs?.baseline !== null && Number.isFinite((jobs?.baseline as { upper: number }).upper), 'baseline bounds are numbers, not NaN')
})

t.test('no baseline at all: the floor stands in; a regression still fails', async (t) => {
  const s = healthy()
  s.job_failure_rate = { canary: { n: 3600, k: 40 } }
  const ok = judge(stage('canary-1'), obs(s))
  t.equal(ok.verdict, 'pass')
  t.ok(ok.reasons.some((r) => r.includes('no baseline events: ratios are judged against the floor 2.0%')))
  s.job_failure_rate = { canary: { n: 3600, k: 300 } }
  const bad = judge(stage('canary-1'), obs(s))
  t.equal(bad.verdict, 'fail')
  t.match(bad.reasons[0], /error_rate_ratio: job failure rate 8.3% \(300\/3600, .*\) exceeds 2x the floor 2.0% = 4.0%/)
})

t.test('identical arms with plenty of data pass; with little data they hold, never fail', async (t) => {
  const same = { canary: { n: 5000, k: 50 }, baseline: { n: 5000, k: 50 } }
  const s = { ...healthy(), policy_deny_rate: same, job_failure_rate: same }
  t.equal(judge(stage('canary-1'), obs(s)).verdict, 'pass')
  const few = { canary: { n: 60, k: 1 }, baseline: { n: 60, k: 1 } }
  const j = judge(stage('canary-1'), obs({ ...healthy(), policy_deny_rate: few, job_failure_rate: few }))
  t.equal(j.verdict, 'inconclusive')
  t.same(j.reasonCodes, ['undecided'], 'both rate signals straddle their limits: score 21.4 but no evidence of a regression')
  t.equal(j.score, 57.1)
})

t.test('all signals insufficient: inconclusive with every missing count named', async (t) => {
  const j = judge(stage('canary-2'), obs({
    policy_deny_rate: { canary: { n: 10, k: 0 }, baseline: { n: 90, k: 1 } },
    job_failure_rate: { canary: { n: 12, k: 0 }, baseline: { n: 95, k: 2 } },
    overload_rate: { canary: { n: 12, k: 0, buckets: [] }, baseline: { n: 95, k: 0 } },
    approval_backlog: { canary: { pending: 0, oldestAgeSeconds: 0 } },
  }))
  t.equal(j.verdict, 'inconclusive')
  t.same(j.reasonCodes, ['insufficient_data'])
  t.equal(j.reasons.filter((r) => /canary events; at least 50 are needed/.test(r)).length, 3)
})

t.test('backlog-only breach fails through the approval_backlog trigger', async (t) => {
  const s = healthy()
  s.approval_backlog = { canary: { pending: 31, oldestAgeSeconds: 120 } }
  const j = judge(stage('canary-1'), obs(s))
  t.equal(j.verdict, 'fail')
  t.equal(j.score, 0)
  t.equal(j.reasons[0], 'rollback trigger approval_backlog: approval backlog: 31 approvals pending exceeds 25')
  s.approval_backlog = { canary: { pending: 2, oldestAgeSeconds: 3600 } }
  t.match(judge(stage('canary-1'), obs(s)).reasons[0], /oldest pending approval 60m exceeds 30m/)
  // Under the trigger's limit but over the scored signal's: a manual hold, not a rollback.
  s.approval_backlog = { canary: { pending: 12, oldestAgeSeconds: 60 } }
  const held = judge(stage('canary-1'), obs(s))
  t.equal(held.verdict, 'inconclusive')
  t.same(held.reasonCodes, ['manual_hold'])
  t.equal(held.score, 85.7)
})

function overload (ks: number[]): { n: number, k: number, buckets: { start: string, n: number, k: number }[] } {
  const buckets = ks.map((k, i) => ({ start: new Date(Date.UTC(2026, 10, 26, 10, 5 * i)).toISOString(), n: 200, k }))
  return { n: buckets.length * 200, k: ks.reduce((a, b) => a + b, 0), buckets }
}

t.test('sustained overload fails canary-2; a single blip does not', async (t) => {
  const base = healthy()
  base.overload_rate = { canary: overload([0, 2, 3, 1, 0, 0]), baseline: { n: 10800, k: 0 } }
  const j = judge(stage('canary-2'), obs(base))
  t.equal(j.verdict, 'fail')
  t.match(j.reasons[0], /sustained_overload: overload rate: overload reason codes in 3 consecutive 5-minute sub-intervals from 2026-11-26T10:05:00.000Z \(2, 3, 1 events\); sustained means 3/)

  base.overload_rate = { canary: overload([0, 0, 4, 0, 0, 0]), baseline: { n: 10800, k: 0 } }
  const blip = judge(stage('canary-2'), obs(base))
  const trigger = blip.triggers.find((x) => x.name === 'sustained_overload')
  t.equal(trigger?.fired, false, 'one overloaded sub-interval is a blip')
  t.match(trigger?.evidence, /longest overloaded run is 1 sub-interval of 6; sustained means 3/)

  base.overload_rate = { canary: overload([1, 0, 1, 0, 1, 0, 1]), baseline: { n: 10800, k: 0 } }
  t.equal(judge(stage('canary-2'), obs(base)).triggers.find((x) => x.name === 'sustained_overload')?.fired, false, 'scattered blips are not sustained')
})

t.test('sustained overload shared with the baseline is flagged as a capacity problem', async (t) => {
  const s = healthy()
  s.overload_rate = { canary: overload([0, 2, 3, 1]), baseline: overload([0, 5, 5, 5]) }
  const j = judge(stage('canary-2'), obs(s))
  t.equal(j.verdict, 'fail')
  t.match(j.reasons[0], /the baseline shows overload in 3 of those sub-intervals \(a shared capacity problem, not only the canary\)/)
})

t.test('a trigger fails fast on a small sample when the bound is clear', async (t) => {
  const s = healthy()
  s.policy_deny_rate = { canary: { n: 15, k: 12 }, baseline: { n: 3000, k: 30 } }
  const j = judge(stage('canary-1'), obs(s))
  t.equal(j.verdict, 'fail', 'fail beats insufficient data')
  t.match(j.reasons[0], /policy deny rate 80.0% \(12\/15, bound .*\) exceeds 3.0%/)
  // ... but one deny among three decisions is not clear evidence.
  s.policy_deny_rate = { canary: { n: 3, k: 1 }, baseline: { n: 3000, k: 30 } }
  t.equal(judge(stage('canary-1'), obs(s)).verdict, 'inconclusive')
})

t.test('an unmeasurable required signal or trigger input blocks a pass', async (t) => {
  const s = healthy()
  s.job_failure_rate = { unavailable: { code: 'GATE_ERR_UPSTREAM_AUTH', reason: 'Cordum answered 403 for /api/v1/jobs' } }
  const j = judge(stage('canary-1'), obs(s))
  t.equal(j.verdict, 'inconclusive')
  t.same(j.reasonCodes, ['source_unavailable'])
  t.equal(j.reasons[0], 'job failure rate unavailable: Cordum answered 403 for /api/v1/jobs')

  const t2 = healthy()
  t2.approval_backlog = { unavailable: { code: 'GATE_ERR_UPSTREAM_AUTH', reason: 'Cordum answered 403 for /api/v1/approvals: the key lacks the admin role' } }
  const k = judge(stage('canary-1'), obs(t2))
  t.equal(k.verdict, 'inconclusive', 'the backlog signal is optional but feeds the approval_backlog trigger')
  t.match(k.reasons.join('\n'), /trigger approval_backlog not evaluated: approval backlog unavailable: Cordum answered 403/)

  const t3 = healthy()
  delete (t3 as Record<string, unknown>).job_failure_rate
  t.equal(judge(stage('canary-1'), obs(t3)).verdict, 'inconclusive', 'a signal with no observation at all is unavailable')
})

t.test('an unavailable optional signal that feeds no trigger is reported but does not block', async (t) => {
  const policy = 'rollout_gates:\n  stages:\n    canary-1:\n      triggers:\n        approval_backlog: { enabled: false }\n'
  const s = healthy()
  s.approval_backlog = { unavailable: { code: 'GATE_ERR_UPSTREAM_AUTH', reason: 'Cordum answered 403' } }
  const j = judge(stage('canary-1', policy), obs(s))
  t.equal(j.verdict, 'pass')
  t.ok(j.reasons.includes('approval backlog unavailable: Cordum answered 403 (optional: not scored)'))
})

t.test('traffic split: a canary share clearly off the expected weight is inconclusive', async (t) => {
  const s = healthy()
  s.policy_deny_rate = { canary: { n: 4000, k: 20 }, baseline: { n: 6000, k: 30 } }
  const j = judge(stage('canary-1'), obs(s, { expectedWeight: 10 }))
  t.equal(j.verdict, 'inconclusive')
  t.same(j.reasonCodes, ['traffic_split_mismatch'])
  t.match(j.reasons[0], /traffic split mismatch: canary has 40.0% of policy deny rate events \(4000\/10000, bound .*\), expected 10.0% \(accepted 5.0%-15.0%\)/)
  t.equal(judge(stage('canary-1'), obs(s, { expectedWeight: 40 })).verdict, 'pass', 'the same counts match a 40% weight')
  t.equal(judge(stage('canary-1'), obs(s)).trafficSplit.status, 'not_checked', 'no expected weight: not checked')
  const off = 'rollout_gates:\n  traffic_split: { enabled: false }\n'
  t.equal(judge(stage('canary-1', off), obs(s, { expectedWeight: 10 })).verdict, 'pass', 'disabled by policy')
})

t.test('traffic split per step: counts since the step\'s weight took effect win over the window\'s', async (t) => {
  const s = healthy()
  // Over the window the canary has 10% (its earlier step); since the 25% step, 25%.
  s.policy_deny_rate = { canary: { n: 4000, k: 20 }, baseline: { n: 36000, k: 200 } }
  const since = '2026-11-26T08:40:00Z'
  t.equal(judge(stage('canary-1'), obs(s, { expectedWeight: 25 })).trafficSplit.status, 'mismatch', 'the window alone: a mismatch')
  const step = judge(stage('canary-1'), obs(s, { expectedWeight: 25, split: { since, canary: 2500, baseline: 7500 } }))
  t.equal(step.trafficSplit.status, 'ok')
  t.match(step.trafficSplit.reason, /canary has 25.0% of policy deny rate events since 2026-11-26T08:40:00Z \(2500\/10000/)
  t.equal(step.verdict, 'pass')
  const off = judge(stage('canary-1'), obs(s, { expectedWeight: 25, split: { since, canary: 1000, baseline: 9000 } }))
  t.same(off.reasonCodes, ['traffic_split_mismatch'], 'a step whose weight did not take effect')
  const empty = judge(stage('canary-1'), obs(s, { expectedWeight: 25, split: { since, canary: 0, baseline: 0 } }))
  t.equal(empty.trafficSplit.status, 'not_checked')
  t.match(empty.trafficSplit.reason, /no events since this step's weight took effect \(2026-11-26T08:40:00Z\)/)
})

t.test('a canary with clear trigger evidence fails even with a traffic-split mismatch', async (t) => {
  const s = healthy()
  s.policy_deny_rate = { canary: { n: 4000, k: 400 }, baseline: { n: 6000, k: 30 } }
  t.equal(judge(stage('canary-1'), obs(s, { expectedWeight: 10 })).verdict, 'fail')
})

t.test('a failed signal below the trigger limit drives the score under marginal', async (t) => {
  const s = healthy()
  // 4.0% vs a 2.0% baseline: beyond the signal's 1.5x, within the trigger's 2x.
  s.job_failure_rate = { canary: { n: 20000, k: 800 }, baseline: { n: 180000, k: 3600 } }
  const j = judge(stage('canary-1'), obs(s))
  t.equal(j.triggers.find((x) => x.name === 'error_rate_ratio')?.fired, false)
  t.equal(j.signals.find((x) => x.name === 'job_failure_rate')?.status, 'fail')
  t.equal(j.verdict, 'fail')
  t.same(j.reasonCodes, ['score_below_marginal'])
  t.equal(j.score, 57.1)
})

t.test('shadow stage: schema violations and deny spikes over baseline fail', async (t) => {
  const shadow = {
    policy_deny_rate: { canary: { n: 2000, k: 10 }, baseline: { n: 2000, k: 10 } },
    schema_violation_rate: { canary: { n: 2000, k: 2 }, baseline: { n: 2000, k: 2 } },
    job_failure_rate: { canary: { n: 2000, k: 20 }, baseline: { n: 2000, k: 20 } },
  }
  t.equal(judge(stage('shadow'), obs(shadow)).verdict, 'pass')
  const drift = { ...shadow, schema_violation_rate: { canary: { n: 2000, k: 80 }, baseline: { n: 2000, k: 2 } } }
  const j = judge(stage('shadow'), obs(drift))
  t.equal(j.verdict, 'fail')
  t.match(j.reasons[0], /^rollback trigger schema_violations: schema violation rate 4.0% \(80\/2000/)
  const spike = { ...shadow, policy_deny_rate: { canary: { n: 2000, k: 120 }, baseline: { n: 2000, k: 10 } } }
  t.match(judge(stage('shadow'), obs(spike)).reasons[0], /^rollback trigger deny_spike: /)
})

t.test('quantile signals compare point values with the baseline', async (t) => {
  const policy = `rollout_gates:
  signals:
    latency_p95: { kind: quantile, source: prometheus, query: { seconds: 'histogram_quantile(0.95, sum by (le) (rate(h_bucket{pod_hash="{{arm}}"}[{{window}}])))' }, max_ratio: 1.2 }
  stages:
    canary-2:
      signals:
        latency_p95: { weight: 2, required: true }
`
  const s = healthy()
  const st = stage('canary-2', policy)
  const pass = judge(st, obs({ ...s, latency_p95: { canary: { seconds: 0.41, n: 900 }, baseline: { seconds: 0.4 } } }))
  t.equal(pass.signals.find((x) => x.name === 'latency_p95')?.status, 'pass')
  const slow = judge(st, obs({ ...s, latency_p95: { canary: { seconds: 0.6, n: 900 }, baseline: { seconds: 0.4 } } }))
  const sig = slow.signals.find((x) => x.name === 'latency_p95')
  t.equal(sig?.status, 'fail')
  t.equal(sig?.reason, 'latency p95 0.600s exceeds 0.480s (point estimate; no confidence bound)')
  const lonely = judge(st, obs({ ...s, latency_p95: { canary: { seconds: 0.41, n: 900 } } }))
  t.equal(lonely.signals.find((x) => x.name === 'latency_p95')?.status, 'insufficient', 'a ratio with no baseline value cannot be judged')
  t.equal(lonely.verdict, 'inconclusive')
})

t.test('the verdict rests on the stage: canary-1 ignores overload, canary-2 judges it', async (t) => {
  const s = healthy()
  s.overload_rate = { canary: overload([3, 3, 3, 3]), baseline: { n: 10800, k: 0 } }
  t.equal(judge(stage('canary-1'), obs(s)).verdict, 'pass')
  t.equal(judge(stage('canary-2'), obs(s)).verdict, 'fail')
})
