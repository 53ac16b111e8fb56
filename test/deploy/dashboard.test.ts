/**
 * The Grafana dashboards work by UI import and by file or sidecar provisioning: fixed uids, a
 * datasource variable used by every panel and query, and no `${DS_...}` inputs (which only the
 * import UI resolves). Every variable applies to every panel: each filter variable sits in
 * every query of its dashboard, and the rollouts dashboard's gate address in every panel's
 * data links, which open the gate's decision pages. Rollout legends name the namespace. What
 * the queries return from a real Prometheus is checked in prometheus.test.ts.
 */
import t from 'tap'
import { BUILTINS, filterVariables, queryPanels, readDashboards } from '../helpers/dashboard.js'

const DS = { type: 'prometheus', uid: '${datasource}' }
const dashboards = readDashboards()

t.test('two dashboards: rollouts (uid agent-canary-gate, as before) and the service', async (t) => {
  t.same(dashboards.map((d) => d.dashboard.uid), ['agent-canary-gate', 'agent-canary-gate-service'])
  t.equal(new Set(dashboards.map((d) => d.dashboard.title)).size, 2, 'distinct titles')
})

for (const { file, text, dashboard } of dashboards) {
  const name = file.split('/').pop() as string
  t.test(`${name}: provisioning-friendly: fixed uid, no id, no import-only inputs, a datasource variable`, async (t) => {
    t.match(dashboard.uid, /^[A-Za-z0-9_-]{1,40}$/, 'a valid uid')
    t.ok(dashboard.id === undefined || dashboard.id === null, 'no numeric id (Grafana assigns one)')
    t.equal(dashboard.__inputs, undefined, 'no __inputs')
    t.notOk(text.includes('${DS_'), 'no ${DS_...} placeholders: provisioning would leave them unresolved')
    t.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`)
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource')
    t.match(ds, { name: 'datasource', query: 'prometheus' }, 'a Prometheus datasource variable')
    t.equal(dashboard.templating.list[0]?.name, 'datasource', 'first, so the other variables can use it')
  })

  t.test(`${name}: every panel and every query uses the datasource variable`, async (t) => {
    const panels = queryPanels(dashboard)
    t.ok(panels.length >= 9, `${panels.length} panels`)
    for (const p of panels) {
      t.same(p.datasource, DS, `panel "${p.title}"`)
      t.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`)
      for (const q of p.targets ?? []) {
        t.same(q.datasource, DS, `panel "${p.title}" query ${q.refId}`)
        t.ok(typeof q.expr === 'string' && q.expr.trim() !== '', `panel "${p.title}" query ${q.refId} has an expression`)
      }
    }
    for (const v of filterVariables(dashboard)) t.same(v.datasource, DS, `variable ${v.name}`)
  })

  t.test(`${name}: every variable applies to every panel; only variables it defines, only in regex matchers`, async (t) => {
    const defined = new Set(dashboard.templating.list.map((v) => v.name))
    const filters = filterVariables(dashboard).map((v) => v.name)
    for (const p of queryPanels(dashboard)) {
      for (const q of p.targets ?? []) {
        for (const v of filters) t.ok(q.expr.includes(`"$${v}"`), `panel "${p.title}" ${q.refId} is filtered by $${v}`)
      }
    }
    const queries = [
      ...queryPanels(dashboard).flatMap((p) => (p.targets ?? []).map((q) => ({ where: `panel "${p.title}"`, expr: q.expr }))),
      ...filterVariables(dashboard).map((v) => ({ where: `variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query.query })),
    ]
    for (const { where, expr } of queries) {
      for (const m of expr.matchAll(/\$\{?(\w+)\}?/g)) {
        const n = m[1] as string
        t.ok(defined.has(n) || n in BUILTINS, `${where}: $${n} is defined`)
        if (!(n in BUILTINS)) t.match(expr.slice(0, m.index), /=~"[^"]*$/, `${where}: $${n} sits in a =~ matcher (multi-value and All work)`)
      }
    }
    for (const v of filterVariables(dashboard)) t.equal(v.allValue, '.*', `variable ${v.name}: All means any value`)
    for (const v of dashboard.templating.list.filter((x) => x.type !== 'query' && x.type !== 'datasource')) {
      for (const p of queryPanels(dashboard)) {
        const links = p.fieldConfig?.defaults.links ?? []
        t.ok(links.length > 0 && links.every((l) => l.url.startsWith(`\${${v.name}}/`)), `panel "${p.title}": its data links go to $\{${v.name}}`)
      }
    }
  })

  t.test(`${name}: layout: unique panel ids, panels inside the 24-column grid and not overlapping`, async (t) => {
    const ids = dashboard.panels.map((p) => p.id)
    t.equal(new Set(ids).size, ids.length, 'unique ids')
    const owner = new Map<string, string>()
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos
      t.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0, `"${p.title}" fits the grid`)
      const overlaps = new Set<string>()
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const other = owner.get(`${i},${j}`)
          if (other !== undefined) overlaps.add(other)
          owner.set(`${i},${j}`, p.title)
        }
      }
      t.same([...overlaps], [], `"${p.title}" overlaps no other panel`)
    }
  })
}

t.test('the rollouts dashboard: namespaced legends, what the gate decides on, links to the decision pages', async (t) => {
  const { dashboard } = dashboards[0] as (typeof dashboards)[number]
  t.same(filterVariables(dashboard).map((v) => v.name), ['tenant', 'rollout_namespace', 'rollout', 'stage'], 'the tenant first: two tenants may run rollouts of the same name')
  for (const p of queryPanels(dashboard)) {
    for (const q of p.targets ?? []) t.match(q.legendFormat, /^\{\{rollout_namespace\}\}\/\{\{rollout\}\} \{\{stage\}\}/, `"${p.title}" ${q.refId}: the legend names namespace, rollout and stage`)
    t.same(p.fieldConfig?.defaults.links?.map((l) => new URL(l.url.replace('${gate_url}', 'http://gate')).pathname), ['/decisions', '/rollouts'], `"${p.title}": links to the decision at a point and to the rollout`)
  }
  for (const title of ['Policy deny rate', 'Job failure rate', 'Overload rate', 'Other rate signals']) {
    const p = queryPanels(dashboard).find((x) => x.title === title)
    const exprs = (p?.targets ?? []).map((q) => q.expr).join('\n')
    // The default policy's overload trigger counts sub-intervals: it has no rate level to draw.
    const metrics = ['rollout_signal_ratio', 'rollout_signal_bound_ratio', 'rollout_signal_level_ratio', ...(title === 'Overload rate' ? [] : ['rollout_trigger_level_ratio'])]
    for (const metric of metrics) t.match(exprs, `agentcanary:${metric}:latest{`, `"${title}" draws ${metric}`)
    const styled = new Set((p?.fieldConfig?.overrides ?? []).map((o) => o.matcher.options))
    const sample: Record<string, string> = { bound: 'lower', trigger: 'policy_deny_rate', signal: 'schema_violations' }
    for (const legend of (p?.targets ?? []).map((q) => (q.legendFormat ?? '').replace(/\{\{(\w+)\}\}/g, (_m, l: string) => sample[l] ?? 'x'))) {
      const matched = [...styled].filter((re) => new RegExp(re).test(legend))
      t.ok(/ canary$/.test(legend) || matched.length === 1, `"${title}": "${legend}" is the canary or has its own line style`)
    }
  }
  const { dashboard: service } = dashboards[1] as (typeof dashboards)[number]
  t.same(filterVariables(service).map((v) => v.name), ['job'], 'the service dashboard: every panel by the gate\'s job')
})
