import { readFile } from 'node:fs/promises'
import t from 'tap'
import { defaultPolicy, loadGatesFile, parseGates } from '../../src/config/load.js'
import type { LocatedError } from '../../src/config/located.js'
import { GateError } from '../../src/errors.js'

const SEED = `rollout_gates:
  min_data_points_per_metric: 50
  canary_lifetime_hours: 3
  metric_interval_hours: 1
  score:
    pass: 95
    marginal: 75
  rollback_triggers:
    max_error_rate_delta: 2.0
    max_policy_deny_rate: 0.03
`

/** The located errors a refused file produces. */
function refuse (yaml: string, file = 'gates.yaml'): LocatedError[] {
  try {
    parseGates(yaml, file)
  } catch (err) {
    if (err instanceof GateError && err.code === 'GATE_ERR_GATES_INVALID') return err.details as LocatedError[]
    throw err
  }
  throw new Error('the file was accepted')
}

t.test("the brief's rollout-gates.yaml loads unchanged and means what it says", async (t) => {
  const { policy } = parseGates(SEED, 'rollout-gates.yaml')
  t.equal(policy.minDataPoints, 50)
  t.equal(policy.canaryLifetimeHours, 3)
  t.equal(policy.metricIntervalHours, 1)
  t.same(policy.score, { pass: 95, marginal: 75 })
  t.same(Object.keys(policy.stages), ['shadow', 'canary-1', 'canary-2', 'full'])
  for (const name of ['canary-1', 'canary-2', 'full']) {
    const stage = policy.stages[name]
    t.equal(stage?.minDataPoints, 50, `${name}: min data points`)
    t.same(stage?.score, { pass: 95, marginal: 75 }, `${name}: score thresholds`)
    t.match(stage?.triggers.find((x) => x.name === 'error_rate_ratio'), { signal: 'job_failure_rate', maxRatio: 2.0 }, `${name}: error-rate delta trigger`)
    t.match(stage?.triggers.find((x) => x.name === 'policy_deny_rate'), { signal: 'policy_deny_rate', maxRate: 0.03 }, `${name}: deny rate trigger`)
  }
  const shadow = policy.stages.shadow
  t.equal(shadow?.live, false)
  t.notOk(shadow?.triggers.some((x) => x.name === 'error_rate_ratio' || x.name === 'policy_deny_rate'), 'rollback triggers are for live stages')
  t.equal(parseGates(SEED, 'a').hash, defaultPolicy().hash, 'the seed file is exactly the defaults')
})

t.test("the seed's numbers flow into every place that uses them", async (t) => {
  const { policy } = parseGates(SEED.replace('0.03', '0.05').replace('2.0', '3.0').replace('min_data_points_per_metric: 50', 'min_data_points_per_metric: 200'), 'x')
  const c1 = policy.stages['canary-1']
  t.equal(c1?.minDataPoints, 200)
  t.equal(c1?.triggers.find((x) => x.name === 'policy_deny_rate')?.maxRate, 0.05)
  t.equal(c1?.triggers.find((x) => x.name === 'error_rate_ratio')?.maxRatio, 3.0)
  t.equal(c1?.signals.find((x) => x.name === 'policy_deny_rate')?.thresholds.maxRate, 0.05, 'the scored deny-rate signal uses the same ceiling')
})

t.test('the shipped default policy validates and is exactly the built-in defaults', async (t) => {
  const shipped = await loadGatesFile('analysis-templates/rollout-gates.yaml')
  t.equal(shipped.hash, defaultPolicy().hash)
  // Every key is documented: a comment on its line, a comment just above it, or its name
  // explained in a comment block (the catalog and stage keys are explained once, up front).
  const text = await readFile('analysis-templates/rollout-gates.yaml', 'utf8')
  const lines = text.split('\n')
  const comments = lines.map((l) => (l.includes('#') ? l.slice(l.indexOf('#') + 1) : '')).join('\n')
  const keys = new Set<string>()
  const undocumented = new Set<string>()
  lines.forEach((line, i) => {
    const code = line.includes('#') ? line.slice(0, line.indexOf('#')) : line
    for (const m of code.matchAll(/(?:^\s*|[{,]\s*)([a-z][a-z0-9_-]*):/g)) {
      const key = m[1] as string
      keys.add(key)
      const documented = line.includes('#') || /^\s*#/.test(lines[i - 1] ?? '') ||
        new RegExp(`(^|[^a-z0-9_-])${key}([^a-z0-9_-]|$)`, 'm').test(comments)
      if (!documented) undocumented.add(`${i + 1}: ${key}`)
    }
  })
  t.same([...undocumented], [], 'every key is documented')
  t.ok(keys.size > 30, `the file uses ${keys.size} distinct keys`)
})

t.test('stages refine the defaults key by key; enabled: false removes', async (t) => {
  const { policy } = parseGates(`rollout_gates:
  stages:
    canary-1:
      score: { pass: 90 }
      signals:
        approval_backlog: { enabled: false }
        job_failure_rate: { weight: 5, max_ratio: 1.2 }
      triggers:
        approval_backlog: { enabled: false }
        error_rate_ratio: { max_ratio: 3 }
    canary-3:
      signals:
        policy_deny_rate: { weight: 1 }
`, 'x')
  const c1 = policy.stages['canary-1']
  t.same(c1?.score, { pass: 90, marginal: 75 })
  t.same(c1?.signals.map((s) => s.name), ['policy_deny_rate', 'job_failure_rate'])
  t.match(c1?.signals[1], { weight: 5, required: true, thresholds: { maxRatio: 1.2, floor: 0.02 } })
  t.same(c1?.triggers.map((x) => x.name), ['policy_deny_rate', 'error_rate_ratio'])
  t.equal(c1?.triggers[1]?.maxRatio, 3)
  const c3 = policy.stages['canary-3']
  t.equal(c3?.live, true, 'a custom stage is live by default')
  t.same(c3?.triggers.map((x) => x.name), ['policy_deny_rate', 'error_rate_ratio'], 'and gets the rollback triggers')
})

t.test('custom signals from other sources need a query; Cordum only measures its own', async (t) => {
  const ok = parseGates(`rollout_gates:
  signals:
    latency_p95: { kind: quantile, source: prometheus, query: { seconds: 'histogram_quantile(0.95, sum by (le) (rate(h_bucket{pod_hash="{{arm}}"}[{{window}}])))' }, max_ratio: 1.2 }
`, 'x')
  t.equal(ok.policy.signals.latency_p95?.kind, 'quantile')
  const errors = refuse(`rollout_gates:
  signals:
    latency_p95: { kind: quantile, source: prometheus, max_ratio: 1.2 }
    tool_errors: { kind: rate, max_rate: 0.1 }
`)
  t.match(errors.map((e) => e.message), [
    "signal 'latency_p95' reads from prometheus but has no query",
    /^Cordum cannot measure a signal named 'tool_errors' \(it measures policy_deny_rate, job_failure_rate, approval_backlog, overload_rate, schema_violation_rate\); set source: prometheus or loki with a query$/,
  ])
})

t.test('refusals are located by file, line, column and key path', async (t) => {
  const errors = refuse(`rollout_gates:
  min_data_points_per_metric: fifty
  score:
    pas: 95
    marginal: 75
  rollback_triggers:
    max_policy_deny_rate: 1.5
  on_source_error: eror
`)
  t.same(errors, [
    { file: 'gates.yaml', line: 2, column: 31, path: 'rollout_gates.min_data_points_per_metric', message: "must be a whole number, got string 'fifty'" },
    { file: 'gates.yaml', line: 4, column: 5, path: 'rollout_gates.score.pas', message: "unknown key 'pas'; did you mean 'pass'? (known keys: pass, marginal)" },
    { file: 'gates.yaml', line: 7, column: 27, path: 'rollout_gates.rollback_triggers.max_policy_deny_rate', message: 'must be <= 1, got 1.5 (canary policy deny rate may not exceed this)' },
    { file: 'gates.yaml', line: 8, column: 20, path: 'rollout_gates.on_source_error', message: "must be one of error, inconclusive; got 'eror' (did you mean 'error'?)" },
  ])
})

t.test('cross-field rules are located too', async (t) => {
  const errors = refuse(`rollout_gates:
  score: { pass: 70, marginal: 75 }
  stages:
    canary-1:
      signals:
        policy_deny_rat: { weight: 2 }
      triggers:
        approval_backlog: { max_rate: 0.1 }
        my_trigger: { max_rate: 0.1 }
`)
  t.same(errors.map((e) => [e.line, e.column, e.path, e.message]), [
    [2, 18, 'rollout_gates.score.pass', 'score.pass (70) must be at least score.marginal (75)'],
    [6, 9, 'rollout_gates.stages.canary-1.signals.policy_deny_rat', "unknown signal 'policy_deny_rat'; did you mean 'policy_deny_rate'? (known: policy_deny_rate, job_failure_rate, approval_backlog, overload_rate, schema_violation_rate)"],
    [8, 29, 'rollout_gates.stages.canary-1.triggers.approval_backlog.max_rate', "trigger 'approval_backlog' reads backlog signal 'approval_backlog': max_rate does not apply (use max_pending or max_oldest_age_seconds)"],
    [9, 9, 'rollout_gates.stages.canary-1.triggers.my_trigger', "trigger 'my_trigger' is not a built-in trigger: name the signal it reads (signal: ...)"],
  ])
})

t.test('out-of-range values and wrong shapes', async (t) => {
  const messages = refuse(`rollout_gates:
  alpha: 0.7
  error_rate_floor: -0.1
  overload:
    reason_codes: []
    sustained_intervals: 0
  signals:
    policy_deny_rate: { max_rate: 2 }
  stages:
    Canary_1: {}
    canary-2: [a, b]
`).map((e) => `${e.path}: ${e.message}`)
  t.same(messages, [
    'rollout_gates.alpha: must be <= 0.5, got 0.7 (error probability of each boundary (pass, harm) of each rule, at any number of looks)',
    'rollout_gates.error_rate_floor: must be >= 0, got -0.1 (absolute floor for the baseline job failure rate in the ratio trigger)',
    'rollout_gates.overload.reason_codes: must NOT have fewer than 1 items, got a list',
    'rollout_gates.overload.sustained_intervals: must be >= 1, got 0 (retired: overload is a rate rule against the baseline (overload_ratio))',
    'rollout_gates.signals.policy_deny_rate.max_rate: must be <= 1, got 2 (rate signals: the canary rate must stay at or under this (0..1))',
    "rollout_gates.stages.Canary_1: 'Canary_1' is not a valid name: use lower case letters, digits, '_' (and '-' for stages), starting with a letter",
    'rollout_gates.stages.canary-2: must be a mapping, got list a list',
  ])
})

t.test('the retired raw-count overload rule is refused with the rule that replaces it', async (t) => {
  const errors = refuse(`rollout_gates:
  overload:
    sustained_intervals: 3
  stages:
    canary-2:
      triggers:
        sustained_overload: { signal: overload_rate, sustained_intervals: 3 }
`)
  t.same(errors.map((e) => e.path), ['rollout_gates.overload.sustained_intervals', 'rollout_gates.stages.canary-2.triggers.sustained_overload.sustained_intervals', 'rollout_gates.stages.canary-2.triggers.sustained_overload'])
  t.match(errors[0]?.message, /counting overloaded sub-intervals is retired: .* use the overload_ratio trigger \(max_ratio, floor/)
  t.match(errors[2]?.message, /it needs a threshold \(max_rate or max_ratio\)/)
})

t.test('YAML-level refusals: syntax, duplicates, empty, alias bombs, size', async (t) => {
  t.match(refuse('rollout_gates:\n  score: {pass: 95\n'), [{ line: 3, message: /flow map/i }])
  t.match(refuse('rollout_gates:\n  alpha: 0.05\n  alpha: 0.1\n'), [{ line: 3, column: 3, message: /Map keys must be unique/ }])
  t.match(refuse(''), [{ line: 1, message: 'the file is empty: expected a mapping with the key rollout_gates' }])
  t.match(refuse('- a\n- b\n'), [{ path: '', message: 'must be a mapping, got list a list' }])
  t.match(refuse('rollout_gate: {}\n'), [{ message: "missing required key 'rollout_gates'" }, { path: 'rollout_gate', message: "unknown key 'rollout_gate'; did you mean 'rollout_gates'? (known keys: rollout_gates)" }])
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
  for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`)
  t.match(refuse(`${bomb.join('\n')}\nrollout_gates: {}\n`), [{ message: /too many YAML alias expansions \(limit 100\)/ }], 'billion laughs refused before expansion')
  const big = `rollout_gates: {}\n# ${'x'.repeat(1024 * 1024)}\n`
  t.match(refuse(big), [{ line: 1, message: /^file is \d+ bytes; the limit is 1048576 bytes$/ }])
})

t.test('an unreadable file is a clear error', async (t) => {
  await t.rejects(loadGatesFile('/nonexistent/gates.yaml'), { code: 'GATE_ERR_GATES_UNREADABLE', message: 'cannot read gates file /nonexistent/gates.yaml: no such file' })
})

t.test('a ConfigMap manifest holding the policy loads; its errors point at lines of the manifest', async (t) => {
  const configMap = (data: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gates\ndata:\n${data}`
  const ok = parseGates(configMap(`  rollout-gates.yaml: |\n${SEED.split('\n').map((l) => (l === '' ? '' : `    ${l}`)).join('\n')}`), 'cm.yaml')
  t.equal(ok.hash, defaultPolicy().hash)
  t.same(ok.configMap, { name: 'gates', key: 'rollout-gates.yaml' })
  const bad = refuse(configMap('  other.txt: hello\n  rollout-gates.yaml: |\n    rollout_gates:\n      alpha: 0.9\n'), 'cm.yaml')
  t.same(bad.map((e) => [e.line, e.column, e.path]), [[9, 14, 'rollout_gates.alpha']], 'line 9, column 14 of the manifest')
  t.match(refuse(configMap('  a: x\n  b: y\n')), [{ line: 6, message: 'this ConfigMap has several data entries (a, b) and none is named rollout-gates.yaml: it should hold the gates policy under data.rollout-gates.yaml' }])
  t.match(refuse('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n'), [{ message: /this ConfigMap has no data entries/ }])
  t.match(refuse(configMap('  rollout-gates.yaml: 42\n')), [{ path: 'data.rollout-gates.yaml', message: 'data.rollout-gates.yaml must be a string holding the gates policy' }])
  // A flow-style string maps to the value's line.
  t.match(refuse(configMap('  rollout-gates.yaml: "rollout_gates: {alpha: 0.9}"\n')), [{ line: 6, path: 'rollout_gates.alpha' }])
})
