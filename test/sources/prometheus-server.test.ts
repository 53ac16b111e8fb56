/**
 * The Prometheus source against a real Prometheus (Debian's package) started once for this
 * file over deterministic history written with promtool, and the Loki source against the
 * Loki API double (test/helpers/loki-double.ts: Grafana Loki is not installable here).
 *
 * The gate runs the shipped Prometheus-and-Loki-only gates file over HTTP; for every scenario
 * and stage its verdict must equal the judge's verdict on the counts computed from the same
 * generated history, count for count.
 */
import t, { type Test } from 'tap'
import { request } from 'undici'
import { readConfig } from '../../src/config/env.js'
import { loadGatesFile, parseGates } from '../../src/config/load.js'
import type { Judgement } from '../../src/gate/verdict.js'
import { judge } from '../../src/gate/verdict.js'
import { buildServer } from '../../src/http/server.js'
import { PrometheusSource } from '../../src/sources/prometheus/source.js'
import { SourceRegistry } from '../../src/sources/registry.js'
import { ScoreService } from '../../src/service/score.js'
import { BASELINE, CANARIES, expectedObservations, HISTORY_END, openMetrics, schedulerLogs } from '../helpers/agent-history.js'
import { pushLogs, startLokiDouble } from '../helpers/loki-double.js'
import { havePrometheus, startPrometheus } from '../helpers/prometheus.js'
import { needTool } from '../helpers/tools.js'

const EXAMPLE = 'analysis-templates/examples/gates-prometheus.yaml'
const HOUR = 3600_000
const NOW = HISTORY_END + 60_000

/** A label value meant to break a query if it were pasted in unescaped, and decoys it would then match. */
const HOSTILE = 'a.b"c\\d|e*}'
const DECOYS = ['aXb"c\\d|e*}', 'e', 'a.b']
function weirdSeries (): string {
  const lines = ['# HELP weird_jobs Jobs with awkward agent ids.', '# TYPE weird_jobs counter']
  const perMinute = [7, 100, 1000, 10_000]
  ;[HOSTILE, ...DECOYS].forEach((id, n) => {
    const v = id.replaceAll('\\', '\\\\').replaceAll('"', '\\"')
    for (let i = 0; i <= 480; i++) lines.push(`weird_jobs_total{agent_id="${v}"} ${i * (perMinute[n] as number)} ${(HISTORY_END - 8 * HOUR) / 1000 + i * 60}`)
  })
  return `${lines.join('\n')}\n`
}

// needTool's TapLike describes a subtest's skip(message); the root's is the same at run time.
if (needTool(t as never, 'prometheus', havePrometheus(), 'Debian package prometheus (/usr/bin/prometheus, /usr/bin/promtool)')) {
  const arms = [BASELINE, ...Object.values(CANARIES)]
  const prometheus = await startPrometheus(openMetrics(arms, weirdSeries()))
  t.teardown(prometheus.close)
  const loki = await startLokiDouble()
  t.teardown(loki.close)
  await pushLogs(loki.url, schedulerLogs(arms))
  const { policy } = await loadGatesFile(EXAMPLE)

  const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', GATES_FILE: EXAMPLE, PROMETHEUS_URL: prometheus.url, LOKI_URL: loki.url }), { now: () => NOW, underPressure: false })
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await gate.app.close())
  const gateUrl = `http://127.0.0.1:${(gate.app.server.address() as { port: number }).port}`

  const score = async (q: Record<string, string>): Promise<{ status: number, body: any }> => {
    const res = await request(`${gateUrl}/api/v1/score?${new URLSearchParams(q).toString()}`)
    return { status: res.statusCode, body: await res.body.json() }
  }

  /** The gate's answer and the judge's on the generated counts agree verdict, score and count for count. */
  const sameAsJudge = (t: Test, got: any, want: Judgement, what: string): void => {
    t.equal(got.verdict, want.verdict, `${what}: verdict ${want.verdict}`)
    t.equal(got.score, want.score, `${what}: score`)
    t.same(got.reasonCodes, want.reasonCodes, `${what}: reason codes`)
    t.same(got.triggers.filter((x: any) => x.fired).map((x: any) => x.name), want.triggers.filter((x) => x.fired).map((x) => x.name), `${what}: fired triggers`)
    t.same(got.triggers.filter((x: any) => !x.evaluated).map((x: any) => x.name), want.triggers.filter((x) => !x.evaluated).map((x) => x.name), `${what}: triggers not evaluated`)
    for (const w of want.signals) {
      const g = got.signals.find((s: any) => s.name === w.name)
      t.equal(g?.status, w.status, `${what}: ${w.name} status`)
      for (const arm of ['canary', 'baseline'] as const) {
        const e = w[arm] as any
        if (e === null) continue
        if ('k' in e) t.same([g[arm]?.n, g[arm]?.k], [e.n, e.k], `${what}: ${w.name} ${arm} counts ${e.k}/${e.n}`)
        else if ('seconds' in e) t.ok(Math.abs(g[arm]?.seconds - e.seconds) < 1e-9 && g[arm]?.n === e.n, `${what}: ${w.name} ${arm} ${e.seconds}s over ${e.n} requests (got ${g[arm]?.seconds}s over ${g[arm]?.n})`)
        else t.same(g[arm], e, `${what}: ${w.name} ${arm}`)
      }
    }
  }

  // What each story must come to with the shipped policy (derived by hand, checked by the judge).
  const EXPECTED: Record<string, Record<string, string>> = {
    healthy: { shadow: 'pass', 'canary-1': 'pass', 'canary-2': 'pass', full: 'pass' },
    'deny-spike': { shadow: 'fail:deny_spike', 'canary-1': 'fail:policy_deny_rate', 'canary-2': 'fail:policy_deny_rate', full: 'fail:policy_deny_rate' },
    failing: { shadow: 'inconclusive', 'canary-1': 'fail:error_rate_ratio', 'canary-2': 'fail:error_rate_ratio', full: 'fail:error_rate_ratio' },
    // Issue 15: a required signal over its margin fails the stage (latency is required from
    // canary-2 on); before, its weight in the score made it a manual hold.
    slow: { shadow: 'pass', 'canary-1': 'inconclusive', 'canary-2': 'fail', full: 'fail' },
    'too-new': { shadow: 'inconclusive', 'canary-1': 'inconclusive', 'canary-2': 'inconclusive', full: 'inconclusive' },
    quarantining: { shadow: 'fail:schema_violations', 'canary-1': 'pass', 'canary-2': 'pass', full: 'pass' },
    overloaded: { shadow: 'pass', 'canary-1': 'pass', 'canary-2': 'fail:overload_ratio', full: 'fail:overload_ratio' },
    // One burst leaves the canary's overload (0.6%) clearly under 1.5x the 1% floor: a pass.
    blip: { shadow: 'pass', 'canary-1': 'pass', 'canary-2': 'pass', full: 'pass' },
  }

  t.test('a Prometheus-and-Loki-only policy: the gate needs no Cordum and judges what the servers hold exactly as the judge does', async (t) => {
    t.equal(gate.sandbox, undefined, 'no demo sandbox')
    t.same(gate.service.sources.names().sort(), ['loki', 'prometheus'], 'only the Prometheus and Loki sources')
    const ready = await request(`${gateUrl}/readyz`)
    t.equal(ready.statusCode, 200, 'ready: both upstreams answer their readiness endpoints')
    await ready.body.dump()
    const until = HISTORY_END
    for (const [name, profile] of Object.entries(CANARIES)) {
      const expected = expectedObservations(profile, until - 3 * HOUR, until)
      for (const stage of ['shadow', 'canary-1', 'canary-2', 'full']) {
        const { status, body } = await score({ stage, canary: profile.hash, baseline: BASELINE.hash, until: new Date(until).toISOString() })
        t.equal(status, 200, `${name} at ${stage}: 200`)
        const want = judge(policy.stages[stage] as never, expected)
        sameAsJudge(t, body, want, `${name} at ${stage}`)
        const fired = body.triggers.filter((x: any) => x.fired).map((x: any) => x.name).join(',')
        t.equal(fired === '' ? body.verdict : `${body.verdict}:${fired}`, EXPECTED[name]?.[stage], `${name} at ${stage}: the story's verdict`)
      }
    }
  })

  t.test('overload against the baseline, from the scheduler logs', async (t) => {
    const until = HISTORY_END
    const { body: over } = await score({ stage: 'canary-2', canary: 'overloaded', baseline: 'stable', until: new Date(until).toISOString() })
    const overload = over.signals.find((s: any) => s.name === 'overload_rate')
    const expected = expectedObservations(CANARIES.overloaded as never, until - 3 * HOUR, until).signals.overload_rate as any
    t.equal(overload.canary.n, expected.canary.n, 'attempts over the window')
    t.equal(overload.canary.k, 150, '6 refusals a minute for the last 25 minutes')
    t.match(over.triggers.find((x: any) => x.name === 'overload_ratio').evidence, /^overload rate [\d.]+% \(150\/\d+\) exceeds 1.5x max\(baseline [\d.]+% \(\d+\/\d+\), floor 0.5%\) \(harm evidence/)
    const { body: blip } = await score({ stage: 'canary-2', canary: 'blip', baseline: 'stable', until: new Date(until).toISOString() })
    t.equal(blip.triggers.find((x: any) => x.name === 'overload_ratio').fired, false, 'one 5-minute burst in three hours is no rollback')
    // Argo measures again and again: a window ending at any minute is judged as the judge would.
    const odd = until - 2 * 60_000
    const { body: later } = await score({ stage: 'canary-2', canary: 'overloaded', baseline: 'stable', since: '1h', until: new Date(odd).toISOString() })
    sameAsJudge(t, later, judge(policy.stages['canary-2'] as never, expectedObservations(CANARIES.overloaded as never, odd - HOUR, odd)), 'window ending at 11:58')
  })

  t.test('the approval backlog from the global queue-depth gauge, at another window', async (t) => {
    // 40 approvals waiting since the queue was last empty an hour earlier: a breach.
    const until = HISTORY_END - 4 * HOUR
    const { body } = await score({ stage: 'canary-1', canary: 'healthy', baseline: 'stable', until: new Date(until).toISOString() })
    sameAsJudge(t, body, judge(policy.stages['canary-1'] as never, expectedObservations(CANARIES.healthy as never, until - 3 * HOUR, until)), 'backlog incident')
    t.equal(body.verdict, 'fail')
    t.match(body.summary, /rollback trigger approval_backlog: approval backlog: 40 approvals pending exceeds 25; oldest pending approval 60m exceeds 30m/)
    // A window in which the queue was never empty: the age cannot be bounded, so no pass.
    const inside = HISTORY_END - 4 * HOUR - 10 * 60_000
    const { body: never } = await score({ stage: 'canary-1', canary: 'healthy', baseline: 'stable', since: '40m', until: new Date(inside).toISOString() })
    t.equal(never.verdict, 'inconclusive')
    t.same(never.reasonCodes, ['source_unavailable'])
    t.match(never.reasons.join('\n'), /oldest_age_seconds query returned no data/)
  })

  t.test('request values cannot change a PromQL query: hostile label values match only themselves', async (t) => {
    const source = new PrometheusSource({ url: prometheus.url })
    t.teardown(async () => await source.close())
    const until = new Date(HISTORY_END)
    const req = { tenant: 'default', canary: HOSTILE, baseline: 'a.b', since: new Date(HISTORY_END - 3 * HOUR), until, subIntervalMinutes: 5, overloadReasonCodes: [] }
    const spec = (op: string, quote: string): never => ({
      name: 'weird_rate',
      kind: 'rate',
      source: 'prometheus',
      description: '',
      thresholds: { floor: 0 },
      query: {
        events: `sum(increase(weird_jobs_total{agent_id${op}${quote}{{arm}}${quote}}[{{window}}]))`,
        hits: `sum(increase(weird_jobs_total{agent_id${op}${quote}{{arm}}${quote}}[{{window}}])) * 0`,
      },
    }) as never
    for (const [op, quote] of [['=', '"'], ['=~', '"'], ['=~', '`'], ['!~', '"']] as const) {
      const obs = await source.observe(req, [spec(op, quote)], new AbortController().signal)
      const c = obs.weird_rate?.canary as { n: number }
      const b = obs.weird_rate?.baseline as { n: number }
      if (op === '!~') {
        t.equal(c.n, 180 * (100 + 1000 + 10_000), `${op} ${quote}: everything but the value itself`)
      } else {
        t.equal(c.n, 180 * 7, `${op} ${quote}: exactly the series labelled ${HOSTILE}, none of the decoys`)
        t.equal(b.n, 180 * 10_000, `${op} ${quote}: 'a.b' is not a pattern for 'aXb'`)
      }
    }
  })
  t.test('query problems: refused, failed, ambiguous and empty queries make only their signal unavailable or short of data', async (t) => {
    const topic = 'topic="job.support.{{arm}}"'
    const received = `sum(increase(cordum_scheduler_jobs_received_total{${topic}}[{{window}}]))`
    const signal = (events: string, hits: string): string => `{ source: prometheus, max_rate: 0.5, query: { events: '${events}', hits: '${hits}' } }`
    const yaml = `rollout_gates:
  traffic_split: { enabled: false }
  signals:
    broken_syntax: ${signal(received.slice(0, -1), received)}
    execution_error: ${signal(`sum(cordum_scheduler_jobs_completed_total{${topic}} + on(topic) cordum_scheduler_jobs_completed_total{${topic}})`, received)}
    many_series: ${signal(`increase(cordum_scheduler_jobs_completed_total{${topic}}[{{window}}])`, received)}
    no_events: ${signal(`sum(increase(no_such_metric_total{${topic}}[{{window}}]))`, `sum(increase(no_such_metric_total{${topic}}[{{window}}]))`)}
    missing_hits: ${signal(received, `sum(increase(cordum_scheduler_safety_denied_total{${topic}}[{{window}}]))`)}
    fine: ${signal(received, `sum(increase(cordum_scheduler_safety_denied_total{${topic}}[{{window}}])) or vector(0)`)}
    latency: { kind: quantile, source: prometheus, max_seconds: 1, query: { seconds: 'histogram_quantile(0.95, sum by (le) (rate(agent_request_duration_seconds_bucket{rollouts_pod_template_hash="{{arm}}"}[{{window}}])))' } }
  stages:
    probe:
      signals: { broken_syntax: {}, execution_error: {}, many_series: {}, no_events: {}, missing_hits: {}, fine: {}, latency: {} }
`
    const sources = new SourceRegistry([new PrometheusSource({ url: prometheus.url })])
    t.teardown(async () => await sources.close())
    const service = new ScoreService({ policy: parseGates(yaml, 'probe.yaml'), sources, defaultTenant: 'default', now: () => NOW })
    // 'quarantining' never had a job denied, so its safety_denied series does not exist.
    const j = await service.score({ stage: 'probe', canary: 'quarantining', baseline: 'stable', until: new Date(HISTORY_END).toISOString() }, new AbortController().signal)
    const by = Object.fromEntries(j.signals.map((s) => [s.name, s]))
    t.equal(by.broken_syntax?.status, 'unavailable')
    t.match(by.broken_syntax?.reason, /the (canary|baseline) arm's events query failed: Prometheus rejected the query \(400\): bad_data: .*parse error.*; query: sum\(increase\(cordum_scheduler_jobs_received_total\{topic="job.support.(quarantining|stable)"\}\[10800s\]\)/, 'Prometheus\' error type and message, and the query as run')
    t.match(by.execution_error?.reason, /Prometheus rejected the query \(422\): execution: .*(duplicate series|many-to-many|match group)/, 'an execution error')
    t.match(by.many_series?.reason, /the (canary|baseline) arm's events query returned [23] series; it must return one number: aggregate it, e.g. sum\(\.\.\.\)/)
    t.equal(by.no_events?.status, 'insufficient', 'no data is too little data, not a zero rate')
    t.same([(by.no_events?.canary as any).n, (by.no_events?.canary as any).k], [0, 0])
    t.match(by.no_events?.notes.join(' '), /Prometheus has no data for the canary arm's events query in this window/)
    t.equal(by.missing_hits?.status, 'unavailable')
    t.match(by.missing_hits?.reason, /hits query returned no data while its events query counts 1800: a missing series is not a zero; .*or vector\(0\)/)
    t.equal(by.fine?.status, 'pass', 'the same hits with `or vector(0)`: a real zero')
    t.same([(by.fine?.canary as any).n, (by.fine?.canary as any).k], [1800, 0])
    t.equal(by.latency?.status, 'pass')
    t.equal(j.verdict, 'inconclusive', 'never pass with signals unavailable')
    t.same(j.reasonCodes, ['source_unavailable'])
    const nobody = await service.score({ stage: 'probe', canary: 'nobody', until: new Date(HISTORY_END).toISOString() }, new AbortController().signal)
    const latency = nobody.signals.find((s) => s.name === 'latency')
    t.equal(latency?.status, 'insufficient', 'a latency histogram without observations: no requests, too little data')
    t.same(latency?.canary, { seconds: 0, n: 0 })
  })
}
