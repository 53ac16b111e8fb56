/**
 * The page of a rollout: its decisions across revisions and stages, newest first, each analysis
 * (revision and stage) as a table of its looks with a link to every decision's page. Pure.
 */
import type { DecisionRecord } from '../evidence/record.js'
import { badge, html, page, when } from './html.js'

export interface RolloutPageInput {
  /** What was asked for: a named rollout, or a canary when requests named no rollout. */
  subject: { tenant?: string, namespace?: string, rollout?: string, canary?: string }
  /** Its records, newest first. */
  records: DecisionRecord[]
  /** More, older records exist than those listed. */
  truncated: boolean
}

interface Analysis { revision: string, stage: string, canary: string, looks: DecisionRecord[] }

function analyses (records: DecisionRecord[]): Analysis[] {
  const byKey = new Map<string, Analysis>()
  for (const r of records) {
    const key = JSON.stringify([r.revision ?? '', r.stage, r.canary])
    let a = byKey.get(key)
    if (a === undefined) {
      a = { revision: r.revision ?? '', stage: r.stage, canary: r.canary, looks: [] }
      byKey.set(key, a)
    }
    a.looks.push(r)
  }
  // Records come newest first, so analyses come in the order of their latest look.
  return [...byKey.values()]
}

export function rolloutPage (input: RolloutPageInput): string {
  const { subject, records } = input
  const name = subject.rollout === undefined ? `canary ${subject.canary ?? ''}` : `${subject.namespace === undefined || subject.namespace === '' ? '' : `${subject.namespace}/`}${subject.rollout}`
  const list = analyses(records)
  const latest = new Map<string, DecisionRecord>()
  for (const r of records) if (!latest.has(r.stage)) latest.set(r.stage, r)
  const body = html`<h1>Rollout ${name}</h1>
<p class="summary">${records.length} decision${records.length === 1 ? '' : 's'}${input.truncated ? ' (the newest; older ones are in the JSON API)' : ''}${subject.tenant === undefined ? '' : ` of tenant ${subject.tenant}`}, in ${list.length} analys${list.length === 1 ? 'is' : 'es'}.</p>
${records.length === 0 ? html`<p class="note">No decision record names this rollout${subject.tenant === undefined ? '' : ' in this tenant'} (or the records were pruned, or your key may not read its tenant).</p>` : ''}
${latest.size === 0
? ''
: html`<h2>Latest per stage</h2>
<table><thead><tr><th>stage</th><th>verdict</th><th class="num">score</th><th>decided</th><th>summary</th></tr></thead><tbody>
${[...latest.values()].map((r) => html`<tr data-latest="${r.stage}"><td>${r.stage}</td><td>${badge(r.verdict)}</td><td class="num">${r.score}</td><td><a href="decisions/${encodeURIComponent(r.id)}">${when(r.time)}</a></td><td>${r.judgement.summary}</td></tr>`)}
</tbody></table>`}
${list.map((a) => html`<h2 data-analysis="${a.stage}">${a.stage}${a.revision === '' ? '' : `, revision ${a.revision}`} <span class="muted">canary <code>${a.canary}</code>, ${a.looks.length} look${a.looks.length === 1 ? '' : 's'}</span></h2>
<table><thead><tr><th>decided</th><th>verdict</th><th class="num">score</th><th>reason codes</th><th>why</th></tr></thead><tbody>
${a.looks.map((r) => html`<tr><td><a data-decision="${r.id}" href="decisions/${encodeURIComponent(r.id)}">${when(r.time)}</a></td><td>${badge(r.verdict)}</td><td class="num">${r.score}</td><td>${r.judgement.reasonCodes.join(', ')}</td><td>${r.judgement.reasons[0] ?? ''}</td></tr>`)}
</tbody></table>`)}
<footer>agent-canary-gate · every decision of this list is also at <code>api/v1/decisions</code> (JSON), filtered by rollout</footer>`
  return page(`Rollout ${name}`, body)
}
