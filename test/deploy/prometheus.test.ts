/**
 * End to end with a real Prometheus (Debian's package) on loopback, scraping the gate started
 * as `serve` in demo mode, with the PrometheusRule's groups loaded:
 *   A. before any score request, AgentCanaryNoEvaluations' expression fires (Argo's analysis
 *      metric is served by a small stand-in for the Argo Rollouts controller's /metrics);
 *   B. after score requests for every scenario, it no longer does, and neither do the alerts
 *      about Cordum and failing decisions;
 *   C. with the demo sandbox answering 503, the Cordum and failing-decision alerts fire.
 * Then every query of both dashboards (variables at "All"), every variable's label_values and
 * every recording rule return data from Prometheus's HTTP API, so no misspelt metric or label
 * survives, and a rollout panel's data link, filled from a real point, opens the decision. `promtool check metrics` lints the live /metrics.
 * Rule groups are evaluated every second here (30 s in deploy/); their expressions are unchanged.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { stringify } from 'yaml'
import { SANDBOX_ADMIN_KEY } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT, SCENARIOS } from '../../src/sandbox/scenarios.js'
import { filterVariables, linkUrl, queryPanels, readDashboards, ruleGroups, substitute, type Dashboard, type Rule } from '../helpers/dashboard.js'
import { hasCommand, needTool } from '../helpers/tools.js'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
const PROMETHEUS = '/usr/bin/prometheus'

interface Proc { child: ChildProcess, lines: string[] }

function start (command: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let buffer = ''
  const collect = (d: Buffer): void => {
    buffer += String(d)
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  return { child, lines }
}

async function stop (p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  const exited = new Promise((resolve) => p.child.once('exit', resolve))
  p.child.kill('SIGTERM')
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))])
  if (p.child.exitCode === null) p.child.kill('SIGKILL')
}

async function waitFor<T> (what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms
  let last: unknown
  while (Date.now() < until) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
}

async function freePort (): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function getJson (url: string, init: { method?: 'GET' | 'POST', body?: unknown, headers?: Record<string, string> } = {}): Promise<{ status: number, body: any }> {
  const res = await request(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) })
  const text = await res.body.text()
  return { status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) : text }
}

/** The Argo Rollouts controller's AnalysisRun metric for one running web-provider metric (names and labels as in its controller/metrics). */
const ARGO_METRICS = `# HELP analysis_run_metric_phase Information on the duration of a specific metric in the Analysis Run
# TYPE analysis_run_metric_phase gauge
${['Pending', 'Error', 'Failed', 'Successful', 'Running', 'Inconclusive'].map((phase) => `analysis_run_metric_phase{dry_run="false",metric="agent-canary-gate",name="checkout-6d4f9c-2-1",namespace="shop",phase="${phase}",type="Web"} ${phase === 'Running' ? 1 : 0}`).join('\n')}
`

t.test('a real Prometheus scraping the gate: every dashboard query and rule returns data, alerts fire when they should', async (t) => {
  if (!needTool(t, 'prometheus', hasCommand(PROMETHEUS, ['--version']) && hasCommand('promtool'), 'Debian package prometheus (/usr/bin/prometheus, promtool)')) return
  const dir = mkdtempSync(join(tmpdir(), 'agent-canary-prometheus-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  // The gate, as `serve` runs it, in demo mode.
  const gate = start(process.execPath, ['--import', 'tsx', CLI, 'serve'], { PORT: '0', HOST: '127.0.0.1', CORDUM_URL: '', LOG_LEVEL: 'info' })
  t.teardown(async () => await stop(gate))
  const gateUrl = await waitFor('the gate to listen', async () => gate.lines.map((l) => /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(l)?.[1]).find((u) => u !== undefined))
  const sandboxUrl = (JSON.parse(gate.lines[0] as string) as { sandbox: string }).sandbox
  t.match(sandboxUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'demo mode: the first line names the sandbox')

  // A stand-in for the Argo Rollouts controller's /metrics.
  const argo: Server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(ARGO_METRICS) })
  await new Promise<void>((resolve) => argo.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { argo.close() })
  const argoTarget = `127.0.0.1:${(argo.address() as { port: number }).port}`

  // Prometheus, with the PrometheusRule's groups.
  const groups = ruleGroups().map((g) => ({ ...g, interval: '1s' }))
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }))
  writeFileSync(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    rule_files: [join(dir, 'rules.yaml')],
    scrape_configs: [
      { job_name: 'agent-canary-gate', static_configs: [{ targets: [new URL(gateUrl).host] }] },
      { job_name: 'argo-rollouts-metrics', static_configs: [{ targets: [argoTarget] }] },
    ],
  }))
  const port = await freePort()
  const prom = start(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'])
  t.teardown(async () => await stop(prom))
  const api = `http://127.0.0.1:${port}`
  t.teardown(() => { if (t.passing() === false) t.comment(`prometheus said:\n${prom.lines.slice(-20).join('\n')}`) })
  await waitFor('Prometheus to be ready', async () => (await request(`${api}/-/ready`).then(async (r) => { await r.body.dump(); return r.statusCode })) === 200 ? true : undefined)

  const query = async (expr: string): Promise<{ metric: Record<string, string>, value: [number, string] }[]> => {
    const r = await getJson(`${api}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`)
    if (r.body?.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${JSON.stringify(r.body)}`)
    return r.body.data.result
  }
  const fires = async (expr: string): Promise<boolean> => (await query(expr)).length > 0
  const alert = (name: string): Rule => ruleGroups().flatMap((g) => g.rules).find((r) => r.alert === name) as Rule
  const score = async (q: Record<string, string>): Promise<number> => (await getJson(`${gateUrl}/api/v1/score?${new URLSearchParams(q).toString()}`)).status

  await waitFor('three scrapes of each target', async () => (await query('count_over_time(up[1m]) >= 3')).length === 2 ? true : undefined)
  t.equal((await query('up == 1')).length, 2, 'both targets are up')

  // A. Argo is analysing, nobody has asked the gate yet.
  const noEvaluations = alert('AgentCanaryNoEvaluations').expr
  t.ok(await waitFor('AgentCanaryNoEvaluations to fire', async () => (await fires(noEvaluations)) ? true : undefined), 'A: a web analysis runs and no score request came: AgentCanaryNoEvaluations fires')

  // B. Argo asks about every scenario (some as named rollouts), identical requests at once.
  for (const [i, s] of SCENARIOS.entries()) {
    for (const e of s.expect) {
      const q: Record<string, string> = { stage: e.stage, canary: s.agentId, baseline: BASELINE_AGENT }
      if (i % 2 === 0) Object.assign(q, { rollout: s.agentId.replace('support-agent-', 'support-'), namespace: 'shop' })
      t.equal(await score(q), 200, `${s.agentId} at ${e.stage}: scored`)
    }
  }
  const same = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT, since: '2h' }
  t.same(await Promise.all([score(same), score(same), score(same)]), [200, 200, 200], 'three identical requests at once (one fetch)')
  t.equal(await score(same), 200, 'and one more (from the cache)')
  t.equal((await getJson(`${gateUrl}/readyz`)).status, 200)
  await waitFor('score requests to reach Prometheus', async () => (await fires('sum(rate(agentcanary_http_requests_total{route="/api/v1/score"}[15m])) > 0')) ? true : undefined)
  t.ok(await waitFor('AgentCanaryNoEvaluations to clear', async () => (await fires(noEvaluations)) ? undefined : true), 'B: score requests arrive: AgentCanaryNoEvaluations clears')
  t.notOk(await fires(alert('AgentCanaryGateCannotReachSource').expr), 'B: Cordum answers: AgentCanaryGateCannotReachSource does not fire')
  t.notOk(await fires(alert('AgentCanaryDecisionsFailing').expr), 'B: every request got a verdict: AgentCanaryDecisionsFailing does not fire')

  // C. The demo sandbox answers 503 to everything: evaluations fail until the alerts fire.
  const fault = await getJson(`${sandboxUrl}/_sandbox/faults`, { method: 'POST', headers: { 'x-api-key': SANDBOX_ADMIN_KEY, 'content-type': 'application/json' }, body: { fault: { kind: 'status', status: 503 } } })
  t.equal(fault.status, 201, 'fault injected into the demo sandbox')
  t.equal(await score({ stage: 'canary-9', canary: 'support-agent-healthy' }), 400, 'a request naming no stage of the policy')
  let minute = 0
  const failing = async (): Promise<boolean> => {
    const statuses = await Promise.all([0, 1, 2, 3].map(async () => await score({ ...same, since: `${180 + ++minute}m` })))
    t.ok(statuses.every((s) => s === 503), 'C: upstream failures answer 503, never a verdict')
    return (await fires(alert('AgentCanaryGateCannotReachSource').expr)) && (await fires(alert('AgentCanaryDecisionsFailing').expr))
  }
  t.ok(await waitFor('the Cordum and decision alerts to fire', async () => (await failing()) ? true : undefined, 45_000), 'C: AgentCanaryGateCannotReachSource and AgentCanaryDecisionsFailing fire')
  const unreachable = await query(alert('AgentCanaryGateCannotReachSource').expr)
  t.same(unreachable.map((r) => r.metric.source), ['cordum'], 'for the source cordum')
  t.equal((await getJson(`${gateUrl}/readyz`)).status, 503, 'and the gate is not ready')
  await waitFor('a scrape after the last request', async () => (await fires('agentcanary_evaluation_errors_total{code="GATE_ERR_UNKNOWN_STAGE"}')) ? true : undefined)
  await new Promise((r) => setTimeout(r, 2_500))

  // Every dashboard query and every variable returns data, with every variable at "All".
  for (const { file, dashboard } of readDashboards()) {
    const name = file.split('/').pop() as string
    for (const p of queryPanels(dashboard)) {
      for (const target of p.targets ?? []) {
        const expr = substitute(target.expr)
        t.ok((await query(expr)).length > 0, `${name} "${p.title}" ${target.refId}: ${expr}`)
      }
    }
    for (const v of filterVariables(dashboard)) {
      const text = typeof v.query === 'string' ? v.query : v.query.query
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(text)
      t.ok(m !== null, `${name} variable ${v.name}: label_values(selector, label)`)
      const values = (await query(substitute(m?.[1] ?? ''))).map((r) => r.metric[m?.[2] ?? '']).filter((x) => x !== undefined && x !== '')
      t.ok(values.length > 0, `${name} variable ${v.name} has values: ${[...new Set(values)].join(', ')}`)
    }
  }
  // A rollout panel's data link, followed from a real point: the gate's decision at that moment.
  const [rollouts] = readDashboards()
  const scorePanel = queryPanels(rollouts?.dashboard as Dashboard).find((p) => p.title === 'Score')
  const [point] = await query('agentcanary:rollout_score_ratio:latest{rollout_namespace="shop", rollout="support-failing", stage="canary-1"}')
  const [decisionLink, rolloutLink] = scorePanel?.fieldConfig?.defaults.links ?? []
  const at = linkUrl(decisionLink?.url ?? '', { gate_url: gateUrl }, point?.metric ?? {}, Math.round((point?.value[0] ?? 0) * 1000))
  const redirect = await request(at)
  await redirect.body.dump()
  t.equal(redirect.statusCode, 302, `the data link ${at} finds the decision`)
  const page = await request(new URL(String(redirect.headers.location), at))
  const html = await page.body.text()
  t.equal(page.statusCode, 200)
  t.match(html, /<h1 data-verdict="fail">[\s\S]*canary-1[\s\S]*shop\/support-failing/, 'the page of the rollout\'s failed decision')
  const rolloutPage = await request(linkUrl(rolloutLink?.url ?? '', { gate_url: gateUrl }, point?.metric ?? {}, 0))
  t.match(await rolloutPage.body.text(), /<h1>Rollout shop\/support-failing<\/h1>/, 'and the rollout\'s page')
  for (const r of ruleGroups().flatMap((g) => g.rules).filter((x) => x.record !== undefined)) {
    t.ok((await query(r.record as string)).length > 0, `recording rule ${r.record} has data`)
  }
  const verdict = async (rollout: string): Promise<string[][]> => (await query(`agentcanary:rollout_verdict:latest{rollout="${rollout}"}`)).map((r) => [r.metric.rollout_namespace ?? '', r.metric.stage ?? '', r.value[1]])
  t.same(await verdict('support-failing'), [['shop', 'canary-1', '-1']], 'a named rollout: its latest verdict, fail')
  t.same(await verdict('support-agent-deny-spike'), [['', 'canary-1', '-1']], 'a request naming no rollout: known by its canary')
  t.same(await verdict('support-healthy'), [['shop', 'canary-1', '1'], ['shop', 'canary-2', '1'], ['shop', 'full', '1']].sort(), 'one series per stage')

  // The live /metrics, linted.
  const metrics = await request(`${gateUrl}/metrics`)
  const text = await metrics.body.text()
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 })
  t.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`.trim())
  t.match(text, /agentcanary_rollout_signal_ratio\{/, 'the linted exposition has per-rollout series')
})
