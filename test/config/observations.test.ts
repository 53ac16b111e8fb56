import t from 'tap'
import { defaultPolicy } from '../../src/config/load.js'
import type { LocatedError } from '../../src/config/located.js'
import { parseObservations } from '../../src/sources/observations-file.js'
import { GateError } from '../../src/errors.js'

const { policy } = defaultPolicy()

function refuse (text: string): LocatedError[] {
  try {
    parseObservations(text, 'obs.yaml', policy)
  } catch (err) {
    if (err instanceof GateError && err.code === 'GATE_ERR_OBSERVATIONS_INVALID') return err.details as LocatedError[]
    throw err
  }
  throw new Error('accepted')
}

t.test('a valid file, JSON or YAML, becomes Observations', async (t) => {
  const yaml = parseObservations(`window: { since: "2026-11-26T09:00:00Z", until: "2026-11-26T10:00:00Z" }
expectedWeight: 10
signals:
  policy_deny_rate: { canary: { n: 100, k: 2 }, baseline: { n: 900, k: 9 } }
  approval_backlog: { canary: { pending: 1, oldestAgeSeconds: 30 } }
  job_failure_rate: { unavailable: { code: GATE_ERR_UPSTREAM_AUTH, reason: "403" } }
`, 'obs.yaml', policy)
  t.same(yaml.signals.policy_deny_rate, { canary: { n: 100, k: 2 }, baseline: { n: 900, k: 9 } })
  t.equal(yaml.expectedWeight, 10)
  const json = parseObservations(JSON.stringify(yaml), 'obs.json', policy)
  t.same(json, yaml)
})

t.test('refusals name the line, the key and what is wrong', async (t) => {
  const errors = refuse(`window: { since: "yesterday", until: "2026-11-26T10:00:00Z" }
signals:
  policy_deny_rat: { canary: { n: 100, k: 2 } }
  job_failure_rate: { canary: { n: 10, k: 11 } }
  approval_backlog: { canary: { n: 10, k: 1 } }
`)
  t.same(errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`), [
    "1:18 window.since: must be an RFC 3339 time, got 'yesterday'",
    "3:3 signals.policy_deny_rat: unknown signal 'policy_deny_rat'; did you mean 'policy_deny_rate'? (known: policy_deny_rate, job_failure_rate, approval_backlog, overload_rate, schema_violation_rate)",
    '4:43 signals.job_failure_rate.canary.k: hits k (11) cannot exceed events n (10)',
    '5:31 signals.approval_backlog.canary: approval_backlog is a backlog signal: its canary needs pending and oldestAgeSeconds (missing pending, oldestAgeSeconds)',
  ])
})

t.test('schema errors: negative counts, unknown keys, a reversed window', async (t) => {
  const errors = refuse(`window: { since: "2026-11-26T09:00:00Z", until: "2026-11-26T10:00:00Z" }
signals:
  policy_deny_rate: { canary: { n: -1, k: 0, hits: 3 } }
`)
  t.same(errors.map((e) => `${e.path}: ${e.message}`), [
    "signals.policy_deny_rate.canary.hits: unknown key 'hits' (known keys: n, k, buckets, pending, oldestAgeSeconds, seconds, total, failed, checks)",
    'signals.policy_deny_rate.canary.n: must be >= 0, got -1',
  ])
  t.match(refuse('window: { since: "2026-11-26T11:00:00Z", until: "2026-11-26T10:00:00Z" }\nsignals: {}\n'), [
    { path: 'window.since', message: 'window.since (2026-11-26T11:00:00Z) is after window.until (2026-11-26T10:00:00Z)' },
  ])
  t.match(refuse('signals: {}\n'), [{ message: "missing required key 'window'" }])
})
