/**
 * The Grafana dashboard works by UI import and by file or sidecar provisioning: a fixed uid, a
 * datasource template variable used by every panel and query, and no `${DS_...}` inputs (which
 * only the import UI resolves). Its queries only use variables it defines. What they return
 * from a real Prometheus is checked in prometheus.test.ts.
 */
import t from 'tap'
import { BUILTINS, queryPanels, readDashboard } from '../helpers/dashboard.js'

const { text, dashboard } = readDashboard()
const DS = { type: 'prometheus', uid: '${datasource}' }

t.test('provisioning-friendly: fixed uid, no id, no import-only inputs, a datasource variable', async (t) => {
  t.equal(dashboard.uid, 'agent-canary-gate')
  t.match(dashboard.uid, /^[A-Za-z0-9_-]{1,40}$/, 'a valid uid')
  t.ok(dashboard.id === undefined || dashboard.id === null, 'no numeric id (Grafana assigns one)')
  t.equal(dashboard.__inputs, undefined, 'no __inputs')
  t.notOk(text.includes('${DS_'), 'no ${DS_...} placeholders: provisioning would leave them unresolved')
  t.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`)
  const ds = dashboard.templating.list.find((v) => v.type === 'datasource')
  t.match(ds, { name: 'datasource', query: 'prometheus' }, 'a Prometheus datasource variable')
  t.equal(dashboard.templating.list[0]?.name, 'datasource', 'first, so the other variables can use it')
})

t.test('every panel and every query uses the datasource variable', async (t) => {
  const panels = queryPanels(dashboard)
  t.ok(panels.length >= 15, `${panels.length} panels`)
  for (const p of panels) {
    t.same(p.datasource, DS, `panel "${p.title}"`)
    t.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`)
    for (const q of p.targets ?? []) {
      t.same(q.datasource, DS, `panel "${p.title}" query ${q.refId}`)
      t.ok(typeof q.expr === 'string' && q.expr.trim() !== '', `panel "${p.title}" query ${q.refId} has an expression`)
    }
  }
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) t.same(v.datasource, DS, `variable ${v.name}`)
})

t.test('queries use only variables the dashboard defines, and only in regex matchers', async (t) => {
  const defined = new Set(dashboard.templating.list.map((v) => v.name))
  const queries = [
    ...queryPanels(dashboard).flatMap((p) => (p.targets ?? []).map((q) => ({ where: `panel "${p.title}"`, expr: q.expr }))),
    ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query.query })),
  ]
  for (const { where, expr } of queries) {
    for (const m of expr.matchAll(/\$\{?(\w+)\}?/g)) {
      const name = m[1] as string
      t.ok(defined.has(name) || name in BUILTINS, `${where}: $${name} is defined`)
      if (!(name in BUILTINS)) t.match(expr.slice(0, m.index), /=~"[^"]*$/, `${where}: $${name} sits in a =~ matcher (multi-value and All work)`)
    }
  }
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) t.equal(v.allValue, '.*', `variable ${v.name}: All means any value`)
})

t.test('layout: unique panel ids, panels inside the 24-column grid and not overlapping', async (t) => {
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
