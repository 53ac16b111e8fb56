/**
 * The picture of the shipped dashboards, made from real data (docs/observability.md "How the
 * dashboard picture is made"). Grafana is neither in Debian nor in npm here, so:
 *   1. the gate (in process, on a clock this test moves) answers four hours of Argo's looks at
 *      six rollouts made of the demo scenarios, and its /metrics is read every minute of it;
 *   2. those readings become TSDB blocks (`promtool tsdb create-blocks-from openmetrics`), and
 *      the PrometheusRule's recording rules are computed over them by a real Prometheus
 *      (`promtool tsdb create-blocks-from rules`, one pass per layer of rules);
 *   3. every panel's PromQL, as the dashboard JSON has it with every variable at "All", runs
 *      through Prometheus's HTTP API (query_range, 1-minute steps);
 *   4. a small renderer (test/helpers/grafana-render.ts) draws the panels as Grafana lays them
 *      out, and Chromium takes the screenshot.
 * Every panel must draw at least one series.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { stringify } from 'yaml'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { browserFor, SCREENSHOTS } from '../helpers/browser.js'
import { readDashboards, ruleGroups, substitute, type Dashboard } from '../helpers/dashboard.js'
import { gateFor, getJson, scoreUrl } from '../helpers/gate.js'
import { renderDashboard, type Series } from '../helpers/grafana-render.js'
import { backfill, havePrometheus, PROMTOOL, servePrometheus } from '../helpers/prometheus.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'
import { needTool } from '../helpers/tools.js'

const MINUTE = 60_000
const END = Math.floor(T0 / (5 * MINUTE)) * 5 * MINUTE
const START = END - 4 * 60 * MINUTE

/** Six rollouts, each a demo scenario, looked at as Argo would: stage, when it starts (minutes), how often, until it fails. */
const STORY = [
  { namespace: 'shop', rollout: 'support-agent', revision: '7', canary: 'support-agent-healthy', steps: [{ stage: 'canary-1', from: 0, to: 15, every: 5 }, { stage: 'canary-2', from: 20, to: 50, every: 5 }, { stage: 'full', from: 60, to: 240, every: 60 }] },
  { namespace: 'shop', rollout: 'refund-agent', revision: '3', canary: 'support-agent-deny-spike', steps: [{ stage: 'canary-1', from: 30, to: 90, every: 5 }] },
  { namespace: 'ops', rollout: 'triage-agent', revision: '5', canary: 'support-agent-backlogged', steps: [{ stage: 'canary-1', from: 70, to: 130, every: 5 }] },
  { namespace: 'ops', rollout: 'router-agent', revision: '2', canary: 'support-agent-overloaded', steps: [{ stage: 'canary-2', from: 100, to: 190, every: 5 }] },
  { namespace: 'shop', rollout: 'summary-agent', revision: '1', canary: 'support-agent-too-new', steps: [{ stage: 'canary-1', from: 130, to: 185, every: 5 }] },
  { namespace: 'qa', rollout: 'drafting-agent', revision: '4', canary: 'support-agent-schema-drift', steps: [{ stage: 'shadow', from: 170, to: 230, every: 5 }] },
]

/** One reading of /metrics per minute, as OpenMetrics with timestamps and the labels a scrape adds. */
function openMetrics (readings: Array<{ ms: number, text: string }>): string {
  const families = new Map<string, Map<string, string[]>>()
  for (const { ms, text } of readings) {
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line)
      if (m === null || !/^(agentcanary_|process_|nodejs_)/.test(m[1] as string)) continue
      const labels = `{${[(m[2] ?? '{}').slice(1, -1), 'job="agent-canary-gate"', 'instance="agent-canary-gate-0:8080"'].filter((x) => x !== '').join(',')}}`
      const series = families.get(m[1] as string) ?? new Map<string, string[]>()
      families.set(m[1] as string, series)
      const samples = series.get(labels) ?? []
      series.set(labels, samples)
      samples.push(`${m[3] as string} ${ms / 1000}`)
    }
  }
  const out: string[] = []
  for (const [name, series] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`# TYPE ${name} unknown`)
    for (const [labels, samples] of series) for (const s of samples) out.push(`${name}${labels} ${s}`)
  }
  return `${out.join('\n')}\n# EOF\n`
}

// Chromium and (for the dashboard) Prometheus on a machine shared by the whole suite: time to spare.
t.setTimeout(300_000)

t.test('the shipped dashboards, drawn from four hours of the demo scenarios in a real Prometheus', async (t) => {
  if (!needTool(t, 'prometheus', havePrometheus(), 'Debian package prometheus (/usr/bin/prometheus, promtool)')) return
  const context = await browserFor(t)
  if (context === undefined) return

  // 1. Four hours of looks, /metrics read every minute.
  let now = START
  const sandbox = await sandboxFor(t, { now: () => now })
  const { url, gate } = await gateFor(t, sandbox, { now: () => now })
  const failed = new Set<string>()
  const readings: Array<{ ms: number, text: string }> = []
  for (let minute = 0; minute <= 240; minute++) {
    now = START + minute * MINUTE
    for (const r of STORY) {
      for (const step of r.steps) {
        if (minute < step.from || minute > step.to || (minute - step.from) % step.every !== 0 || failed.has(r.rollout)) continue
        // Argo's analysis run started a pause (10 minutes) before its first look: its window grows from there.
        const since = new Date(START + (step.from - 10) * MINUTE).toISOString()
        const answer = await getJson(scoreUrl(url, { stage: step.stage, canary: r.canary, baseline: BASELINE_AGENT, namespace: r.namespace, rollout: r.rollout, revision: r.revision, since }))
        t.equal(answer.status, 200)
        if (answer.body.verdict === 'fail') failed.add(r.rollout)
      }
    }
    readings.push({ ms: now, text: (await gate.metrics.exposition()).body })
  }
  t.same([...failed].sort(), ['drafting-agent', 'refund-agent', 'router-agent', 'triage-agent'], 'each regression is stopped; the healthy and the too-new rollouts are not')

  // 2. TSDB blocks from the readings, then the recording rules over them, layer by layer.
  const dir = backfill(openMetrics(readings))
  const groups = ruleGroups()
  const layers = [
    groups.map((g) => ({ ...g, interval: '1m', rules: g.rules.filter((r) => r.record !== undefined && !r.expr.includes('agentcanary:')) })),
    groups.map((g) => ({ ...g, interval: '1m', rules: g.rules.filter((r) => r.record !== undefined && r.expr.includes('agentcanary:')) })),
  ]
  for (const [i, layer] of layers.entries()) {
    const prom = await servePrometheus(dir, { keep: true })
    const file = join(dir, `rules-${i}.yaml`)
    writeFileSync(file, stringify({ groups: layer.filter((g) => g.rules.length > 0) }))
    const out = join(dir, `blocks-${i}`)
    const rules = spawnSync(PROMTOOL, ['tsdb', 'create-blocks-from', 'rules', `--url=${prom.url}`, `--start=${START / 1000}`, `--end=${END / 1000}`, '--eval-interval=60s', `--output-dir=${out}`, file], { encoding: 'utf8', timeout: 300_000 })
    await prom.close()
    t.equal(rules.status, 0, `recording rules, layer ${i + 1}: ${rules.stderr}`)
    for (const block of readdirSync(out)) renameSync(join(out, block), join(dir, 'data', block))
  }
  const prom = await servePrometheus(dir)
  t.teardown(prom.close)
  const api = prom.url

  // 3 and 4. Every panel's query over the last three and a half hours, drawn, screenshot.
  const range: [number, number] = [START + 30 * MINUTE, END]
  let values: Record<string, string> = {}
  const query = async (expr: string): Promise<Series[]> => {
    const q = new URLSearchParams({ query: substitute(expr, values), start: String(range[0] / 1000), end: String(range[1] / 1000), step: '60' })
    const body = await (await request(`${api}/api/v1/query_range?${q.toString()}`)).body.json() as { status: string, data: { result: Array<{ metric: Record<string, string>, values: Array<[number, string]> }> } }
    if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}`)
    return body.data.result.map((r) => ({ labels: r.metric, points: r.values.map(([ts, v]) => [ts * 1000, Number(v)] as [number, number]) }))
  }
  mkdirSync(SCREENSHOTS, { recursive: true })
  const [rollouts, service] = readDashboards()
  // Every variable at All, every panel drawn; then the picture for the docs, as an on-call
  // engineer would narrow it: the three rollouts the gate stopped for a rate, a backlog apart.
  const renders: Array<{ dashboard: (typeof rollouts), shot: string, values: Record<string, string> }> = [
    { dashboard: service, shot: 'dashboard-service.png', values: {} },
    { dashboard: rollouts, shot: 'dashboard-rollouts-all.png', values: {} },
    { dashboard: rollouts, shot: 'dashboard-rollouts.png', values: { rollout: 'refund-agent|router-agent|drafting-agent' } },
  ]
  for (const r of renders) {
    values = r.values
    const { html, drawn } = await renderDashboard(r.dashboard?.dashboard as Dashboard, query, range, values)
    for (const [title, n] of Object.entries(drawn)) t.ok(n > 0, `${r.shot} "${title}": ${n} series drawn`)
    const page = await context.newPage()
    await page.setViewportSize({ width: 1600, height: 900 })
    await page.setContent(html)
    await page.screenshot({ path: join(SCREENSHOTS, r.shot), fullPage: true })
    t.comment(`${join(SCREENSHOTS, r.shot)}`)
    await page.close()
  }
})
