/**
 * The human view of a judgement: one table a person reads at a glance, then the triggers and
 * a verdict line. Shared by `judge` (recorded observations) and `score` (a live service), so
 * both print the same thing. Colour only when writing to a terminal. Within `width` columns:
 * when the whole table does not fit, the bound and weight columns are left out (the reasons
 * below still give each bound) and cells wrap; `--wide` prints everything on one line each.
 */
import { pct, seconds } from '../gate/format.js'
import type { ArmEvidence } from '../gate/signals.js'
import type { Judgement } from '../gate/verdict.js'
import { pack, paragraph, table, visible } from './table.js'

export interface Style {
  colour: boolean
  /** Columns the output may take (Infinity: as wide as its content). */
  width: number
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const

function paint (style: Style, colour: keyof typeof CODES, text: string): string {
  return style.colour ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text
}

const STATUS_COLOUR: Record<string, keyof typeof CODES> = {
  pass: 'green', marginal: 'yellow', fail: 'red', insufficient: 'yellow', unavailable: 'red', inconclusive: 'yellow',
}

function armText (arm: ArmEvidence | null): string {
  if (arm === null) return '-'
  if ('k' in arm) return `${pct(arm.rate)} (${arm.k}/${arm.n})`
  if ('pending' in arm) return `${arm.pending} pending, oldest ${seconds(arm.oldestAgeSeconds)}`
  if ('checks' in arm) return `${arm.total - arm.failed}/${arm.total} checks as expected`
  return `${arm.seconds.toFixed(3)}s${arm.n === undefined ? '' : ` (n=${arm.n})`}`
}

function boundText (arm: ArmEvidence | null): string {
  return arm !== null && 'lower' in arm ? `${pct(arm.lower)}-${pct(arm.upper)}` : '-'
}

/** Columns of the full table that a narrow one leaves out. */
const WIDE_ONLY = new Set(['BOUND', 'WEIGHT'])

export function renderJudgement (j: Judgement & { decisionId?: string }, style: Style): string {
  const rows = [['SIGNAL', 'CANARY', 'BASELINE', 'BOUND', 'THRESHOLD', 'STATUS', 'WEIGHT']]
  for (const s of j.signals) {
    rows.push([
      s.name + (s.required ? '' : ' (optional)'),
      armText(s.canary),
      armText(s.baseline),
      boundText(s.canary),
      s.threshold.text,
      paint(style, STATUS_COLOUR[s.status] ?? 'dim', s.status),
      String(s.weight),
    ])
  }
  const full = table(rows, Number.POSITIVE_INFINITY)
  const fits = full.every((l) => visible(l) <= style.width)
  const keep = (rows[0] as string[]).map((h) => fits || !WIDE_ONLY.has(h))
  const lines = [...(fits ? full : table(rows.map((r) => r.filter((_, i) => keep[i])), style.width)), '']
  const text = (line: string): string[] => paragraph(line, style.width, 2)
  if (j.triggers.length > 0) {
    lines.push('TRIGGERS')
    for (const t of j.triggers) {
      const mark = t.fired ? paint(style, 'red', 'FIRED') : t.evaluated ? paint(style, 'green', 'clear') : paint(style, 'yellow', 'not evaluated')
      lines.push(...text(`  ${t.name}: ${mark} - ${t.evidence}`))
    }
    lines.push('')
  }
  if (j.trafficSplit.status !== 'not_checked') {
    lines.push(...text(`TRAFFIC SPLIT ${j.trafficSplit.status === 'ok' ? paint(style, 'green', 'ok') : paint(style, 'red', 'mismatch')}: ${j.trafficSplit.reason}`), '')
  }
  const verdict = paint(style, STATUS_COLOUR[j.verdict] ?? 'bold', j.verdict.toUpperCase())
  const parts = [`VERDICT ${verdict}`, `score ${j.score}`, `stage ${j.stage}`, `window ${j.window.since} .. ${j.window.until}`, `data points ${j.dataPoints.min}/${j.dataPoints.required}`]
  if (j.decisionId !== undefined) parts.push(`decision ${j.decisionId}`)
  lines.push(...pack(parts, style.width))
  for (const r of j.reasons) lines.push(...text(`  - ${r}`))
  return lines.join('\n') + '\n'
}
