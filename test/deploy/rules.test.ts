/**
 * The PrometheusRule's groups, extracted as a Prometheus rules file: `promtool check rules`
 * accepts them, and `promtool test rules` runs the unit tests in rules.promtool.yaml (the
 * latest-replica selection per tenant, and each alert firing when it should and staying quiet
 * when it should: errors now and then, a viewer key's 403s, an idle gate, hourly full-stage
 * questions, a restart between two of them, other teams' analyses). Mutated rules show the
 * unit tests can fail.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parseAllDocuments, stringify } from 'yaml'
import { ruleGroups, rulesFileText, type RuleGroup } from '../helpers/dashboard.js'
import { hasCommand, needTool } from '../helpers/tools.js'

const UNIT_TESTS = fileURLToPath(new URL('./rules.promtool.yaml', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function promtool (args: string[], cwd: string): { status: number | null, output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/** The unit tests against rule groups changed by `mutate`: their status and output. */
function mutated (t: { teardown: (fn: () => void) => void }, mutate: (groups: RuleGroup[]) => void): { status: number | null, output: string } {
  const dir = workdir(t)
  const groups = ruleGroups()
  mutate(groups)
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }))
  return promtool(['test', 'rules', 'rules.promtool.yaml'], dir)
}

function alertRule (groups: RuleGroup[], name: string): { expr: string } {
  return groups.flatMap((g) => g.rules).find((r) => r.alert === name) as { expr: string }
}

function workdir (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-canary-rules-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'rules.yaml'), rulesFileText())
  copyFileSync(UNIT_TESTS, join(dir, 'rules.promtool.yaml'))
  return dir
}

t.test('the rule groups: names, alerts with severity and annotations, recording rules named level:metric:operation', async (t) => {
  const rules = ruleGroups().flatMap((g) => g.rules)
  const alerts = rules.filter((r) => r.alert !== undefined)
  t.same(alerts.map((a) => a.alert).sort(), ['AgentCanaryDecisionsFailing', 'AgentCanaryGateCannotReachSource', 'AgentCanaryNoEvaluations'])
  for (const a of alerts) {
    t.match(a.labels, { severity: /^(warning|critical)$/ }, `${a.alert}: severity`)
    t.ok(a.annotations?.summary !== undefined && a.annotations?.description !== undefined, `${a.alert}: summary and description`)
    t.match(a.for, /^\d+m$/, `${a.alert}: holds for a while before firing`)
  }
  for (const r of rules.filter((x) => x.record !== undefined)) t.match(r.record, /^agentcanary:[a-z0-9_]+:[a-z0-9_]+$/, `${r.record}`)
})

t.test('promtool check rules accepts the extracted groups', async (t) => {
  if (!needTool(t, 'promtool', hasCommand('promtool'), 'Debian package prometheus')) return
  const dir = workdir(t)
  const r = promtool(['check', 'rules', 'rules.yaml'], dir)
  t.equal(r.status, 0, r.output)
  t.match(r.output, new RegExp(`SUCCESS: ${ruleGroups().flatMap((g) => g.rules).length} rules found`))
})

t.test('promtool test rules: latest replica wins, alerts fire when they should and only then', async (t) => {
  if (!needTool(t, 'promtool', hasCommand('promtool'), 'Debian package prometheus')) return
  const dir = workdir(t)
  const r = promtool(['test', 'rules', 'rules.promtool.yaml'], dir)
  t.equal(r.status, 0, r.output)
  t.match(r.output, /SUCCESS/)

  // The unit tests can fail: with "latest" computed from the earliest evaluation they do.
  const m = mutated(t, (groups) => {
    const latest = groups[0]?.rules[0] as { record?: string, expr: string }
    t.equal(latest.record, 'agentcanary:rollout_last_evaluation_timestamp_seconds:latest_instance')
    latest.expr = latest.expr.replace(/\bmax by\b/, 'min by')
  })
  t.not(m.status, 0, 'min instead of max: the unit tests catch it')
  t.match(m.output, /agentcanary:rollout_verdict:latest/)

  // Without tenant among the grouping labels, two tenants' rollouts of one name collide.
  const tenantless = mutated(t, (groups) => {
    for (const r of groups[0]?.rules ?? []) r.expr = r.expr.replaceAll('tenant, ', '')
  })
  t.not(tenantless.status, 0, 'tenant dropped from the grouping: the unit tests catch it')

  // The alert as it was (a question every 15 minutes, any web analysis) cries wolf.
  const fifteen = mutated(t, (groups) => {
    const a = alertRule(groups, 'AgentCanaryNoEvaluations')
    a.expr = a.expr.replace('[75m]', '[15m]').replace('< 4500', '< 900')
  })
  t.not(fifteen.status, 0, 'a 15-minute window: the hourly full-stage case fires, and the unit tests catch it')
  t.match(fifteen.output, /alertname: AgentCanaryNoEvaluations, time: (1h2m|2h1m|3h2m|4h3m|4h59m)/)
  const anyWeb = mutated(t, (groups) => {
    const a = alertRule(groups, 'AgentCanaryNoEvaluations')
    a.expr = a.expr.replace('metric=~"gate-verdict|agent-canary-gate", ', 'type="Web", ')
  })
  t.not(anyWeb.status, 0, 'any web analysis counted: the other team\'s analysis fires it, and the unit tests catch it')
  t.match(anyWeb.output, /alertname: AgentCanaryNoEvaluations, time: 1h40m/)
})

t.test('AgentCanaryNoEvaluations watches exactly the metrics the shipped templates name, over a window longer than their longest interval', async (t) => {
  const expr = alertRule(ruleGroups(), 'AgentCanaryNoEvaluations').expr
  const selector = /metric=~"([^"]+)"/.exec(expr)?.[1]
  t.ok(selector !== undefined, `the alert selects by metric name: ${String(selector)}`)
  const names = new RegExp(`^(?:${String(selector)})$`)
  const intervals: number[] = []
  const seconds = (d: string): number => Number(d.slice(0, -1)) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[d.slice(-1)]!
  for (const file of ['analysis-templates/analysis-templates.yaml', 'analysis-templates/cluster-analysis-template.yaml', 'plugin-manifests/analysis-template.yaml']) {
    for (const doc of parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'))) {
      const template = doc.toJS() as { metadata: { name: string }, spec: { metrics: { name: string, interval?: string, provider: Record<string, unknown> }[] } }
      for (const m of template.spec.metrics) {
        t.match(m.name, names, `${file} ${template.metadata.name}: its metric ${m.name} is one the alert watches`)
        if (m.interval !== undefined) intervals.push(seconds(m.interval))
      }
    }
  }
  t.same([...new Set(intervals)].sort((a, b) => a - b), [300, 3600], 'the shipped intervals: 5 minutes and the full stage\'s hour')
  const window = seconds(/max_over_time\(agentcanary_rollout_last_evaluation_timestamp_seconds\[(\d+[smh])\]\)/.exec(expr)?.[1] ?? '0s')
  const limit = Number(/< (\d+)\)/.exec(expr)?.[1])
  t.equal(limit, window, 'the age limit is the window')
  t.ok(window > Math.max(...intervals), `the window (${window} s) is longer than the longest interval (${Math.max(...intervals)} s)`)
  for (const other of ['success-rate', 'error-rate', 'latency-p99']) t.notMatch(other, names, `another team's metric ${other} is not watched`)
})
