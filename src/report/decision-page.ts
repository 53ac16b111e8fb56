/**
 * The page of one decision: what a person needs after a canary stopped, in the order they need
 * it. The verdict, score and top reasons first; then each signal over the looks of its analysis
 * (chart, the counts behind every number, how far an undecided rule is from deciding); the
 * triggers; the look itself (window, arms), traffic split, approval and actions; the policy, and
 * where the record sits in its tenant's hash chain. Links go to the previous and next look, the rollout, and the JSON.
 * Pure: records in, a document out.
 */
import { pct, seconds } from '../gate/format.js'
import type { DecisionRecord } from '../evidence/record.js'
import { isBacklogArm, isCheckArm, isQuantileArm } from '../gate/observations.js'
import type { SignalResult } from '../gate/signals.js'
import type { RateBound } from '../gate/stats.js'
import { formatValue, renderChart } from './chart.js'
import { badge, html, Html, page, span, when } from './html.js'
import { rateLevels, rateTriggerLevel, ruleOf, signalCharts, timeToDecide, type TriggerSpecs } from './series.js'

/** Where the record sits in its tenant's chain, as far as its neighbours show. */
export interface ChainStatus {
  /** The record's content hashes to its stored hash. */
  hashOk: boolean
  /** Record seq - 1: linked when its hash is this record's prevHash. */
  previous: { state: 'genesis' } | { state: 'linked' | 'broken', seq: number, id: string } | { state: 'unknown', reason: string }
  /** Record seq + 1: linked when its prevHash is this record's hash. */
  next: { state: 'linked' | 'broken', seq: number, id: string } | { state: 'unknown', reason: string }
}

export interface DecisionPageInput {
  record: DecisionRecord
  /** The looks of this analysis shown, oldest first; the record is one of them. */
  looks: DecisionRecord[]
  /** More looks exist before or after the ones shown. */
  earlier: boolean
  later: boolean
  chain: ChainStatus
  /** The gates policy the gate runs now. */
  policy: { hash: string, file: string }
  specs: TriggerSpecs
  /** The stage's alpha, when the record was judged under the policy the gate runs now. */
  alpha?: number
}

const TOP_REASONS = 3

/** How a window's start was chosen (service/window.ts), in words. */
const WINDOW_RULES: Record<string, string> = {
  analysis: 'kept from the first look of this analysis',
  canary: "the canary's first event",
  request: 'given by the request',
  default: 'the default lifetime',
}

/** Links are relative, so the pages work behind a proxy that serves the gate under a path prefix. */
export const links = {
  decision: (id: string): string => `./${encodeURIComponent(id)}`,
  json: (id: string): string => `../api/v1/decisions/${encodeURIComponent(id)}`,
  rollout: (r: { tenant: string, namespace?: string, rollout?: string, canary: string }, from: 'decision' | 'rollout' = 'decision'): string => {
    const q = new URLSearchParams({ tenant: r.tenant })
    if (r.rollout !== undefined) {
      q.set('rollout', r.rollout)
      if (r.namespace !== undefined) q.set('namespace', r.namespace)
    } else {
      q.set('canary', r.canary)
    }
    return `${from === 'decision' ? '../' : './'}rollouts?${q.toString()}`
  },
  verify: (tenant: string): string => `../api/v1/decisions/verify?tenant=${encodeURIComponent(tenant)}`,
}

function rateCell (a: RateBound | null | undefined): string {
  if (a === null || a === undefined || !('rate' in a)) return '-'
  return a.n === 0 ? '0 events' : `${pct(a.rate)} (${a.k}/${a.n}; bound ${pct(a.lower)} to ${pct(a.upper)})`
}

function armText (s: SignalResult, arm: 'canary' | 'baseline'): string {
  const a = s[arm]
  if (a === null) return '-'
  if ('rate' in a) return rateCell(a)
  if (isBacklogArm(a)) return `${a.pending} pending, oldest ${seconds(a.oldestAgeSeconds)}`
  if (isQuantileArm(a)) return `${a.seconds.toFixed(3)}s${a.n === undefined ? '' : ` over ${a.n} requests`}`
  if (isCheckArm(a)) return `${a.failed} of ${a.total} checks failed`
  return '-'
}

function heading (r: DecisionRecord): Html {
  const j = r.judgement
  const where = r.rollout === undefined ? `canary ${r.canary}` : `${r.namespace === undefined ? '' : `${r.namespace}/`}${r.rollout}`
  return html`<h1 data-verdict="${j.verdict}">${badge(j.verdict)} <span class="score" data-score="${j.score}">score ${j.score}</span> <span>${j.stage}</span> <span class="muted">${where}</span></h1>
<p class="summary">${j.summary}</p>`
}

function facts (r: DecisionRecord, i: number, n: number, earlier: boolean): Html {
  const q = r.request
  const row = (k: string, v: Html | string | undefined): Html | string => (v === undefined ? '' : html`<dt>${k}</dt><dd>${v}</dd>`)
  return html`<dl class="facts">
${row('decided', when(r.time))}
${row('rollout', r.rollout === undefined ? 'not named in the request' : `${r.namespace === undefined ? '' : `${r.namespace}/`}${r.rollout}`)}
${row('revision', r.revision)}
${row('stage', r.stage)}
${row('canary', html`<code>${r.canary}</code>`)}
${row('baseline', r.baseline === undefined ? 'none (ratio rules use their floors)' : html`<code>${r.baseline}</code>`)}
${row('tenant', r.tenant)}
${row('window', `${when(q.since)} to ${when(q.until)} (${span(Date.parse(q.until) - Date.parse(q.since))}; start ${WINDOW_RULES[q.windowRule] ?? 'the default lifetime'})`)}
${row('look', `${i + 1} of ${n}${earlier ? '+' : ''} shown for this analysis (same rollout, revision and stage)`)}
</dl>`
}

function nav (input: DecisionPageInput, i: number): Html {
  const { record, looks } = input
  const prev = looks[i - 1]
  const next = looks[i + 1]
  return html`<nav class="looks" aria-label="looks of this analysis">
${prev === undefined ? html`<span>← no earlier look${input.earlier ? ' shown' : ''}</span>` : html`<a rel="prev" data-link="previous" href="${links.decision(prev.id)}">← previous look (to ${when(prev.request.until)}, ${prev.verdict})</a>`}
${next === undefined ? html`<span>no later look${input.later ? ' shown' : ''} →</span>` : html`<a rel="next" data-link="next" href="${links.decision(next.id)}">next look (to ${when(next.request.until)}, ${next.verdict}) →</a>`}
<a data-link="rollout" href="${links.rollout(record)}">all decisions of this rollout</a>
<a data-link="json" href="${links.json(record.id)}">this record as JSON</a>
</nav>`
}

function reasons (r: DecisionRecord): Html {
  const j = r.judgement
  const top = j.reasons.slice(0, TOP_REASONS)
  const rest = j.reasons.slice(TOP_REASONS)
  return html`<h2>Why</h2>
<ol class="reasons" data-reasons>${top.map((x) => html`<li>${x}</li>`)}</ol>
${rest.length === 0 ? '' : html`<details><summary>${rest.length} more reason${rest.length === 1 ? '' : 's'}</summary><ol start="${TOP_REASONS + 1}">${rest.map((x) => html`<li>${x}</li>`)}</ol></details>`}
<p class="muted">reason codes: ${j.reasonCodes.map((c, k) => html`${k === 0 ? '' : ', '}<code>${c}</code>`)}; ${j.dataPoints.required} events needed per required signal, ${j.dataPoints.min} in the thinnest</p>`
}

/** The counts behind a signal at every look shown. */
function countsTable (name: string, input: DecisionPageInput, i: number): Html {
  const rows = input.looks.map((r, k) => {
    const s = r.judgement.signals.find((x) => x.name === name)
    if (s === undefined) return html`<tr${k === i ? new Html(' class="current"') : ''}><td>${when(r.request.until)}</td><td colspan="5" class="muted">not judged at this look</td></tr>`
    const levels = s.kind === 'rate' ? rateLevels(s) : undefined
    const unit = s.kind === 'rate' ? 'rate' : 'count'
    return html`<tr${k === i ? new Html(' class="current"') : ''}><td>${when(r.request.until)}${k === i ? ' (this look)' : ''}</td><td>${badge(s.status)}</td><td>${armText(s, 'canary')}</td><td>${armText(s, 'baseline')}</td><td class="num">${levels === undefined ? '-' : formatValue(unit, levels.margin)}</td><td class="num">${levels === undefined ? s.threshold.text : formatValue(unit, levels.harm)}</td></tr>`
  })
  return html`<table data-counts="${name}"><thead><tr><th>look (window end)</th><th>status</th><th>canary</th><th>baseline</th><th class="num">margin</th><th class="num">harm / limit</th></tr></thead><tbody>${rows}</tbody></table>`
}

function signalSection (s: SignalResult, input: DecisionPageInput, i: number, index: number): Html {
  const charts = signalCharts(s.name, input.looks, i, input.specs)
  const rule = ruleOf(s)
  const toDecide = s.status === 'pass' || s.status === 'fail' ? undefined : timeToDecide(s, input.record, input.alpha)
  const decideText = toDecide === undefined
    ? undefined
    : !Number.isFinite(toDecide.events)
        ? `at the canary's current rate its bound would not clear ${toDecide.side === 'pass' ? 'the margin' : 'the harm level'} within a hundred million more events`
        : `about ${toDecide.events} more canary events to decide (${toDecide.side})${Number.isFinite(toDecide.minutes) ? `, about ${span(toDecide.minutes * 60_000)} at the canary's rate so far` : ''}${rule === undefined ? ', if its rate stays where it is' : ''}`
  const checks = s.canary !== null && isCheckArm(s.canary) ? s.canary : undefined
  return html`<section class="signal" data-signal="${s.name}">
<h3>${s.name} ${badge(s.status)} <span class="muted">weight ${s.weight}, ${s.required ? 'required' : 'optional'}, ${s.source}; threshold ${s.threshold.text}</span></h3>
<p>${s.reason}</p>
${decideText === undefined ? '' : html`<p class="note" data-to-decide>Time to a decision: ${decideText}.</p>`}
${rule === undefined ? '' : html`<p class="muted">rule on the ${rule.scale} scale: estimate ${formatValue(rule.scale, rule.estimate)}, bound ${formatValue(rule.scale, rule.lower)} to ${formatValue(rule.scale, rule.upper)}, margin ${formatValue(rule.scale, rule.margin)}, harm ${formatValue(rule.scale, rule.harm)}${rule.evidence === undefined ? '' : `; evidence toward pass ${Math.round(rule.evidence.pass * 100)}%, toward harm ${Math.round(rule.evidence.harm * 100)}%`}</p>`}
${charts.map((c, k) => renderChart(c, `s${index}c${k}`))}
${countsTable(s.name, input, i)}
${checks === undefined ? '' : html`<table><thead><tr><th>check</th><th>outcome</th><th>expected</th><th>actual</th><th>detail</th></tr></thead><tbody>${checks.checks.map((c) => html`<tr><td>${c.name}</td><td>${badge(c.ok ? 'pass' : 'fail', c.ok ? 'as expected' : 'unexpected')}</td><td>${c.expected}</td><td>${c.actual}</td><td>${c.detail ?? ''}</td></tr>`)}</tbody></table>`}
${s.notes.map((n) => html`<p class="note">${n}</p>`)}
</section>`
}

function triggersTable (input: DecisionPageInput): Html {
  const r = input.record
  const specs = input.specs(r)
  if (r.judgement.triggers.length === 0) return html`<h2>Rollback triggers</h2><p>This stage has no rollback triggers.</p>`
  const rows = r.judgement.triggers.map((t) => {
    const s = r.judgement.signals.find((x) => x.name === t.signal)
    const level = rateTriggerLevel(t, specs?.find((x) => x.name === t.name), s)
    const state = !t.evaluated ? badge('unavailable', 'not evaluated') : t.fired ? badge('fail', 'FIRED') : badge('pass', 'quiet')
    return html`<tr data-trigger="${t.name}" data-fired="${String(t.fired)}"><td>${t.name}</td><td>${t.signal}</td><td>${state}</td><td class="num">${level === undefined ? '-' : pct(level)}</td><td>${t.evidence}</td></tr>`
  })
  return html`<h2>Rollback triggers</h2>
<p class="muted">A trigger that fires makes the verdict fail with score 0, whatever the score. Its level is the harm level of its own rule, apart from the scored signal's threshold.</p>
<table><thead><tr><th>trigger</th><th>signal</th><th>state</th><th class="num">level</th><th>evidence</th></tr></thead><tbody>${rows}</tbody></table>`
}

function others (r: DecisionRecord): Html {
  const j = r.judgement
  const split = j.trafficSplit
  const rollback = r.actions?.rollback
  const approval = r.actions?.approval
  return html`<h3>Traffic split, approval and actions</h3>
<dl class="facts">
<dt>traffic split</dt><dd>${badge(split.status === 'mismatch' ? 'fail' : split.status === 'ok' ? 'pass' : 'insufficient', split.status.replace('_', ' '))} ${split.reason}</dd>
${j.approval === undefined ? '' : html`<dt>approval</dt><dd>${j.approval.status}${j.approval.ref === undefined ? '' : `, ref ${j.approval.ref}`}${j.approval.jobId === undefined ? '' : `, job ${j.approval.jobId}`}${j.approval.reason === undefined ? '' : `: ${j.approval.reason}`}</dd>`}
${approval === undefined ? '' : html`<dt>approval asked</dt><dd>${approval.status}: ${approval.reason}</dd>`}
${rollback === undefined ? '' : html`<dt>rollback</dt><dd>${rollback.status}${rollback.dryRun ? ' (dry run)' : ''}${rollback.runId === undefined ? '' : `, run ${rollback.runId}`}: ${rollback.reason}</dd>`}
${approval === undefined && rollback === undefined ? html`<dt>actions</dt><dd>none: the gate did nothing in Cordum for this decision</dd>` : ''}
</dl>`
}

function provenance (input: DecisionPageInput): Html {
  const r = input.record
  const c = input.chain
  const prev = c.previous.state === 'genesis'
    ? badge('pass', 'first record')
    : c.previous.state === 'unknown'
      ? html`<span class="muted">${c.previous.reason}</span>`
      : html`${badge(c.previous.state === 'linked' ? 'pass' : 'fail', c.previous.state === 'linked' ? 'linked' : 'BROKEN')} record ${c.previous.seq} (<code>${c.previous.id}</code>)${c.previous.state === 'linked' ? ' hashes to this record\'s prevHash' : ' does not hash to this record\'s prevHash'}`
  const next = c.next.state === 'unknown'
    ? html`<span class="muted">${c.next.reason}</span>`
    : html`${badge(c.next.state === 'linked' ? 'pass' : 'fail', c.next.state === 'linked' ? 'linked' : 'BROKEN')} record ${c.next.seq} (<code>${c.next.id}</code>)${c.next.state === 'linked' ? ' names this record\'s hash as its prevHash' : ' does not name this record\'s hash'}`
  const same = r.policy.sha256 === input.policy.hash
  const sources = Object.entries(r.sources).map(([k, v]) => `${k} ${v.version}${v.commit === undefined ? '' : ` (${v.commit})`}`).join(', ')
  return html`<h2>Policy and evidence</h2>
<dl class="facts" data-chain="${c.hashOk && c.previous.state !== 'broken' && c.next.state !== 'broken' ? 'ok' : 'broken'}">
<dt>gates policy</dt><dd>${r.policy.file}, sha256 <code>${r.policy.sha256}</code> ${same ? '(the policy this gate runs now)' : html`<strong>(the gate now runs another policy: ${input.policy.file}, sha256 <code>${input.policy.hash.slice(0, 12)}</code>)</strong>`}</dd>
<dt>record</dt><dd>seq ${r.seq} of tenant ${r.tenant}'s chain, id <code>${r.id}</code></dd>
<dt>hash</dt><dd>${badge(c.hashOk ? 'pass' : 'fail', c.hashOk ? 'verified' : 'ALTERED')} <code>${r.hash}</code> ${c.hashOk ? 'is the sha256 of the record\'s content' : 'is not the sha256 of the record\'s content: it was changed after it was written'}</dd>
<dt>previous in chain</dt><dd>${prev}</dd>
<dt>next in chain</dt><dd>${next}</dd>
<dt>whole chain</dt><dd><a data-link="verify" href="${links.verify(r.tenant)}">verify tenant ${r.tenant}'s chain (JSON)</a></dd>
<dt>sources</dt><dd>${sources === '' ? 'none recorded' : sources}; gate ${r.gate.version}</dd>
</dl>`
}

export function decisionPage (input: DecisionPageInput): string {
  const r = input.record
  const i = input.looks.findIndex((x) => x.id === r.id)
  if (i < 0) throw new Error('the record must be one of its looks')
  const body = html`${heading(r)}
${nav(input, i)}
${reasons(r)}
<h2>Signals</h2>
<p class="muted">Each signal over the looks of this analysis: the canary's estimate with its anytime-valid bound (hatched band), the baseline (dashed), and the levels its rule decides against. The rule fails when the canary's lower bound is over its harm level and passes when its upper bound is under its margin.</p>
${r.judgement.signals.map((s, k) => signalSection(s, input, i, k))}
${triggersTable(input)}
<h2>This look</h2>
${facts(r, i, input.looks.length, input.earlier)}
${others(r)}
${provenance(input)}
<footer>agent-canary-gate ${r.gate.version} · decision ${r.id} · <a href="${links.json(r.id)}">JSON</a></footer>`
  return page(`${r.judgement.verdict.toUpperCase()} ${r.stage} ${r.rollout ?? r.canary}: decision ${r.id}`, body)
}
