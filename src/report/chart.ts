/**
 * One signal over the looks of an analysis, drawn as inline SVG: the canary's estimate with its
 * bound as a band, the baseline, the levels the rule decides against (margin, harm, trigger
 * levels) as lines, the look on the page and the moment a trigger fired. Every line differs in
 * dash and marker as well as colour, carries its name at its end, and has a `data-*` attribute
 * naming what it is (the browser test finds them by it).
 */
import { pct, ratio, seconds } from '../gate/format.js'
import { esc, html, Html } from './html.js'

export type Unit = 'rate' | 'ratio' | 'count' | 'seconds'

export interface ChartPoint { y: number, lo?: number, hi?: number }

export interface ChartSeries {
  /** `canary`, `baseline`, or the rule's `estimate` on a ratio scale. */
  id: string
  label: string
  look: 'canary' | 'baseline'
  /** One per look; null where the look has no value. */
  points: Array<ChartPoint | null>
}

export interface ChartLevel {
  /** `margin`, `harm`, or `trigger:<name>`. */
  id: string
  label: string
  kind: 'margin' | 'harm' | 'trigger'
  /** One per look (a ratio rule's level moves with the baseline); null where unknown. */
  values: Array<number | null>
}

export interface ChartMarker { id: string, look: number, label: string }

export interface Chart {
  title: string
  unit: Unit
  /** When each look's window ended (epoch ms), oldest first. */
  times: number[]
  /** Index of the look the page is about. */
  current: number
  series: ChartSeries[]
  levels: ChartLevel[]
  /** Looks where a trigger of this signal first fired. */
  markers: ChartMarker[]
}

export function formatValue (unit: Unit, v: number): string {
  switch (unit) {
    case 'rate': return pct(v)
    case 'ratio': return ratio(v)
    case 'count': return String(Math.round(v * 100) / 100)
    case 'seconds': return seconds(v)
  }
}

const W = 760
const H = 250
const PAD = { left: 58, right: 196, top: 22, bottom: 40 }
const STROKE = {
  canary: { color: '#0b4fa8', dash: '', width: 2.5 },
  baseline: { color: '#57606a', dash: '7 4', width: 2 },
  margin: { color: '#1a7f37', dash: '2 3', width: 2.2 },
  harm: { color: '#cf222e', dash: '10 3 2 3', width: 2 },
  trigger: { color: '#82071e', dash: '16 4', width: 2 },
}

function niceMax (max: number, unit: Unit): number {
  if (!(max > 0)) return unit === 'rate' ? 0.01 : 1
  // Durations scale in whole minutes or hours, so the ticks read as 10m, 20m, not 8m, 17m.
  if (unit === 'seconds' && max > 7200) return 3600 * niceMax(max / 3600, 'count')
  if (unit === 'seconds' && max > 120) return 60 * niceMax(max / 60, 'count')
  const raw = max * 1.08
  const step = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * step >= raw) return m * step
  return 10 * step
}

function timeLabel (ms: number, withDate: boolean): string {
  const iso = new Date(ms).toISOString()
  return withDate ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16)
}

/** Spreads labels that would overlap (sorted by their wanted y), keeping them inside the plot's height. */
function spread (wanted: number[], gap: number, top: number, bottom: number): number[] {
  const order = wanted.map((y, i) => ({ y, i })).sort((a, b) => a.y - b.y)
  const placed: number[] = []
  for (const [j, o] of order.entries()) placed[j] = Math.max(o.y, j === 0 ? top : (placed[j - 1] as number) + gap)
  for (let j = order.length - 1; j >= 0; j--) {
    const limit = j === order.length - 1 ? bottom : (placed[j + 1] as number) - gap
    placed[j] = Math.max(top, Math.min(placed[j] as number, limit))
  }
  const out: number[] = []
  order.forEach((o, j) => { out[o.i] = placed[j] as number })
  return out
}

export function renderChart (chart: Chart, id: string): Html {
  const n = chart.times.length
  const plotW = W - PAD.left - PAD.right
  const plotH = H - PAD.top - PAD.bottom
  const t0 = Math.min(...chart.times)
  const t1 = Math.max(...chart.times)
  const x = (i: number): number => (n === 1 || t1 === t0 ? PAD.left + plotW / 2 : PAD.left + ((chart.times[i] as number) - t0) / (t1 - t0) * plotW)
  // The scale fits the estimates and the levels; a wide early bound may run off the top (it is
  // clipped there) rather than flatten everything that decides.
  const finite = (xs: Array<number | undefined>): number[] => xs.filter((v): v is number => v !== undefined && Number.isFinite(v))
  const core = Math.max(0, ...finite([
    ...chart.series.flatMap((s) => s.points.flatMap((p) => (p === null ? [] : [p.y, p.lo]))),
    ...chart.levels.flatMap((l) => l.values.map((v) => v ?? undefined)),
  ]))
  const bands = Math.max(0, ...finite(chart.series.flatMap((s) => s.points.map((p) => p?.hi))))
  const fitted = niceMax(core > 0 ? Math.max(core, Math.min(bands, 2.5 * core)) : bands, chart.unit)
  // A rate never exceeds 100%, even where a ratio rule's level would (that rule cannot fail there).
  const top = chart.unit === 'rate' ? Math.min(1, fitted) : fitted
  const y = (v: number): number => PAD.top + plotH - Math.min(1, Math.max(0, v / top)) * plotH
  const f = (v: number): string => v.toFixed(1)
  const parts: string[] = []
  const labels: Array<{ y: number, text: string, color: string }> = []

  // Grid and axes.
  for (let k = 0; k <= 4; k++) {
    const v = top * k / 4
    parts.push(`<line class="grid" x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${f(y(v))}" y2="${f(y(v))}"/>`)
    parts.push(`<text x="${PAD.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${esc(formatValue(chart.unit, v))}</text>`)
  }
  parts.push(`<line class="axis" x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}"/>`)
  parts.push(`<line class="axis" x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}"/>`)
  const withDate = t1 - t0 > 20 * 3_600_000
  const ticks = n === 1 ? [0] : [...new Set([0, Math.floor((n - 1) / 2), n - 1])]
  for (const i of ticks) parts.push(`<text x="${f(x(i))}" y="${PAD.top + plotH + 15}" text-anchor="middle">${esc(timeLabel(chart.times[i] as number, withDate))}</text>`)
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${H - 4}" text-anchor="middle" class="muted">look (end of its window, UTC): ${n} look${n === 1 ? '' : 's'}</text>`)

  // The look this page is about.
  const cx = x(chart.current)
  parts.push(`<rect data-current="${chart.current}" x="${f(cx - 7)}" y="${PAD.top}" width="14" height="${plotH}" fill="#fff8c5" stroke="#d4a72c" stroke-dasharray="3 2"/>`)
  parts.push(`<text x="${f(cx)}" y="${PAD.top - 7}" text-anchor="middle" font-weight="700">this look</text>`)

  // Bands first, so lines stay on top: the canary's hatched (visible in black and white), the baseline's plain.
  parts.push(`<defs><pattern id="${id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#0b4fa8" fill-opacity="0.10"/><line x1="0" y1="0" x2="0" y2="6" stroke="#0b4fa8" stroke-opacity="0.45" stroke-width="1.2"/></pattern></defs>`)
  for (const s of chart.series) {
    const idx = s.points.flatMap((p, i) => (p !== null && p.lo !== undefined && p.hi !== undefined ? [i] : []))
    if (idx.length === 0) continue
    const pt = (i: number): ChartPoint => s.points[i] as ChartPoint
    // A lone look's band is a short bar, wide enough to see.
    const xs = idx.length === 1 ? [x(idx[0] as number) - 6, x(idx[0] as number) + 6] : idx.map(x)
    const his = idx.length === 1 ? [pt(idx[0] as number).hi, pt(idx[0] as number).hi] : idx.map((i) => pt(i).hi)
    const los = idx.length === 1 ? [pt(idx[0] as number).lo, pt(idx[0] as number).lo] : idx.map((i) => pt(i).lo)
    const upper = xs.map((xv, j) => `${f(xv)},${f(y(his[j] as number))}`)
    const lower = xs.map((xv, j) => `${f(xv)},${f(y(los[j] as number))}`).reverse()
    const fill = s.look === 'canary' ? `url(#${id}-hatch)` : '#57606a'
    parts.push(`<polygon data-band="${esc(s.id)}" points="${[...upper, ...lower].join(' ')}" fill="${fill}" fill-opacity="${s.look === 'canary' ? 1 : 0.12}" stroke="${STROKE[s.look].color}" stroke-opacity="0.35" stroke-width="0.8"/>`)
  }

  // Levels: straight across when constant, through each look when they move.
  for (const l of chart.levels) {
    const known = l.values.flatMap((v, i) => (v === null ? [] : [{ i, v }]))
    if (known.length === 0) continue
    const st = STROKE[l.kind]
    const constant = known.every((k) => k.v === known[0]?.v)
    const pts = constant
      ? [`${PAD.left},${f(y(known[0]?.v as number))}`, `${PAD.left + plotW},${f(y(known[0]?.v as number))}`]
      : [`${PAD.left},${f(y(known[0]?.v as number))}`, ...known.map((k) => `${f(x(k.i))},${f(y(k.v))}`), `${PAD.left + plotW},${f(y(known[known.length - 1]?.v as number))}`]
    parts.push(`<polyline data-level="${esc(l.id)}" points="${pts.join(' ')}" fill="none" stroke="${st.color}" stroke-width="${st.width}" stroke-dasharray="${st.dash}"/>`)
    const last = known[known.length - 1]?.v as number
    labels.push({ y: y(last), text: `${l.label.split(':')[0] as string} ${formatValue(chart.unit, last)}`, color: st.color })
  }

  // Series: lines broken where a look has no value, a marker per look (circle canary, square baseline).
  for (const s of chart.series) {
    const st = STROKE[s.look]
    let d = ''
    let pen = false
    s.points.forEach((p, i) => {
      if (p === null) { pen = false; return }
      d += `${pen ? 'L' : 'M'}${f(x(i))},${f(y(p.y))}`
      pen = true
    })
    if (d === '') continue
    parts.push(`<path data-line="${esc(s.id)}" d="${d}" fill="none" stroke="${st.color}" stroke-width="${st.width}" stroke-dasharray="${st.dash}"/>`)
    s.points.forEach((p, i) => {
      if (p === null) return
      parts.push(s.look === 'canary'
        ? `<circle cx="${f(x(i))}" cy="${f(y(p.y))}" r="3.2" fill="${st.color}"/>`
        : `<rect x="${f(x(i) - 3)}" y="${f(y(p.y) - 3)}" width="6" height="6" fill="#fff" stroke="${st.color}" stroke-width="1.5"/>`)
    })
    const last = [...s.points].reverse().find((p) => p !== null) as ChartPoint
    labels.push({ y: y(last.y), text: `${s.label} ${formatValue(chart.unit, last.y)}`, color: st.color })
  }

  // When a trigger fired.
  for (const m of chart.markers) {
    const mx = x(m.look)
    parts.push(`<line data-marker="${esc(m.id)}" x1="${f(mx)}" x2="${f(mx)}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#82071e" stroke-width="1.5"/>`)
    parts.push(`<text x="${f(mx + 4)}" y="${PAD.top + 12 + 13 * chart.markers.indexOf(m)}" fill="#82071e">✗ ${esc(m.label)}</text>`)
  }

  // Names at the right end of every line, pushed apart where they would overlap.
  const ys = spread(labels.map((l) => l.y), 13, PAD.top + 4, PAD.top + plotH)
  labels.forEach((l, i) => parts.push(`<text x="${PAD.left + plotW + 8}" y="${f((ys[i] as number) + 4)}" fill="${l.color}">${esc(l.text)}</text>`))

  const desc = describe(chart)
  return html`<p class="chart-title">${chart.title}</p>
<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}-t ${id}-d" data-chart="${id}"><title id="${id}-t">${chart.title}</title><desc id="${id}-d">${desc}</desc>${new Html(parts.join(''))}</svg>
${legend(chart)}`
}

/** What the chart shows, in words, for screen readers and text browsers. */
function describe (c: Chart): string {
  const at = (s: ChartSeries): string => {
    const p = s.points[c.current]
    return p === null || p === undefined ? `${s.label}: no value` : `${s.label} ${formatValue(c.unit, p.y)}${p.lo !== undefined && p.hi !== undefined ? ` (bound ${formatValue(c.unit, p.lo)} to ${formatValue(c.unit, p.hi)})` : ''}`
  }
  const levels = c.levels.map((l) => {
    const v = l.values[c.current]
    return `${l.label} ${v === null || v === undefined ? 'unknown' : formatValue(c.unit, v)}`
  })
  return `${c.title} over ${c.times.length} look(s); at this look: ${[...c.series.map(at), ...levels].join('; ')}${c.markers.length > 0 ? `; ${c.markers.map((m) => m.label).join(', ')}` : ''}.`
}

function swatch (st: { color: string, dash: string, width: number }, marker: 'circle' | 'square' | 'none'): string {
  const mark = marker === 'circle' ? `<circle cx="14" cy="6" r="3" fill="${st.color}"/>` : marker === 'square' ? `<rect x="11" y="3" width="6" height="6" fill="#fff" stroke="${st.color}" stroke-width="1.5"/>` : ''
  return `<svg width="28" height="12" aria-hidden="true"><line x1="0" x2="28" y1="6" y2="6" stroke="${st.color}" stroke-width="${st.width}" stroke-dasharray="${st.dash}"/>${mark}</svg>`
}

function legend (c: Chart): Html {
  const items: string[] = []
  for (const s of c.series) {
    const hasBand = s.points.some((p) => p?.lo !== undefined)
    items.push(`<span>${swatch(STROKE[s.look], s.look === 'canary' ? 'circle' : 'square')} ${esc(s.label)}${hasBand ? ` (band: its ${s.look === 'canary' ? 'hatched ' : ''}anytime-valid bound)` : ''}</span>`)
  }
  for (const l of c.levels) if (l.values.some((v) => v !== null)) items.push(`<span>${swatch(STROKE[l.kind], 'none')} ${esc(l.label)}</span>`)
  if (c.markers.length > 0) items.push(`<span>${swatch({ color: '#82071e', dash: '', width: 1.5 }, 'none')} a trigger fired</span>`)
  return new Html(`<div class="legend">${items.join('')}</div>`)
}
