/**
 * Draws a Grafana dashboard JSON as a static HTML page from query results, for the picture in
 * the docs: Grafana is neither in Debian nor in npm here. It reads the dashboard as Grafana
 * would (grid layout, rows, panel titles, each target's query and legend format, units,
 * min/max, threshold lines, value mappings, and the field overrides the shipped dashboards use:
 * fixed colours, line dashes and widths, a right axis) and refuses anything else it meets, so
 * the picture cannot quietly leave out part of a panel. Test code, not product code.
 */
import type { Dashboard, Panel } from './dashboard.js'

export interface Series { labels: Record<string, string>, points: Array<[number, number]> }
export type Query = (expr: string) => Promise<Series[]>

const COLS = 24
const WIDTH = 1560
const UNIT_H = 30
const PALETTE = ['#73BF69', '#F2CC0C', '#8AB8FF', '#FF780A', '#F2495C', '#5794F2', '#B877D9', '#FF9830', '#96D98D', '#FFCB7D', '#C0D8FF', '#FFB357', '#FF7383', '#8F3BB8']
const NAMED: Record<string, string> = { green: '#73BF69', red: '#F2495C', 'dark-red': '#C4162A', orange: '#FF9830', yellow: '#F2CC0C', blue: '#5794F2' }
const KNOWN_PROPS = new Set(['color', 'custom.lineStyle', 'custom.lineWidth', 'custom.fillOpacity', 'custom.showPoints', 'unit', 'custom.axisPlacement'])

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)

function format (unit: string | undefined, v: number): string {
  switch (unit) {
    case 'percentunit': return `${(v * 100).toFixed(v !== 0 && Math.abs(v) < 0.1 ? 1 : 0)}%`
    case 's': return v >= 3600 ? `${(v / 3600).toFixed(1)} h` : v >= 60 ? `${Math.round(v / 60)} min` : v >= 1 ? `${v.toFixed(1)} s` : `${Math.round(v * 1000)} ms`
    case 'bytes': return v >= 1 << 20 ? `${Math.round(v / (1 << 20))} MiB` : `${Math.round(v / 1024)} KiB`
    case 'reqps': return `${v < 1 ? v.toFixed(2) : Math.round(v)} req/s`
    default: return Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}K` : String(Math.round(v * 100) / 100)
  }
}

function legendOf (format: string | undefined, labels: Record<string, string>): string {
  return (format ?? '').replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, l: string) => labels[l] ?? '')
}

interface Style { color: string, dash: number[], width: number, unit?: string, right: boolean, points: boolean }

function styleOf (panel: Panel, name: string, index: number): Style {
  const d = panel.fieldConfig?.defaults
  const style: Style = { color: PALETTE[index % PALETTE.length] as string, dash: [], width: Number(d?.custom?.lineWidth ?? 1), right: false, points: d?.custom?.showPoints === 'always', ...(d?.unit === undefined ? {} : { unit: d.unit }) }
  for (const o of panel.fieldConfig?.overrides ?? []) {
    const hit = o.matcher.id === 'byRegexp' ? new RegExp(`^(?:${o.matcher.options})$`).test(name) : o.matcher.id === 'byName' ? o.matcher.options === name : (() => { throw new Error(`panel "${panel.title}": matcher ${o.matcher.id} is not drawn by this renderer`) })()
    for (const p of o.properties) {
      if (!KNOWN_PROPS.has(p.id)) throw new Error(`panel "${panel.title}": override ${p.id} is not drawn by this renderer`)
      if (!hit) continue
      const v = p.value as any
      if (p.id === 'color') style.color = NAMED[v.fixedColor] ?? v.fixedColor
      if (p.id === 'custom.lineStyle') style.dash = v.fill === 'dot' ? [1, 4] : v.dash ?? []
      if (p.id === 'custom.lineWidth') style.width = v
      if (p.id === 'custom.showPoints') style.points = v === 'always'
      if (p.id === 'unit') style.unit = v
      if (p.id === 'custom.axisPlacement') style.right = v === 'right'
    }
  }
  return style
}

interface Drawn { name: string, style: Style, points: Array<[number, number]> }

function timeseries (panel: Panel, drawn: Drawn[], w: number, h: number, range: [number, number]): string {
  const pad = { l: 62, r: drawn.some((d) => d.style.right) ? 62 : 14, t: 8, b: 22 }
  const pw = w - pad.l - pad.r
  const ph = h - pad.t - pad.b
  const x = (ms: number): number => pad.l + (ms - range[0]) / (range[1] - range[0]) * pw
  const axis = (right: boolean): { max: number, y: (v: number) => number, unit?: string } => {
    const own = drawn.filter((d) => d.style.right === right)
    const d = panel.fieldConfig?.defaults
    const values = own.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite)
    const thresholds = right ? [] : (d?.thresholds?.steps ?? []).flatMap((s) => (s.value === null ? [] : [s.value]))
    let max = right ? Math.max(...values, 0) : d?.max ?? Math.max(...values, ...thresholds, 0)
    if (!(max > 0)) max = 1
    if (!right && d?.max === undefined) max *= 1.1
    const unit = own[0]?.style.unit ?? d?.unit
    return { max, y: (v) => pad.t + ph - Math.max(0, Math.min(1, v / max)) * ph, ...(unit === undefined ? {} : { unit }) }
  }
  const left = axis(false)
  const right = axis(true)
  const out: string[] = []
  for (let k = 0; k <= 4; k++) {
    const v = left.max * k / 4
    out.push(`<line x1="${pad.l}" x2="${pad.l + pw}" y1="${left.y(v)}" y2="${left.y(v)}" stroke="#2c3235"/><text x="${pad.l - 6}" y="${left.y(v) + 4}" text-anchor="end">${esc(format(left.unit, v))}</text>`)
    if (drawn.some((d) => d.style.right)) out.push(`<text x="${pad.l + pw + 6}" y="${right.y(right.max * k / 4) + 4}">${esc(format(right.unit, right.max * k / 4))}</text>`)
  }
  for (let k = 0; k <= 6; k++) {
    const ms = range[0] + (range[1] - range[0]) * k / 6
    out.push(`<text x="${x(ms)}" y="${h - 6}" text-anchor="middle">${new Date(ms).toISOString().slice(11, 16)}</text>`)
  }
  const d = panel.fieldConfig?.defaults
  if ((d?.custom?.thresholdsStyle as { mode?: string } | undefined)?.mode === 'dashed') {
    for (const s of d?.thresholds?.steps ?? []) if (s.value !== null) out.push(`<line x1="${pad.l}" x2="${pad.l + pw}" y1="${left.y(s.value)}" y2="${left.y(s.value)}" stroke="${NAMED[s.color] ?? s.color}" stroke-dasharray="10 10" stroke-width="1.5"/>`)
  }
  for (const s of drawn) {
    const a = s.style.right ? right : left
    // Grafana breaks a line where a scrape interval passes without a sample.
    let path = ''
    let prev: number | undefined
    for (const [t, v] of s.points) {
      path += `${prev === undefined || t - prev > 6 * 60_000 ? 'M' : 'L'}${x(t).toFixed(1)},${a.y(v).toFixed(1)}`
      prev = t
    }
    out.push(`<path d="${path}" fill="none" stroke="${s.style.color}" stroke-width="${s.style.width}" stroke-dasharray="${s.style.dash.join(' ')}"/>`)
    if (s.style.points) for (const [t, v] of s.points.filter((_p, i) => i % 5 === 0)) out.push(`<circle cx="${x(t).toFixed(1)}" cy="${a.y(v).toFixed(1)}" r="2" fill="${s.style.color}"/>`)
  }
  return `<svg width="${w}" height="${h}">${out.join('')}</svg>`
}

function stateTimeline (panel: Panel, drawn: Drawn[], w: number, range: [number, number]): string {
  const mappings = ((panel.fieldConfig?.defaults.mappings ?? []) as Array<{ options: Record<string, { text: string, color: string }> }>).flatMap((m) => Object.entries(m.options))
  const label = 260
  const rowH = 22
  const x = (ms: number): number => label + (ms - range[0]) / (range[1] - range[0]) * (w - label - 10)
  const out: string[] = []
  drawn.forEach((s, i) => {
    const y = 4 + i * (rowH + 4)
    out.push(`<text x="${label - 8}" y="${y + 15}" text-anchor="end">${esc(s.name)}</text>`)
    s.points.forEach(([t, v], k) => {
      const end = s.points[k + 1]?.[0] ?? Math.min(range[1], t + 60_000)
      const m = mappings.find(([value]) => Number(value) === v)?.[1]
      const gap = end - t > 6 * 60_000
      out.push(`<rect x="${x(t).toFixed(1)}" y="${y}" width="${Math.max(1, x(gap ? t + 60_000 : end) - x(t)).toFixed(1)}" height="${rowH}" fill="${NAMED[m?.color ?? ''] ?? '#555'}"/>`)
      const prev = s.points[k - 1]?.[1]
      if (m !== undefined && prev !== v) out.push(`<text x="${(x(t) + 4).toFixed(1)}" y="${y + 15}" fill="#111">${esc(m.text)}</text>`)
    })
  })
  return `<svg width="${w}" height="${drawn.length * (rowH + 4) + 8}">${out.join('')}</svg>`
}

function legend (drawn: Drawn[]): string {
  return `<div class="legend">${drawn.map((s) => `<span><svg width="26" height="10"><line x1="0" x2="26" y1="5" y2="5" stroke="${s.style.color}" stroke-width="${Math.max(2, s.style.width)}" stroke-dasharray="${s.style.dash.join(' ')}"/></svg>${esc(s.name)}</span>`).join('')}</div>`
}

/** The page, and per panel how many series it drew (a panel with none is an error the test reports). */
export async function renderDashboard (dashboard: Dashboard, query: Query, range: [number, number], values: Record<string, string> = {}): Promise<{ html: string, drawn: Record<string, number> }> {
  const col = WIDTH / COLS
  const height = Math.max(...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h)) * UNIT_H
  const counts: Record<string, number> = {}
  const boxes: string[] = []
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos
    const style = `left:${x * col}px;top:${y * UNIT_H}px;width:${w * col - 8}px;height:${h * UNIT_H - 8}px`
    if (panel.type === 'row') {
      boxes.push(`<div class="row" style="${style}">⌄ ${esc(panel.title)}</div>`)
      continue
    }
    const drawn: Drawn[] = []
    for (const target of panel.targets ?? []) {
      for (const s of await query(target.expr)) {
        const name = legendOf(target.legendFormat, s.labels)
        drawn.push({ name, style: styleOf(panel, name, drawn.length), points: s.points })
      }
    }
    counts[panel.title] = drawn.length
    const inner = { w: w * col - 24, h: h * UNIT_H - 80 }
    let body: string
    if (panel.type === 'timeseries') body = timeseries(panel, drawn, inner.w, inner.h, range) + legend(drawn)
    else if (panel.type === 'state-timeline') body = stateTimeline(panel, drawn, inner.w, range)
    else if (panel.type === 'stat') body = `<div class="stat">${drawn.map((s) => `<div><b>${esc(format(panel.fieldConfig?.defaults.unit, s.points.at(-1)?.[1] ?? 0))}</b> ${esc(s.name)}</div>`).join('')}</div>`
    else throw new Error(`panel "${panel.title}": type ${panel.type} is not drawn by this renderer`)
    const links = (panel.fieldConfig?.defaults.links ?? []).length
    boxes.push(`<div class="panel" style="${style}"><div class="title">${esc(panel.title)}${links > 0 ? ' <span class="link" title="data links">🔗</span>' : ''}</div>${body}</div>`)
  }
  const vars = dashboard.templating.list.map((v) => `<span class="var">${esc(v.name)} <b>${v.type === 'datasource' ? 'Prometheus' : v.type === 'textbox' ? esc(String((v.current?.value as string | undefined) ?? '')) : esc(values[v.name]?.replaceAll('|', ' + ') ?? 'All')}</b></span>`).join('')
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #111217; color: #ccccdc; font: 12px Inter, "Helvetica Neue", Arial, sans-serif; }
header { padding: 10px 16px; font-size: 16px; color: #fff; }
.vars { padding: 0 16px 8px; } .var { display: inline-block; background: #181b1f; border: 1px solid #2c3235; padding: 4px 8px; margin-right: 8px; border-radius: 2px; }
.grid { position: relative; margin: 0 12px; height: ${height}px; width: ${WIDTH}px; }
.panel { position: absolute; background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; padding: 6px 8px; overflow: hidden; box-sizing: border-box; }
.row { position: absolute; color: #fff; font-size: 14px; font-weight: 500; padding-top: 6px; }
.title { color: #fff; font-weight: 500; margin-bottom: 4px; } .link { color: #8ab8ff; }
svg text { fill: #9fa7b3; font-size: 10px; } .legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 10.5px; margin-top: 2px; }
.legend span { white-space: nowrap; } .legend svg { vertical-align: middle; margin-right: 4px; }
.stat { font-size: 13px; } .stat b { font-size: 24px; color: #73BF69; }
</style></head><body><header>${esc(dashboard.title)} <span style="font-size:12px;color:#8e8e8e">${new Date(range[0]).toISOString().slice(0, 16).replace('T', ' ')} to ${new Date(range[1]).toISOString().slice(11, 16)} UTC</span></header><div class="vars">${vars}</div><div class="grid">${boxes.join('')}</div></body></html>`
  return { html, drawn: counts }
}
