/**
 * The frame every report page shares: escaping, the page shell with its one stylesheet, and the
 * verdict and status marks. Pages are whole documents with nothing to fetch: no script, no
 * font, no image but inline SVG, so they work in a cluster without internet and under the
 * strict Content-Security-Policy the routes send. Meaning never rests on colour alone: every
 * verdict and status carries a symbol and a word, and chart lines differ in dash and marker.
 */

/** Text for HTML content and attribute values. */
export function esc (text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

/** A piece of markup already escaped; `html` below keeps it as is and escapes everything else. */
export class Html {
  constructor (readonly text: string) {}
  toString (): string { return this.text }
}

type Part = Html | string | number | undefined | null | false | Part[]

function join (part: Part): string {
  if (part === undefined || part === null || part === false) return ''
  if (Array.isArray(part)) return part.map(join).join('')
  return part instanceof Html ? part.text : esc(part)
}

/** Tagged template: interpolated values are escaped unless they are Html (arrays are joined). */
export function html (strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0] as string
  parts.forEach((p, i) => { out += join(p) + (strings[i + 1] as string) })
  return new Html(out)
}

export const MARK: Record<string, { symbol: string, word: string }> = {
  pass: { symbol: '✓', word: 'PASS' },
  fail: { symbol: '✗', word: 'FAIL' },
  inconclusive: { symbol: '?', word: 'INCONCLUSIVE' },
  marginal: { symbol: '~', word: 'marginal' },
  insufficient: { symbol: '…', word: 'insufficient data' },
  unavailable: { symbol: '!', word: 'unavailable' },
}

/** A verdict or status as symbol + word, its class giving the colour (which adds nothing the text does not say). */
export function badge (status: string, word?: string): Html {
  const m = MARK[status] ?? { symbol: '·', word: status }
  return html`<span class="badge ${status}" data-status="${status}"><span aria-hidden="true">${m.symbol}</span> ${word ?? m.word}</span>`
}

/** "2026-11-26 09:00:00 UTC": absolute, so a printed page means the same later. */
export function when (iso: string): string {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

/** "2h 5m", "40s": a duration for people. */
export function span (ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s}s`
  const m = Math.round(s / 60)
  if (m < 120) return `${m}m`
  const h = Math.floor(m / 60)
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`
}

const STYLE = `
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --panel: #f6f8fa;
  --pass: #1a7f37; --fail: #cf222e; --hold: #9a6700; --canary: #0b4fa8; --baseline: #57606a; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 16px 24px 48px; }
header.top { border-bottom: 1px solid var(--line); padding: 8px 24px; color: var(--muted); font-size: 13px; }
header.top a { color: var(--muted); }
h1 { font-size: 28px; margin: 12px 0 4px; display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
a { color: #0a58ca; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.summary { font-size: 17px; margin: 4px 0 12px; }
.muted { color: var(--muted); }
.badge { display: inline-block; border: 2px solid currentColor; border-radius: 4px; padding: 0 8px; font-weight: 700; font-size: 0.85em; letter-spacing: 0.02em; white-space: nowrap; }
h1 .badge { font-size: 24px; padding: 0 10px; }
.pass { color: var(--pass); } .fail { color: var(--fail); } .inconclusive, .marginal, .insufficient { color: var(--hold); } .unavailable { color: var(--fail); }
.score { font-size: 24px; font-weight: 700; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
nav.looks { display: flex; gap: 8px; flex-wrap: wrap; margin: 12px 0; }
nav.looks a, nav.looks span { border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; text-decoration: none; background: var(--panel); }
nav.looks span { color: var(--muted); }
ol.reasons li { margin: 2px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.current td { font-weight: 700; background: #fff8c5; }
section.signal { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 12px; margin: 16px 0; break-inside: avoid; page-break-inside: avoid; }
.chart-title { margin: 12px 0 0; font-weight: 600; font-size: 13px; }
svg.chart { width: 100%; height: auto; display: block; margin: 6px 0; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg.chart .axis { stroke: var(--muted); stroke-width: 1; }
svg.chart .grid { stroke: #eaeef2; stroke-width: 1; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin: 0 0 4px; }
.legend svg { vertical-align: middle; }
.note { background: var(--panel); border-left: 4px solid var(--line); padding: 6px 10px; margin: 8px 0; font-size: 14px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  header.top, nav.looks { display: none; }
  main { max-width: none; padding: 0; }
  body { font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr.current td { background: none; }
}
`

/** A whole page: one stylesheet inline, no favicon request, nothing else to load. */
export function page (title: string, body: Html): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${esc(title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header class="top">agent-canary-gate · decision report</header>
<main>
${body.text}
</main>
</body>
</html>
`
}

/** The Content-Security-Policy the pages are served with: nothing may load from anywhere. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
