/**
 * The report pages as documents: everything a person needs is on them, nothing is loaded from
 * anywhere, text from records is escaped, and every chart has its lines.
 */
import t from 'tap'
import type { DecisionRecord } from '../../src/evidence/record.js'
import { renderChart, type Chart } from '../../src/report/chart.js'
import { decisionPage, type ChainStatus } from '../../src/report/decision-page.js'
import { rolloutPage } from '../../src/report/rollout-page.js'
import { triggerSpecs } from '../../src/report/series.js'
import { analysis, POLICY } from '../helpers/records.js'

const specs = triggerSpecs({ hash: POLICY.hash, stages: POLICY.policy.stages })
const linked: ChainStatus = { hashOk: true, previous: { state: 'genesis' }, next: { state: 'unknown', reason: 'no later decision record' } }

const signals = (deny: number): Record<string, any> => ({
  policy_deny_rate: { canary: { n: 400, k: deny }, baseline: { n: 3600, k: 20 } },
  job_failure_rate: { canary: { n: 300, k: 3 }, baseline: { n: 3000, k: 30 } },
  approval_backlog: { canary: { pending: 0, oldestAgeSeconds: 0 }, baseline: { pending: 2, oldestAgeSeconds: 60 } },
})

function looks (): DecisionRecord[] {
  return analysis([
    { until: '2026-11-26T10:00:00.000Z', signals: signals(2) },
    { until: '2026-11-26T10:05:00.000Z', signals: signals(60) },
    { until: '2026-11-26T10:10:00.000Z', signals: signals(70) },
  ])
}

/** Every URL the document would load or navigate to. */
function urls (doc: string): string[] {
  return [...doc.matchAll(/\b(?:href|src|action|xlink:href)="([^"]*)"/g)].map((m) => m[1] as string)
}

t.test('a failed decision\'s page: verdict, score and top reasons first; every signal charted; links; chain; policy', async (t) => {
  const all = looks()
  const record = all[1] as DecisionRecord
  const doc = decisionPage({ record, looks: all, earlier: false, later: false, chain: { ...linked, previous: { state: 'linked', seq: 1, id: all[0]?.id as string } }, policy: POLICY, specs, alpha: 0.05 })
  const h1 = doc.indexOf('<h1')
  t.ok(h1 > 0 && h1 < doc.indexOf('<h2'), 'the heading comes before every section')
  t.match(doc.slice(h1, doc.indexOf('</h1>')), /data-verdict="fail".*FAIL.*score 0.*canary-1.*shop\/support-agent/s, 'verdict, score, stage and rollout in the heading')
  t.ok(doc.indexOf('rollback trigger policy_deny_rate') < doc.indexOf('<h2>Signals'), 'the top reason before the signals')
  for (const s of record.judgement.signals) t.match(doc, new RegExp(`<section class="signal" data-signal="${s.name}"`), `a section for ${s.name}`)
  // Job failures are a comparative rule (issue 15): a rate chart and its ratio-to-baseline chart.
  t.equal((doc.match(/<svg class="chart"/g) ?? []).length, 5, 'deny, failures (rate and ratio to baseline), and the backlog\'s two charts')
  for (const line of ['data-line="canary"', 'data-line="baseline"', 'data-band="canary"', 'data-level="margin"', 'data-level="harm"', 'data-level="trigger:policy_deny_rate"', 'data-marker="fired:policy_deny_rate"']) t.ok(doc.includes(line), line)
  t.match(doc, /<table data-counts="policy_deny_rate">[\s\S]*?15\.0% \(60\/400; bound/, 'the counts behind the estimate')
  t.match(doc, /<a rel="prev" data-link="previous" href="\.\/01a00000-0000-7000-8000-000000000001">/, 'the previous look')
  t.match(doc, /<a rel="next" data-link="next" href="\.\/01a00000-0000-7000-8000-000000000003">/, 'the next look')
  t.match(doc, /data-link="json" href="\.\.\/api\/v1\/decisions\/01a00000-0000-7000-8000-000000000002"/, 'the JSON')
  t.match(doc, /data-link="rollout" href="\.\.\/rollouts\?tenant=default&amp;rollout=support-agent&amp;namespace=shop"/, 'the rollout page')
  t.match(doc, /data-chain="ok"/)
  t.match(doc, new RegExp(`sha256 <code>${POLICY.hash}</code> \\(the policy this gate runs now\\)`), 'the policy and its hash')
  t.match(doc, /data-trigger="policy_deny_rate" data-fired="true"/)
  t.notMatch(doc, /<script|<link rel="stylesheet"|@import|url\((?!#)/, 'no script, no stylesheet or font to fetch')
  t.same(urls(doc).filter((u) => /^[a-z]+:/i.test(u) && u !== 'data:,'), [], 'every link stays on the gate (relative)')
})

t.test('an undecided look says how long a decision will take; a broken link in the chain says so', async (t) => {
  const [r] = analysis([{ until: '2026-11-26T12:00:00.000Z', signals: { ...signals(0), policy_deny_rate: { canary: { n: 200, k: 2 }, baseline: { n: 3600, k: 20 } }, job_failure_rate: { canary: { n: 20, k: 0 }, baseline: { n: 3000, k: 30 } } } }])
  const record = r as DecisionRecord
  t.equal(record.verdict, 'inconclusive')
  const doc = decisionPage({ record, looks: [record], earlier: true, later: false, chain: { hashOk: false, previous: { state: 'broken', seq: 4, id: 'x' }, next: { state: 'unknown', reason: 'newest' } }, policy: { hash: 'f'.repeat(64), file: 'other.yaml' }, specs, alpha: 0.05 })
  t.match(doc, /data-to-decide>Time to a decision: about \d+ more canary events to decide \(pass\), about \d+h( \d+m)? at the canary(&#39;|')s rate so far/, 'how many events, and how long')
  t.match(doc, /data-chain="broken"/)
  t.match(doc, /ALTERED/)
  t.match(doc, /the gate now runs another policy: other\.yaml/)
  t.match(doc, /no earlier look shown/, 'says more looks exist than are shown')
})

t.test('text from records is escaped', async (t) => {
  const [r] = analysis([{ until: '2026-11-26T10:00:00.000Z', signals: signals(60) }])
  const record = r as DecisionRecord
  record.judgement.reasons.unshift('<img src=x onerror=alert(1)> & "quoted"')
  record.judgement.signals[0]?.notes.push('</table><script>alert(2)</script>')
  const doc = decisionPage({ record, looks: [record], earlier: false, later: false, chain: linked, policy: POLICY, specs })
  t.notMatch(doc, /<img src=x|<script>alert/)
  t.match(doc, /&lt;img src=x onerror=alert\(1\)&gt; &amp; &quot;quoted&quot;/)
})

t.test('a chart: one look, gaps, lines that differ in more than colour', async (t) => {
  const chart: Chart = {
    title: 'deny <rate>',
    unit: 'rate',
    times: [Date.parse('2026-11-26T10:00:00Z')],
    current: 0,
    series: [{ id: 'canary', label: 'canary', look: 'canary', points: [{ y: 0.05, lo: 0.02, hi: 0.09 }] }],
    levels: [{ id: 'harm', label: 'harm: fails over', kind: 'harm', values: [0.03] }],
    markers: [],
  }
  const svg = String(renderChart(chart, 'c1'))
  t.match(svg, /<title id="c1-t">deny &lt;rate&gt;<\/title>/, 'titled, escaped')
  t.match(svg, /<desc id="c1-d">deny &lt;rate&gt; over 1 look\(s\); at this look: canary 5\.0% \(bound 2\.0% to 9\.0%\); harm: fails over 3\.0%\.<\/desc>/, 'described in words')
  t.match(svg, /data-band="canary"/, 'a single look still shows its band')
  const gaps = String(renderChart({ ...chart, times: [1, 2, 3, 4].map((m) => m * 60_000), current: 3, series: [{ ...chart.series[0] as any, points: [{ y: 0.01 }, null, { y: 0.02 }, { y: 0.03 }] }], levels: [] }, 'c2'))
  t.equal((/data-line="canary" d="([^"]+)"/.exec(gaps)?.[1]?.match(/M/g) ?? []).length, 2, 'a look without a value breaks the line')
  for (const m of String(renderChart(chart, 'c3')).matchAll(/ (?:x|y|cx|cy|x1|x2|y1|y2)="(-?[\d.]+)"/g)) {
    const v = Number(m[1])
    if (!(v >= -10 && v <= 770)) t.fail(`coordinate ${v} outside the view box`)
  }
})

t.test('the rollout page lists every analysis with a link to each decision', async (t) => {
  const all = looks()
  const doc = rolloutPage({ subject: { tenant: 'default', namespace: 'shop', rollout: 'support-agent' }, records: [...all].reverse(), truncated: false })
  t.match(doc, /<h1>Rollout shop\/support-agent<\/h1>/)
  t.match(doc, /data-latest="canary-1"[\s\S]*FAIL/, 'the latest verdict per stage')
  t.equal((doc.match(/data-decision="/g) ?? []).length, 3, 'a link per decision')
  t.match(doc, /href="decisions\/01a00000-0000-7000-8000-000000000003"/)
  t.match(rolloutPage({ subject: { rollout: 'nothing' }, records: [], truncated: false }), /No decision record names this rollout/)
})
