/**
 * Decision records as a user meets them: every answer names its record, written before the
 * answer; the record replays with `judge`; a growing analysis keeps its start; the list, get
 * and verify routes with filters, pages and tenant-bound keys; a failing store fails the
 * request with 503 rather than answering without a record.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'
import { main } from '../../src/cli.js'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { gateFor, getJson, scoreUrl } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

function io (): { out: string[], err: string[], io: Parameters<typeof main>[1] } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env: {} } }
}

const KEYS = 'acme-prod-key-0123456789,other-team-key-0123456789:other'

t.test('records, replay, growing window, list/get/verify, CLI', async (t) => {
  let now = T0
  const sandbox = await sandboxFor(t, { now: () => now })
  const { url, dataDir } = await gateFor(t, sandbox, { now: () => now, env: { GATE_API_KEYS: KEYS } })
  const admin = { 'x-api-key': 'acme-prod-key-0123456789' }
  const other = { 'x-api-key': 'other-team-key-0123456789' }
  const q = { stage: 'canary-1', canary: 'support-agent-deny-spike', baseline: BASELINE_AGENT, rollout: 'support-agent', namespace: 'prod', revision: 'rev-1' }

  const first = await getJson(scoreUrl(url, q), admin)
  t.equal(first.status, 200)
  now += 3_600_000
  const second = await getJson(scoreUrl(url, q), admin)
  const adhoc = await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }), admin)

  const rec1 = (await getJson(`${url}/api/v1/decisions/${first.body.decisionId as string}`, admin)).body
  const rec2 = (await getJson(`${url}/api/v1/decisions/${second.body.decisionId as string}`, admin)).body
  t.match(rec1, { kind: 'decision', seq: 1, tenant: 'default', namespace: 'prod', rollout: 'support-agent', revision: 'rev-1', stage: 'canary-1', verdict: 'fail', request: { windowRule: 'canary' }, sources: { cordum: { version: 'sandbox' } } })
  // The sandbox's agents have run for days: the canary's first event is at the lifetime's start.
  t.ok(Date.parse(rec1.request.since) - (Date.parse(rec1.request.until) - 3 * 3_600_000) < 60_000, 'the window starts at the canary\'s first event within the 3 h lifetime')
  t.same(rec1.judgement, (({ decisionId: _d, reportUrl: _u, ...j }) => j)(first.body), 'the record holds the whole answer (its id and page link are the record\'s own)')
  t.equal(rec2.prevHash, rec1.hash, 'the second record links to the first')
  t.equal(rec2.request.windowRule, 'analysis', 'the second look of the same analysis keeps its start')
  t.equal(rec2.request.since, rec1.request.since, 'window start = the first record\'s start')
  t.equal(Date.parse(rec2.request.until) - Date.parse(rec1.request.until), 3_600_000, 'and the window grows')
  t.equal(second.body.window.since, first.body.window.since, 'the answer shows the grown window')
  t.match(rec1.policy, { sha256: /^[0-9a-f]{64}$/ })

  // Replay: export the observations with the CLI and judge them again.
  const file = join(dataDir, 'replay.json')
  const get = io()
  t.equal(await main(['decisions', 'get', first.body.decisionId, '--url', url, '--api-key', 'acme-prod-key-0123456789', '--observations', file], get.io), 0)
  t.match(get.out.join(''), /DECISION .* seq 1 [\s\S]*\npolicy .*sources cordum sandbox[\s\S]*VERDICT FAIL/)
  t.ok(get.out.join('').split('\n').every((l) => l.length <= 80), 'decisions get: within 80 columns')
  const replay = io()
  t.equal(await main(['judge', '--stage', 'canary-1', '--observations', file, '--json'], replay.io), 0)
  const replayed = JSON.parse(replay.out.join(''))
  t.same(replayed, rec1.judgement, 'judge replays the recorded observations to the same judgement')
  t.ok((await readFile(file, 'utf8')).includes('"policy_deny_rate"'))

  const list = await getJson(`${url}/api/v1/decisions?rollout=support-agent&order=asc`, admin)
  t.same(list.body.items.map((d: any) => d.id), [first.body.decisionId, second.body.decisionId], 'rollout filter: the story of the rollout, in order')
  t.match(list.body.items[0], { verdict: 'fail', reasonCodes: ['trigger_fired'], window: { rule: 'canary' }, summary: /FAIL at canary-1/ })
  const page1 = await getJson(`${url}/api/v1/decisions?limit=2`, admin)
  t.equal(page1.body.items.length, 2)
  t.equal(page1.body.items[0].id, adhoc.body.decisionId, 'newest first')
  const page2 = await getJson(`${url}/api/v1/decisions?limit=2&cursor=${page1.body.nextCursor as string}`, admin)
  t.same(page2.body.items.map((d: any) => d.id), [first.body.decisionId])
  t.equal(page2.body.nextCursor, null)
  t.same((await getJson(`${url}/api/v1/decisions?verdict=pass`, admin)).body.items.map((d: any) => d.id), [adhoc.body.decisionId])
  t.equal((await getJson(`${url}/api/v1/decisions?since=${encodeURIComponent(new Date(now - 60_000).toISOString())}`, admin)).body.items.length, 2)
  t.match(await getJson(`${url}/api/v1/decisions?since=yesterday`, admin), { status: 400, body: { details: { field: 'since' } } })
  t.match(await getJson(`${url}/api/v1/decisions?verdict=maybe`, admin), { status: 400 })
  t.match(await getJson(`${url}/api/v1/decisions?rolout=x`, admin), { status: 400, body: { error: /did you mean 'rollout'|unknown field/ } })
  t.match(await getJson(`${url}/api/v1/decisions`), { status: 401 }, 'a key is needed when GATE_API_KEYS is set')

  // Keys bound to tenants see only their tenants.
  t.same((await getJson(`${url}/api/v1/decisions`, other)).body.items, [], 'the other team\'s key sees no default-tenant records')
  t.match(await getJson(`${url}/api/v1/decisions?tenant=default`, other), { status: 403 })
  t.match(await getJson(`${url}/api/v1/decisions/${first.body.decisionId as string}`, other), { status: 404 }, 'nor their ids')
  t.match(await getJson(`${url}/api/v1/decisions/01a21cc7-7858-7001-86d6-9e7e978aaa80`, admin), { status: 404, body: { code: 'GATE_ERR_NOT_FOUND' } })
  t.match((await getJson(`${url}/api/v1/decisions/verify`, other)).body, { ok: true, tenants: [{ tenant: 'other', records: 0 }] })

  const verify = await getJson(`${url}/api/v1/decisions/verify`, admin)
  t.match(verify.body, { ok: true, tenants: [{ tenant: 'default', ok: true, records: 3, first: { seq: 1 }, last: { seq: 3 } }] })
  const cliVerify = io()
  t.equal(await main(['decisions', 'verify', '--url', url, '--api-key', 'acme-prod-key-0123456789'], cliVerify.io), 0)
  t.match(cliVerify.out.join(''), /TENANT\s+RESULT\s+RECORDS[\s\S]*default\s+ok\s+3/)
  t.ok(cliVerify.out.join('').split('\n').every((l) => l.length <= 80), 'verify: within 80 columns')
  t.match(cliVerify.out.join(''), /1 2026-11-26 09:17:23 /, 'times to the second, whole')
  const cliList = io()
  t.equal(await main(['decisions', 'list', '--url', url, '--rollout', 'support-agent', '--order', 'asc', '--api-key', 'acme-prod-key-0123456789', '--wide'], cliList.io), 0)
  const lines = cliList.out.join('').trim().split('\n')
  t.match(lines[0], /^TIME\s+ID\s+TENANT\s+ROLLOUT\s+REVISION\s+STAGE\s+CANARY\s+VERDICT\s+SCORE\s+ACTIONS\s+WHY$/, '--wide: every column')
  t.equal(lines.length, 3, 'a header and the two records of the rollout')
  t.match(lines[1], /prod\/support-agent\s+rev-1\s+canary-1\s+support-agent-deny-spike\s+FAIL\s+0\s+-\s+trigger_fired/)
  const narrowList = io()
  narrowList.io.env.GATE_URL = url
  narrowList.io.env.GATE_API_KEY = 'acme-prod-key-0123456789'
  narrowList.io.env.COLUMNS = '80'
  t.equal(await main(['decisions', 'list', '--rollout', 'support-agent', '--order', 'asc'], narrowList.io), 0, 'GATE_URL and GATE_API_KEY from the environment')
  const narrow = narrowList.out.join('').trimEnd().split('\n')
  t.ok(narrow.every((l) => l.length <= 80), `COLUMNS=80: every line within 80 (longest ${Math.max(...narrow.map((l) => l.length))})`)
  t.match(narrow[0], /^TIME \(UTC\)\s+ROLLOUT\s+STAGE\s+VERDICT\s+SCORE\s+WHY$/)
  t.match(narrow[1], /^2026-11-26 09:17:23\s+prod\/support-agent\s+canary-1\s+FAIL\s+0\s+trigger_fired$/)
  t.same(narrow.slice(2, 4), [`    id ${first.body.decisionId as string}  canary support-agent-deny-spike`, '      revision rev-1'], 'the whole id on the line below, for decisions get')
  const usage = io()
  t.equal(await main(['decisions', 'lst', '--url', url], usage.io), 2)
  t.match(usage.err.join(''), /unknown subcommand 'lst'/)

  const doc = await getJson(`${url}/openapi.json`)
  const valid = await new Validator().validate(doc.body)
  t.ok(valid.valid, `OpenAPI stays valid${valid.valid ? '' : `: ${JSON.stringify(valid.errors).slice(0, 400)}`}`)
  for (const path of ['/api/v1/decisions', '/api/v1/decisions/verify', '/api/v1/decisions/{id}']) t.ok(doc.body.paths[path]?.get?.responses['200'] !== undefined, `${path} documented`)
})

t.test('query errors name the right field, the allowed values and what came; filters by agent and canary', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { now: () => T0 })
  const asked: Record<string, string> = {}
  for (const canary of ['support-agent-healthy', 'support-agent-deny-spike', 'support-agent-failing']) {
    asked[canary] = (await getJson(scoreUrl(url, { stage: 'canary-1', canary, baseline: BASELINE_AGENT }))).body.decisionId
  }
  const ids = async (query: string): Promise<string[]> => (await getJson(`${url}/api/v1/decisions?${query}&order=asc`)).body.items.map((d: any) => d.id)
  t.same(await ids('agent=support-agent'), [asked['support-agent-healthy'], asked['support-agent-failing']], 'agent: its canaries <agent>-<hash> (the sandbox\'s deny-spike "hash" has a dash: another agent by this rule)')
  t.same(await ids('canary=support-agent-deny-spike'), [asked['support-agent-deny-spike']], 'canary: exactly one agent_id')
  t.same(await ids('agent=support'), [], 'support is not support-agent')
  t.same(await ids('agent=support-agent&verdict=fail'), [asked['support-agent-failing']], 'filters combine')

  const cases: [string, string, string][] = [
    ['verdict=failed', 'verdict', 'verdict: must be one of pass, inconclusive, fail, got \'failed\''],
    ['order=newest', 'order', 'order: must be one of desc, asc, got \'newest\''],
    ['limt=5', 'limt', 'limt: unknown field; did you mean \'limit\'? (known: tenant, namespace, rollout, revision, stage, agent, canary, verdict, since, until, limit, cursor, order)'],
    ['canry=x', 'canry', 'canry: unknown field; did you mean \'canary\'? (known: tenant, namespace, rollout, revision, stage, agent, canary, verdict, since, until, limit, cursor, order)'],
    ['tenant[]=a', 'tenant[]', 'tenant[]: give tenant as tenant=VALUE, once: lists and brackets are not accepted'],
    ['tenant=a&tenant=b', 'tenant', 'tenant: given 2 times; give it once'],
    ['limit=abc', 'limit', 'limit: must be an integer, got \'abc\''],
    ['limit=0', 'limit', 'limit: must be >= 1, got 0'],
    ['limit=500', 'limit', 'limit: must be <= 200, got 500'],
    ['rollout=', 'rollout', 'rollout: is empty: give a value or leave the field out'],
    ['since=yesterday', 'since', 'since: must be an RFC 3339 time such as 2026-11-26T09:00:00Z or a duration back from now such as 24h, got \'yesterday\''],
  ]
  for (const [query, field, error] of cases) {
    const r = await getJson(`${url}/api/v1/decisions?${query}`)
    t.equal(r.status, 400, `?${query}: 400`)
    t.same([r.body.error, r.body.details?.field, r.body.code], [error, field, 'GATE_ERR_BAD_REQUEST'], `?${query}: ${error}`)
  }
  const verify = await getJson(`${url}/api/v1/decisions/verify?tenantt=x`)
  t.equal(verify.body.error, 'tenantt: unknown field; did you mean \'tenant\'? (known: tenant, anchor)', 'verify names its own fields')
})

t.test('a store that cannot write fails the request with 503: no answer without its record', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url, gate } = await gateFor(t, sandbox, { now: () => T0 })
  const ok = await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }))
  t.equal(ok.status, 200)
  await gate.evidence?.close()
  // Another question (a shorter window): the same one would get the answer already recorded.
  const down = await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT, since: '2h' }))
  t.equal(down.status, 503)
  t.match(down.body, { code: 'GATE_ERR_EVIDENCE_UNAVAILABLE', source: 'evidence', error: /could not write the decision record/ })
  t.equal(down.body.verdict, undefined, 'no verdict goes out')
})

t.test('EVIDENCE_URL=none: no store, no decisionId, no decision routes', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { now: () => T0, env: { EVIDENCE_URL: 'none' } })
  const r = await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }))
  t.equal(r.body.decisionId, undefined)
  t.equal((await getJson(`${url}/api/v1/decisions`)).status, 404)
})
