/**
 * The sandbox behaves like Cordum's gateway where the gate depends on it (auth, roles,
 * tenants, envelopes, limits, paging) and its scenarios give their documented verdicts at any
 * time of day.
 */
import t from 'tap'
import { request as http } from 'undici'
import { defaultPolicy } from '../../src/config/load.js'
import { SANDBOX_ADMIN_KEY, SANDBOX_VIEWER_KEY, startSandbox } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT, SCENARIOS } from '../../src/sandbox/scenarios.js'
import { CordumSource } from '../../src/sources/cordum/source.js'
import { SourceRegistry } from '../../src/sources/registry.js'
import { ScoreService } from '../../src/service/score.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await http(url, { headers })
  return { status: res.statusCode, body: await res.body.json() }
}

const admin = { 'x-api-key': SANDBOX_ADMIN_KEY, 'x-tenant-id': 'default' }
const viewer = { 'x-api-key': SANDBOX_VIEWER_KEY, 'x-tenant-id': 'default' }

t.test('auth, roles and tenants as Cordum applies them, with its error envelope', async (t) => {
  const sb = await sandboxFor(t)
  t.same(await get(`${sb.url}/api/v1/jobs`), { status: 401, body: { error: 'missing API key', code: 'UNAUTHORIZED', status: 401 } })
  t.equal((await get(`${sb.url}/api/v1/jobs`, { 'x-api-key': 'nope' })).status, 401)
  t.equal((await get(`${sb.url}/api/v1/jobs`, { authorization: `Bearer ${SANDBOX_VIEWER_KEY}` })).status, 200, 'Bearer works; the tenant falls back to the key\'s')
  t.equal((await get(`${sb.url}/api/v1/jobs`, { ...viewer, 'x-tenant-id': 'other' })).status, 403, 'tenant header must match the key')
  t.equal((await get(`${sb.url}/api/v1/jobs?tenant=other`, viewer)).status, 403, 'tenant filter must match too')
  for (const path of ['/api/v1/approvals', '/api/v1/dlq', '/api/v1/dlq/page', '/api/v1/pools']) {
    const r = await get(`${sb.url}${path}`, viewer)
    t.same(r, { status: 403, body: { error: 'forbidden: requires role admin', code: 'FORBIDDEN', status: 403 } }, `${path}: admin only`)
    t.equal((await get(`${sb.url}${path}`, admin)).status, 200, `${path}: admin may`)
  }
  t.equal((await get(`${sb.url}/api/v1/governance/decisions`, viewer)).status, 200, 'governance.read: viewer may')
  t.equal((await get(`${sb.url}/api/v1/nope`, admin)).status, 404)
})

t.test('field names, units and limits', async (t) => {
  const sb = await sandboxFor(t)
  const jobs = await get(`${sb.url}/api/v1/jobs?limit=5000`, admin)
  t.ok(jobs.body.items.length <= 500 && jobs.body.items.length > 400, 'limit capped at 500 (and tenant-filtered after reading)')
  const job = jobs.body.items[0]
  t.ok(Number.isInteger(job.updated_at) && job.updated_at > T0 * 1000 - 3600e6 && job.updated_at <= T0 * 1000, 'updated_at in microseconds')
  t.match(job, { id: String, state: String, agent_id: String, tenant: 'default', topic: String, attempts: Number })
  const detail = await get(`${sb.url}/api/v1/jobs/${job.id as string}`, viewer)
  t.equal(detail.body.labels.agent_id, job.agent_id, 'job detail carries labels')
  const decisions = await get(`${sb.url}/api/v1/governance/decisions?limit=3&agent_id=support-agent-healthy`, viewer)
  t.equal(decisions.body.items.length, 3)
  t.match(decisions.body.items[0], { job_id: String, verdict: String, agent_id: 'support-agent-healthy', timestamp: /^\d{4}-\d\d-\d\dT.*Z$/ })
  t.type(decisions.body.next_cursor, 'string', 'opaque cursor')
  const next = await get(`${sb.url}/api/v1/governance/decisions?limit=3&agent_id=support-agent-healthy&cursor=${decisions.body.next_cursor as string}`, viewer)
  t.ok(Date.parse(next.body.items[0].timestamp) < Date.parse(decisions.body.items[2].timestamp), 'the next page continues older')
  t.equal((await get(`${sb.url}/api/v1/governance/decisions?since=yesterday`, viewer)).status, 400)
  const dlq = await get(`${sb.url}/api/v1/dlq/page?limit=2`, admin)
  t.match(dlq.body.items[0], { job_id: String, reason_code: String, status: /^JOB_STATUS_/, created_at: /Z$/ })
  t.type(dlq.body.next_cursor, 'number')
  const approvals = await get(`${sb.url}/api/v1/approvals?include_resolved=false&limit=500`, admin)
  const ages = approvals.body.items.map((i: any) => i.job.updated_at)
  t.same(ages, [...ages].sort((a, b) => a - b), 'pending approvals oldest first')
  t.ok(approvals.body.items.every((i: any) => i.approval_status === 'pending' && i.job.state === 'APPROVAL_REQUIRED'))
})

t.test('Cordum\'s jobs paging quirk: filters apply after reading, next_cursor only on full pages', async (t) => {
  const sb = await sandboxFor(t)
  const filtered = await get(`${sb.url}/api/v1/jobs?limit=50&topic=job.support.reply&state=FAILED`, admin)
  t.ok(filtered.body.items.length < 50, 'a server-side filter empties most of the page')
  t.equal(filtered.body.next_cursor, null, 'and then there is no next cursor, as in Cordum')
})

t.test('the data is a function of absolute time: two sandboxes agree', async (t) => {
  const a = await sandboxFor(t)
  const b = await startSandbox({ now: () => T0 })
  t.teardown(b.close)
  const path = '/api/v1/governance/decisions?limit=500&agent_id=support-agent-deny-spike'
  t.same((await get(`${a.url}${path}`, viewer)).body, (await get(`${b.url}${path}`, viewer)).body)
})

t.test('every scenario gives its documented verdict at any time of day', async (t) => {
  const policy = defaultPolicy()
  // Window ends spread over two days, at odd minutes and seconds.
  const positions = [0, 1.3, 2.77, 4.1, 5.55, 7.9, 9.31, 11.06, 13.4, 15.75, 18.2, 21.63, 26.9, 33.3, 41.17].map((h) => T0 + h * 3600_000)
  let now = T0
  const sb = await startSandbox({ now: () => now })
  t.teardown(sb.close)
  const source = new CordumSource({ url: sb.url, apiKey: SANDBOX_ADMIN_KEY })
  const service = new ScoreService({ policy, sources: new SourceRegistry([source]), defaultTenant: 'default', now: () => now })
  t.teardown(async () => await source.close())
  let checked = 0
  for (const at of positions) {
    now = at
    for (const scenario of SCENARIOS) {
      for (const e of scenario.expect) {
        const r = await service.score({ stage: e.stage, canary: scenario.agentId, baseline: BASELINE_AGENT }, new AbortController().signal)
        const where = `${scenario.agentId} at ${e.stage}, window ending ${new Date(at).toISOString()}`
        const why = e.verdict === 'fail' ? r.triggers.filter((x) => x.fired).map((x) => x.name) : r.reasonCodes
        if (r.verdict !== e.verdict || !why.includes(e.because)) {
          t.fail(`${where}: expected ${e.verdict} (${e.because}), got ${r.verdict} (${why.join(', ')}): ${r.summary}`)
        } else {
          checked++
        }
      }
    }
  }
  t.equal(checked, positions.length * SCENARIOS.reduce((n, s) => n + s.expect.length, 0), `${checked} verdicts as documented`)
})
