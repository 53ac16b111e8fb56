/** The Grafana dashboard and the PrometheusRule as tests read them: their PromQL and variables. */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { readObjects } from './kustomize.js'

/** The shipped dashboards: what the gate decides per rollout, and the gate's own health. */
export const DASHBOARD_FILES = ['agent-canary-gate.json', 'agent-canary-gate-service.json'].map((f) => fileURLToPath(new URL(`../../deploy/grafana/${f}`, import.meta.url)))
export const RULES_FILE = fileURLToPath(new URL('../../deploy/base/prometheusrule.yaml', import.meta.url))

export interface Target { refId: string, expr: string, datasource?: { type: string, uid: string }, legendFormat?: string }
export interface DataLink { title: string, url: string, targetBlank?: boolean }
export interface FieldOverride { matcher: { id: string, options: string }, properties: Array<{ id: string, value: unknown }> }
export interface Panel {
  id: number
  type: string
  title: string
  description?: string
  datasource?: { type: string, uid: string }
  gridPos: { x: number, y: number, w: number, h: number }
  targets?: Target[]
  fieldConfig?: {
    defaults: {
      unit?: string
      min?: number
      max?: number
      links?: DataLink[]
      mappings?: unknown[]
      thresholds?: { steps: Array<{ color: string, value: number | null }> }
      custom?: Record<string, unknown>
    }
    overrides: FieldOverride[]
  }
}
export interface Variable { name: string, type: string, query: string | { query: string }, datasource?: { type: string, uid: string }, allValue?: string, current?: { value: unknown } }
export interface Dashboard { uid: string, title: string, id?: number | null, schemaVersion: number, panels: Panel[], templating: { list: Variable[] }, __inputs?: unknown }

export function readDashboards (): Array<{ file: string, text: string, dashboard: Dashboard }> {
  return DASHBOARD_FILES.map((file) => {
    const text = readFileSync(file, 'utf8')
    return { file, text, dashboard: JSON.parse(text) as Dashboard }
  })
}

/** Variables that filter queries (label_values); a textbox (the gate's address) feeds data links instead. */
export function filterVariables (d: Dashboard): Variable[] {
  return d.templating.list.filter((v) => v.type === 'query')
}

export function queryPanels (d: Dashboard): Panel[] {
  return d.panels.filter((p) => p.type !== 'row')
}

/** Grafana's own variables a query may use, and what the tests substitute for them. */
export const BUILTINS: Record<string, string> = { __rate_interval: '5m', __interval: '30s', __range: '5m' }

/**
 * A dashboard expression as Grafana would send it with every variable at "All" (or at the
 * regex in `values`): built-in intervals become durations, and the dashboard's variables (only
 * ever used in `=~"$var"` matchers) become their allValue `.*`.
 */
export function substitute (expr: string, values: Record<string, string> = {}): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (_m, name: string) => BUILTINS[name] ?? values[name] ?? '.*')
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

/** A data link's URL as Grafana fills it for one point of a series. */
export function linkUrl (template: string, vars: Record<string, string>, labels: Record<string, string>, timeMs: number): string {
  return template
    .replace(/\$\{__field\.labels\.(\w+)\}/g, (_m, l: string) => encodeURIComponent(labels[l] ?? ''))
    .replace('${__value.time}', String(timeMs))
    .replace(/\$\{(\w+)\}/g, (m, v: string) => vars[v] ?? m)
}
