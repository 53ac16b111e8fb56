/** The Grafana dashboard and the PrometheusRule as tests read them: their PromQL and variables. */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { readObjects } from './kustomize.js'

export const DASHBOARD_FILE = fileURLToPath(new URL('../../deploy/grafana/agent-canary-gate.json', import.meta.url))
export const RULES_FILE = fileURLToPath(new URL('../../deploy/base/prometheusrule.yaml', import.meta.url))

export interface Target { refId: string, expr: string, datasource?: { type: string, uid: string }, legendFormat?: string }
export interface Panel { id: number, type: string, title: string, datasource?: { type: string, uid: string }, gridPos: { x: number, y: number, w: number, h: number }, targets?: Target[] }
export interface Variable { name: string, type: string, query: string | { query: string }, datasource?: { type: string, uid: string }, allValue?: string }
export interface Dashboard { uid: string, title: string, id?: number | null, schemaVersion: number, panels: Panel[], templating: { list: Variable[] }, __inputs?: unknown }

export function readDashboard (): { text: string, dashboard: Dashboard } {
  const text = readFileSync(DASHBOARD_FILE, 'utf8')
  return { text, dashboard: JSON.parse(text) as Dashboard }
}

export function queryPanels (d: Dashboard): Panel[] {
  return d.panels.filter((p) => p.type !== 'row')
}

/** Grafana's own variables a query may use, and what the tests substitute for them. */
export const BUILTINS: Record<string, string> = { __rate_interval: '5m', __interval: '30s', __range: '5m' }

/**
 * A dashboard expression as Grafana would send it with every variable at "All": built-in
 * intervals become durations, and the dashboard's variables (only ever used in `=~"$var"`
 * matchers) become their allValue `.*`.
 */
export function substitute (expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (_m, name: string) => BUILTINS[name] ?? '.*')
}

export interface Rule { record?: string, alert?: string, expr: string, for?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
export interface RuleGroup { name: string, interval?: string, rules: Rule[] }

export function ruleGroups (): RuleGroup[] {
  const [rule] = readObjects(RULES_FILE)
  return (rule?.spec as { groups: RuleGroup[] }).groups
}

/** The rule groups as a Prometheus rules file (what promtool and Prometheus read). */
export function rulesFileText (): string {
  return stringify({ groups: ruleGroups() })
}
