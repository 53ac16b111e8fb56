/**
 * The decision pages in a real browser (Debian's Chromium), as a person meets them. Each demo
 * scenario (README "Try the demo scenarios") runs as a named rollout looked at four times, five
 * minutes apart; the page of its last look must show its verdict, every signal's chart with its
 * lines, and links that work when followed; the rollout page too. Nothing may break (console)
 * and nothing may be fetched from anywhere but the gate. Screenshots go to
 * test/browser/screenshots/, the page of a failed decision also as print preview and PDF.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { BASELINE_AGENT, SCENARIOS } from '../../src/sandbox/scenarios.js'
import { browserFor, SCREENSHOTS, watch, type Watched } from '../helpers/browser.js'
import { gateFor, getJson, scoreUrl } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

const LOOKS = 4

// Runs in the page (the project's TypeScript has no DOM library).
declare const getComputedStyle: (e: unknown) => { display: string, visibility: string, strokeDasharray: string }

/** Checks what a page did: nothing broke, nothing left the gate. */
function clean (t: Test, what: string, w: Watched, origin: string): void {
  t.same(w.errors, [], `${what}: no console error, no failed request`)
  t.same(w.requests.filter((u) => new URL(u).origin !== origin), [], `${what}: every request went to the gate`)
}

/** Elements matching `selector` that are drawn: displayed, and inside a box of some size (a level line is flat, a lone look a dot). */
async function visible (page: Page, selector: string): Promise<number> {
  return await page.locator(selector).evaluateAll((els) => els.filter((e) => {
    const box = (e.closest('svg') ?? e).getBoundingClientRect()
    const style = getComputedStyle(e)
    return box.width > 0 && box.height > 0 && style.display !== 'none' && style.visibility !== 'hidden'
  }).length)
}

// Chromium and (for the dashboard) Prometheus on a machine shared by the whole suite: time to spare.
t.setTimeout(300_000)

t.test('each demo scenario\'s decision page, its links and its rollout page, in Chromium', async (t) => {
  const context = await browserFor(t)
  if (context === undefined) return
  let now = T0
  const sandbox = await sandboxFor(t, { now: () => now })
  const { url } = await gateFor(t, sandbox, { now: () => now })
  const origin = new URL(url).origin

  // Argo's looks: the same analysis asked every 5 minutes.
  const scenarios = SCENARIOS.flatMap((s) => s.expect.map((e) => ({ ...e, canary: s.agentId, rollout: s.agentId.replace('support-agent-', 'agent-') })))
  const last = new Map<string, { reportUrl: string, decisionId: string }>()
  for (let i = 0; i < LOOKS; i++) {
    for (const s of scenarios) {
      const answer = await getJson(scoreUrl(url, { stage: s.stage, canary: s.canary, baseline: BASELINE_AGENT, namespace: 'demo', rollout: s.rollout, revision: '1' }))
      t.equal(answer.status, 200)
      last.set(`${s.rollout} ${s.stage}`, answer.body)
    }
    now += 5 * 60_000
  }

  for (const s of scenarios) {
    const answer = last.get(`${s.rollout} ${s.stage}`) as { reportUrl: string, decisionId: string }
    const record = (await getJson(`${url}/api/v1/decisions/${answer.decisionId}`)).body
    t.equal(record.verdict, s.verdict, `${s.canary} at ${s.stage}: ${s.verdict} after ${LOOKS} looks`)
    const page = await context.newPage()
    const w = watch(page)
    const res = await page.goto(answer.reportUrl)
    t.equal(res?.status(), 200, `${s.rollout} ${s.stage}: the reportUrl opens`)

    // What a person sees first: the verdict in words, the score, the reason.
    const h1 = await page.locator('h1').innerText()
    t.match(h1, new RegExp(`${s.verdict.toUpperCase()}[\\s\\S]*score ${String(record.score)}[\\s\\S]*${s.stage}[\\s\\S]*demo/${s.rollout}`), `heading: ${h1.replace(/\s+/g, ' ')}`)
    t.match(await page.locator('ol[data-reasons] li').first().innerText(), record.judgement.reasons[0], 'the top reason, first')

    // Every signal: a visible chart; rate signals with the canary, its band, the baseline, margin and harm.
    for (const signal of record.judgement.signals) {
      const section = `section[data-signal="${signal.name as string}"]`
      t.ok(await visible(page, `${section} svg.chart`) >= 1, `${signal.name as string}: a chart is drawn`)
      if (signal.kind === 'rate' && signal.canary?.n > 0) {
        for (const line of ['path[data-line="canary"]', 'polygon[data-band="canary"]', 'polyline[data-level="margin"]', 'polyline[data-level="harm"]']) {
          t.ok(await visible(page, `${section} ${line}`) >= 1, `${signal.name as string}: ${line}`)
        }
        if (signal.baseline?.n > 0) t.ok(await visible(page, `${section} path[data-line="baseline"]`) >= 1, `${signal.name as string}: baseline`)
        // Told apart without colour: no two kinds of line share a dash pattern.
        const dashes = await page.locator(`${section} svg.chart`).first().evaluate((svg) => [...svg.querySelectorAll('[data-line],[data-level]')].map((e) => `${(e.getAttribute('data-line') ?? e.getAttribute('data-level') ?? '').split(':')[0] as string}=${getComputedStyle(e).strokeDasharray}`))
        const byKind = new Map(dashes.map((d) => d.split('=') as [string, string]))
        t.equal(new Set(byKind.values()).size, byKind.size, `${signal.name as string}: each kind of line has its own dash (${[...byKind].join(', ')})`)
      }
    }
    for (const trigger of record.judgement.triggers.filter((x: { fired: boolean }) => x.fired)) {
      t.ok(await visible(page, `section[data-signal="${trigger.signal as string}"] line[data-marker="fired:${trigger.name as string}"]`) >= 1, `the moment ${trigger.name as string} fired is marked`)
      t.ok(await visible(page, `tr[data-trigger="${trigger.name as string}"][data-fired="true"]`) === 1, `and the trigger table says FIRED for ${trigger.name as string}`)
    }
    if (s.verdict === 'inconclusive') t.match(await page.locator('[data-to-decide]').first().innerText(), /Time to a decision: about \d+ more canary events/, 'how far from a decision')
    t.match(await page.locator('[data-chain]').getAttribute('data-chain'), 'ok', 'the chain around the record verifies')
    await page.screenshot({ path: join(SCREENSHOTS, `decision-${s.rollout}-${s.stage}.png`), fullPage: true })
    // The top of a failed decision's page, for the README: verdict, reasons, the first chart.
    if (s.rollout === 'agent-deny-spike') await page.screenshot({ path: join(SCREENSHOTS, 'decision-failed.png'), fullPage: true, clip: { x: 0, y: 0, width: 1100, height: 1180 } })

    // Links, followed as a person clicks them.
    await page.click('a[data-link="previous"]')
    t.match(await page.locator('dl.facts').first().innerText(), new RegExp(`look\\s+${LOOKS - 1} of ${LOOKS} shown`), 'previous look')
    await page.click('a[data-link="next"]')
    t.equal(page.url(), answer.reportUrl, 'and next, back to where it started')
    const json = await page.request.get(new URL(await page.getAttribute('a[data-link="json"]', 'href') as string, page.url()).href)
    t.equal((await json.json()).id, answer.decisionId, 'the JSON link is the record')
    await page.click('a[data-link="rollout"]')
    t.match(await page.locator('h1').innerText(), `Rollout demo/${s.rollout}`, 'the rollout page')
    t.equal(await page.locator('a[data-decision]').count(), LOOKS * scenarios.filter((x) => x.rollout === s.rollout).length, 'with every look of every stage')
    if (s.rollout === 'agent-deny-spike') await page.screenshot({ path: join(SCREENSHOTS, 'rollout-agent-deny-spike.png'), fullPage: true })
    await page.click(`a[data-decision="${answer.decisionId}"]`)
    t.equal(page.url(), answer.reportUrl, 'whose links lead back to the decision')
    clean(t, `${s.rollout} ${s.stage}`, w, origin)
    await page.close()
  }

  // The failed decision as printed: navigation hidden, charts kept, a PDF of a few pages.
  const failed = last.get('agent-deny-spike canary-1') as { reportUrl: string }
  const page = await context.newPage()
  const w = watch(page)
  await page.goto(failed.reportUrl)
  await page.emulateMedia({ media: 'print' })
  t.equal(await visible(page, 'nav.looks'), 0, 'print: the navigation is left out')
  t.ok(await visible(page, 'svg.chart') >= 4, 'print: the charts stay')
  await page.screenshot({ path: join(SCREENSHOTS, 'decision-agent-deny-spike-print.png'), fullPage: true })
  const pdf = await page.pdf({ format: 'A4', printBackground: false })
  writeFileSync(join(SCREENSHOTS, 'decision-agent-deny-spike.pdf'), pdf)
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length
  t.ok(pages >= 2 && pages <= 8, `the PDF has ${pages} pages`)
  clean(t, 'print preview', w, origin)
})
