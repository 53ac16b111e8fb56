/**
 * The PrometheusRule's groups, extracted as a Prometheus rules file: `promtool check rules`
 * accepts them, and `promtool test rules` runs the unit tests in rules.promtool.yaml (the
 * latest-replica selection, and each alert firing when it should and only then).
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { stringify } from 'yaml'
import { ruleGroups, rulesFileText } from '../helpers/dashboard.js'
import { hasCommand, needTool } from '../helpers/tools.js'

const UNIT_TESTS = fileURLToPath(new URL('./rules.promtool.yaml', import.meta.url))

function promtool (args: string[], cwd: string): { status: number | null, output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
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
  const groups = ruleGroups()
  const latest = groups[0]?.rules[0] as { record?: string, expr: string }
  t.equal(latest.record, 'agentcanary:rollout_last_evaluation_timestamp_seconds:latest_instance')
  latest.expr = latest.expr.replace(/\bmax by\b/, 'min by')
  t.match(latest.expr, /min by/, 'the mutation applies')
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }))
  const m = promtool(['test', 'rules', 'rules.promtool.yaml'], dir)
  t.not(m.status, 0, 'and the unit tests catch it')
  t.match(m.output, /agentcanary:rollout_verdict:latest/)
})
