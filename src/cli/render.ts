/**
 * The human view of a judgement: one table a person reads at a glance, then the triggers and
 * a verdict line. Shared by `judge` (recorded observations) and `score` (a live service), so
 * both print the same thing. Colour only when writing to a terminal.
 */
import { pct, seconds } from '../gate/format.js'
import type { ArmEvidence } from '../gate/signals.js'
import type { Judgement } from '../gate/verdict.js'

export interface Style { colour: boolean }

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

/** Pads cells to column widths; widths ignore ANSI escapes so colour never breaks alignment. */
function table (rows: string[][]): string[] {
  const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => visible(r[i] ?? '')))) ?? []
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visible(cell)))).join('  ').trimEnd())
}

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
  const lines = [...table(rows), '']
  if (j.triggers.length > 0) {
    lines.push('TRIGGERS')
    for (const t of j.triggers) {
      const mark = t.fired ? paint(style, 'red', 'FIRED') : t.evaluated ? paint(style, 'green', 'clear') : paint(style, 'yellow', 'not evaluated')
      lines.push(`  ${t.name}: ${mark} - ${t.evidence}`)
    }
    lines.push('')
  }
  if (j.trafficSplit.status !== 'not_checked') {
    lines.push(`TRAFFIC SPLIT ${j.trafficSplit.status === 'ok' ? paint(style, 'green', 'ok') : paint(style, 'red', 'mismatch')}: ${j.trafficSplit.reason}`, '')
  }
  const verdict = paint(style, STATUS_COLOUR[j.verdict] ?? 'bold', j.verdict.toUpperCase())
  lines.push(`VERDICT ${verdict}  score ${j.score}  stage ${j.stage}  window ${j.window.since} .. ${j.window.until}  data points ${j.dataPoints.min}/${j.dataPoints.required}${j.decisionId === undefined ? '' : `  decision ${j.decisionId}`}`)
  for (const r of j.reasons) lines.push(`  - ${r}`)
  return lines.join('\n') + '\n'
}
