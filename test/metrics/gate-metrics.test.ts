import t from 'tap'
import { readConfig } from '../../src/config/env.js'
import { defaultPolicy } from '../../src/config/load.js'
import { loadObservationsFile } from '../../src/sources/observations-file.js'
import type { Stage } from '../../src/config/policy.js'
import { judge, type Judgement } from '../../src/gate/verdict.js'
import { GateMetrics, type GateMetricsOptions } from '../../src/metrics/gate-metrics.js'
import { find, parseExposition, value, type Sample } from '../helpers/exposition.js'

const policy = defaultPolicy().policy
const stages = Object.values(policy.stages).map((s) => ({ name: s.name, triggers: s.triggers.map((x) => x.name), specs: s.triggers }))

async function judgementOf (example: string, stage = 'canary-1'): Promise<Judgement> {
  return judge(policy.stages[stage] as Stage, await loadObservationsFile(`examples/${example}`, policy))
}

function metrics (over: Partial<GateMetricsOptions> = {}): { m: GateMetrics, scrape: () => Promise<Sample[]>, advance: (ms: number) => void } {
  let now = Date.UTC(2026, 10, 26, 9, 0, 0)
  const m = new GateMetrics({ version: '9.9.9', stages, now: () => now, defaultMetrics: false, ...over })
  return { m, scrape: async () => parseExposition((await m.exposition()).body), advance: (ms) => { now += ms } }
}

t.test('instances have their own registry: two in one process do not clash', async (t) => {
  const a = new GateMetrics({ version: '1', stages })
  const b = new GateMetrics({ version: '1', stages })
  a.observationShared('cordum', 'fetched')
  const sa = parseExposition((await a.exposition()).body)
  const sb = parseExposition((await b.exposition()).body)
  t.equal(value(sa, 'agentcanary_observation_requests_total', { result: 'fetched' }), 1)
  t.equal(value(sb, 'agentcanary_observation_requests_total', { result: 'fetched' }), undefined)
  t.ok(find(sa, 'process_cpu_seconds_total').length === 1 && find(sa, 'nodejs_heap_size_used_bytes').length === 1, 'default process metrics')
  t.same(find(sa, 'nodejs_active_handles_total'), [], 'without the gauges named like counters')
  t.match((await a.exposition()).contentType, /^text\/plain; version=0\.0\.4/)
})

t.test('before any traffic: verdict and trigger counters of every stage start at 0, build info is 1', async (t) => {
  const { scrape } = metrics()
  const s = await scrape()
  t.equal(find(s, 'agentcanary_verdicts_total').length, 4 * 3, '4 stages x 3 verdicts')
  t.ok(find(s, 'agentcanary_verdicts_total').every((x) => x.value === 0))
  t.equal(value(s, 'agentcanary_triggers_fired_total', { stage: 'canary-2', trigger: 'overload_ratio' }), 0)
  t.equal(value(s, 'agentcanary_triggers_fired_total', { stage: 'shadow', trigger: 'schema_violations' }), 0)
  t.equal(value(s, 'agentcanary_build_info', { version: '9.9.9', nodejs: process.version }), 1)
  t.equal(value(s, 'agentcanary_evidence_writes_total', { outcome: 'error' }), 0)
  t.equal(value(s, 'agentcanary_rollout_stages'), 0)
  t.same(find(s, 'agentcanary_rollout_verdict'), [])
})

t.test('a verdict: counters by stage, and the rollout\'s latest verdict, score, signals per arm, backlog and triggers', async (t) => {
  const { m, scrape } = metrics()
  const fail = await judgementOf('canary-1-backlog-breach.json')
  t.equal(fail.verdict, 'fail', 'the example fails on the approval backlog')
  m.judged({ tenant: 'default', namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }, fail, 0.2)
  let s = await scrape()
  const at = { rollout_namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }
  t.equal(value(s, 'agentcanary_verdicts_total', { stage: 'canary-1', verdict: 'fail' }), 1)
  t.equal(value(s, 'agentcanary_triggers_fired_total', { stage: 'canary-1', trigger: 'approval_backlog' }), 1)
  t.equal(value(s, 'agentcanary_evaluation_duration_seconds_count', { stage: 'canary-1' }), 1)
  t.equal(value(s, 'agentcanary_rollout_verdict', at), -1)
  t.equal(value(s, 'agentcanary_rollout_score_ratio', at), 0)
  t.equal(value(s, 'agentcanary_rollout_last_evaluation_timestamp_seconds', at), Date.UTC(2026, 10, 26, 9, 0, 0) / 1000)
  t.equal(value(s, 'agentcanary_rollout_signal_ratio', { ...at, signal: 'policy_deny_rate', arm: 'canary' }), 12 / 2600)
  t.equal(value(s, 'agentcanary_rollout_signal_ratio', { ...at, signal: 'job_failure_rate', arm: 'baseline' }), 240 / 21600)
  t.equal(value(s, 'agentcanary_rollout_approvals_pending', { ...at, arm: 'canary' }), 31)
  t.equal(value(s, 'agentcanary_rollout_approval_oldest_age_seconds', { ...at, arm: 'baseline' }), 300)
  t.equal(value(s, 'agentcanary_rollout_trigger_fired', { ...at, trigger: 'approval_backlog' }), 1)
  t.equal(value(s, 'agentcanary_rollout_trigger_fired', { ...at, trigger: 'policy_deny_rate' }), 0)

  const pass = await judgementOf('canary-1-healthy.json')
  t.equal(pass.verdict, 'pass')
  m.judged({ tenant: 'default', namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }, pass, 0.1)
  s = await scrape()
  t.equal(value(s, 'agentcanary_rollout_verdict', at), 1, 'the latest verdict replaces the earlier one')
  t.equal(value(s, 'agentcanary_rollout_score_ratio', at), pass.score / 100, 'score as a 0-1 ratio')
  t.equal(value(s, 'agentcanary_rollout_trigger_fired', { ...at, trigger: 'approval_backlog' }), 0)
  t.equal(value(s, 'agentcanary_verdicts_total', { stage: 'canary-1', verdict: 'fail' }), 1, 'counters keep counting')
  t.equal(value(s, 'agentcanary_verdicts_total', { stage: 'canary-1', verdict: 'pass' }), 1)
  t.equal(find(s, 'agentcanary_rollout_verdict').length, 1, 'one rollout/stage, one series')
  t.equal(value(s, 'agentcanary_rollout_stages'), 1)
})

t.test('what the gate decides on: the canary\'s bound, the margin and harm levels, each trigger\'s level', async (t) => {
  const { m, scrape } = metrics()
  const j = await judgementOf('canary-1-backlog-breach.json')
  m.judged({ tenant: 'default', namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }, j, 0.2)
  const s = await scrape()
  const at = { rollout_namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }
  // Deliberate change (issue 15): the series are the judge's own rule where it is on the rate
  // scale (bound, margin, harm); a comparative rule (ratio to baseline) has no rate-scale levels,
  // so only the canary's arm bound is exported for it.
  for (const signal of j.signals.filter((x) => x.kind === 'rate')) {
    const rule = signal.rule
    if (rule === undefined) throw new Error(`${signal.name} states its rule`)
    const arm = signal.canary as { lower: number, upper: number }
    const bound = rule.scale === 'rate' ? rule : arm
    t.equal(value(s, 'agentcanary_rollout_signal_bound_ratio', { ...at, signal: signal.name, bound: 'lower' }), bound.lower, `${signal.name}: lower bound`)
    t.equal(value(s, 'agentcanary_rollout_signal_bound_ratio', { ...at, signal: signal.name, bound: 'upper' }), bound.upper, `${signal.name}: upper bound`)
    const margin = value(s, 'agentcanary_rollout_signal_level_ratio', { ...at, signal: signal.name, level: 'margin' })
    const harm = value(s, 'agentcanary_rollout_signal_level_ratio', { ...at, signal: signal.name, level: 'harm' })
    if (rule.scale === 'rate') {
      t.same([margin, harm], [rule.margin, rule.harm], `${signal.name}: the rule's margin and harm`)
      t.equal(signal.status === 'pass', rule.decided === 'pass', `${signal.name}: ${signal.status}, as the rule decided`)
    } else {
      t.same([margin, harm], [undefined, undefined], `${signal.name}: a ratio rule has no rate-scale levels`)
      const ratio = (v: string): number | undefined => value(s, 'agentcanary_rollout_rule_ratio', { ...at, signal: signal.name, value: v, trigger: '' })
      t.same(['estimate', 'lower', 'upper', 'margin', 'harm'].map(ratio), [rule.estimate, rule.lower, rule.upper, rule.margin, rule.harm], `${signal.name}: the ratio rule on its own scale`)
    }
    if (rule.scale === 'rate') t.same(find(s, 'agentcanary_rollout_rule_ratio', { ...at, signal: signal.name }), [], `${signal.name}: a rule on the rate scale has no ratio series`)
  }
  t.equal(value(s, 'agentcanary_rollout_signal_level_ratio', { ...at, signal: 'policy_deny_rate', level: 'harm' }), 0.03, 'the deny rule fails over 3%')
  for (const trigger of j.triggers.filter((x) => x.name !== 'approval_backlog')) {
    const level = value(s, 'agentcanary_rollout_trigger_level_ratio', { ...at, trigger: trigger.name, signal: trigger.signal })
    const scale = j.signals.find((x) => x.name === trigger.signal)?.rule?.scale
    t.equal(level, scale === 'rate' ? trigger.level : undefined, `${trigger.name}: its stated level on the rate scale, or none beside a ratio rule`)
    const onRatio = value(s, 'agentcanary_rollout_rule_ratio', { ...at, signal: trigger.signal, value: 'trigger', trigger: trigger.name })
    t.equal(onRatio, scale === 'ratio' ? trigger.level : undefined, `${trigger.name}: its level on the ratio scale beside a ratio rule`)
  }
  t.equal(value(s, 'agentcanary_rollout_trigger_level_ratio', { ...at, trigger: 'policy_deny_rate', signal: 'policy_deny_rate' }), 0.03)
  t.same(find(s, 'agentcanary_rollout_approvals_pending_level', at).map((x) => [x.labels.level, x.labels.trigger, x.value]).sort(), [['harm', '', 10], ['trigger', 'approval_backlog', 25]], 'the backlog\'s limit and its trigger\'s, told apart')
  t.same(find(s, 'agentcanary_rollout_approval_oldest_age_level_seconds', at).map((x) => [x.labels.level, x.value]).sort(), [['harm', 600], ['trigger', 1800]])
  const perPair = s.filter((x) => x.labels.rollout === 'support-agent').length
  t.ok(perPair <= 40, `${perPair} series for one rollout and stage of the default policy (docs/observability.md bounds it at 40)`)
})

t.test('arms without events or without data leave no series (no 0% that was never measured)', async (t) => {
  const { m, scrape } = metrics()
  const j = await judgementOf('canary-1-too-little-data.json')
  const empty: Judgement = { ...j, signals: j.signals.map((s) => s.name === 'job_failure_rate' ? { ...s, canary: { n: 0, k: 0, rate: 0, lower: 0, upper: 1 }, baseline: null } : s) }
  m.judged({ tenant: 'default', rollout: 'r', stage: 'canary-1' }, empty, 0.1)
  const s = await scrape()
  t.same(find(s, 'agentcanary_rollout_signal_ratio', { signal: 'job_failure_rate' }), [])
  t.equal(find(s, 'agentcanary_rollout_signal_ratio', { signal: 'policy_deny_rate' }).length, 2)
  t.equal(value(s, 'agentcanary_rollout_verdict', { rollout: 'r', stage: 'canary-1', rollout_namespace: '' }), 0, 'inconclusive is 0; no namespace gives an empty label')
})

t.test('latency quantiles (Prometheus-sourced signals) get a seconds gauge per arm', async (t) => {
  const { m, scrape } = metrics()
  const j = await judgementOf('canary-1-healthy.json')
  const withLatency: Judgement = { ...j, signals: [...j.signals, { ...(j.signals[0] as Judgement['signals'][number]), name: 'latency_p95', kind: 'quantile', canary: { seconds: 0.42 }, baseline: { seconds: 0.3 } }] }
  m.judged({ tenant: 'default', rollout: 'r', stage: 'canary-1' }, withLatency, 0.1)
  const s = await scrape()
  t.equal(value(s, 'agentcanary_rollout_signal_seconds', { signal: 'latency_p95', arm: 'canary' }), 0.42)
  t.equal(value(s, 'agentcanary_rollout_signal_seconds', { signal: 'latency_p95', arm: 'baseline' }), 0.3)
})

t.test('finished rollouts: series go one TTL after the last evaluation; a cap bounds the rest', async (t) => {
  const { m, scrape, advance } = metrics({ rolloutTtlSeconds: 600, maxRolloutStages: 3 })
  const j = await judgementOf('canary-1-healthy.json')
  m.judged({ tenant: 'default', rollout: 'finished', stage: 'canary-1' }, j, 0.1)
  advance(300_000)
  m.judged({ tenant: 'default', rollout: 'running', stage: 'canary-1' }, j, 0.1)
  advance(300_000)
  let s = await scrape()
  t.same(find(s, 'agentcanary_rollout_verdict').map((x) => x.labels.rollout), ['running'], 'the rollout last asked about 10 min ago is gone at the scrape')
  t.same(find(s, 'agentcanary_rollout_signal_ratio', { rollout: 'finished' }), [], 'with every series of it')
  t.equal(value(s, 'agentcanary_rollout_stage_evictions_total', { reason: 'expired' }), 1)
  for (const r of ['a', 'b', 'c', 'd']) m.judged({ tenant: 'default', rollout: r, stage: 'full' }, { ...j, stage: 'full' }, 0.1)
  s = await scrape()
  t.same(find(s, 'agentcanary_rollout_verdict').map((x) => x.labels.rollout).sort(), ['b', 'c', 'd'], 'over the cap the least recently evaluated go first')
  t.equal(value(s, 'agentcanary_rollout_stage_evictions_total', { reason: 'capacity' }), 2)
  t.equal(value(s, 'agentcanary_rollout_stages'), 3)
  t.equal(value(s, 'agentcanary_verdicts_total', { stage: 'full', verdict: 'pass' }), 4, 'counters are not per rollout and never expire')
})

t.test('errors, upstream requests, cache use, evidence writes and HTTP requests', async (t) => {
  const { m, scrape } = metrics()
  m.evaluationFailed('canary-1', 'GATE_ERR_UPSTREAM_TIMEOUT', 8)
  m.evaluationFailed(undefined, 'GATE_ERR_UNKNOWN_STAGE', 0.001)
  m.upstreamRequest({ source: 'cordum', endpoint: '/api/v1/jobs', outcome: 'ok', seconds: 0.03 })
  m.upstreamRequest({ source: 'cordum', endpoint: '/api/v1/jobs', outcome: 'timeout', seconds: 4 })
  m.observationShared('cordum', 'coalesced')
  m.evidenceWritten('ok', 0.002)
  m.httpRequest('GET', '/api/v1/score', 503, 8.1)
  const s = await scrape()
  t.equal(value(s, 'agentcanary_evaluation_errors_total', { stage: 'canary-1', code: 'GATE_ERR_UPSTREAM_TIMEOUT' }), 1)
  t.equal(value(s, 'agentcanary_evaluation_errors_total', { stage: 'unknown', code: 'GATE_ERR_UNKNOWN_STAGE' }), 1)
  t.equal(value(s, 'agentcanary_upstream_requests_total', { endpoint: '/api/v1/jobs', outcome: 'timeout' }), 1)
  t.equal(value(s, 'agentcanary_upstream_request_duration_seconds_count', { endpoint: '/api/v1/jobs' }), 2)
  t.equal(value(s, 'agentcanary_upstream_request_duration_seconds_bucket', { endpoint: '/api/v1/jobs', le: '0.05' }), 1, 'seconds, in buckets')
  t.equal(value(s, 'agentcanary_observation_requests_total', { source: 'cordum', result: 'coalesced' }), 1)
  t.equal(value(s, 'agentcanary_evidence_writes_total', { outcome: 'ok' }), 1)
  t.equal(value(s, 'agentcanary_http_requests_total', { route: '/api/v1/score', status_code: '503' }), 1)
})

t.test('METRICS_* environment: defaults, and refusals naming the variable', async (t) => {
  t.same(readConfig({}).metrics, { rolloutTtlSeconds: 3600, maxRolloutStages: 500 })
  t.same(readConfig({ METRICS_ROLLOUT_TTL_SECONDS: '600', METRICS_MAX_ROLLOUT_STAGES: '50' }).metrics, { rolloutTtlSeconds: 600, maxRolloutStages: 50 })
  t.throws(() => readConfig({ METRICS_ROLLOUT_TTL_SECONDS: '10' }), /^METRICS_ROLLOUT_TTL_SECONDS: must be a whole number from 60/)
  t.throws(() => readConfig({ METRICS_MAX_ROLLOUT_STAGES: 'lots' }), /^METRICS_MAX_ROLLOUT_STAGES: must be a whole number/)
})

t.test('two tenants with a rollout of the same name keep a series each (issue 20, item 8)', async (t) => {
  const { m, scrape } = metrics()
  const fail = await judgementOf('canary-1-backlog-breach.json')
  const pass = await judgementOf('canary-1-healthy.json')
  m.judged({ tenant: 'acme', namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }, fail, 0.1)
  m.judged({ tenant: 'globex', namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }, pass, 0.1)
  const s = await scrape()
  const at = { rollout_namespace: 'shop', rollout: 'support-agent', stage: 'canary-1' }
  t.equal(value(s, 'agentcanary_rollout_verdict', { ...at, tenant: 'acme' }), -1, 'acme\'s fail')
  t.equal(value(s, 'agentcanary_rollout_verdict', { ...at, tenant: 'globex' }), 1, 'globex\'s pass, not written over it')
  t.equal(value(s, 'agentcanary_rollout_stages'), 2, 'two pairs, each bounded and expired on its own')
})
