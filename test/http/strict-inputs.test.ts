/**
 * The same strict rules for a question asked by GET and by POST (issue 20, items 6 and 9):
 * real calendar dates, decimal numbers only, no lists where one value goes, no null or blank
 * weight, and every refusal naming its field.
 */
import t from 'tap'
import { parseRfc3339 } from '../../src/service/rfc3339.js'
import { gateFor, getJson, postJson } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

t.test('parseRfc3339: real calendar dates and parts in range only', async (t) => {
  t.equal(parseRfc3339('2026-11-26T09:17:23Z'), Date.UTC(2026, 10, 26, 9, 17, 23))
  t.equal(parseRfc3339('2026-11-26T09:17Z'), Date.UTC(2026, 10, 26, 9, 17), 'seconds optional')
  t.equal(parseRfc3339('2026-11-26t09:17:23.5z'), Date.UTC(2026, 10, 26, 9, 17, 23, 500), 'lower-case T and Z')
  t.equal(parseRfc3339('2026-11-26T09:17:23+02:00'), Date.UTC(2026, 10, 26, 7, 17, 23), 'offset')
  t.equal(parseRfc3339('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29), 'a leap day')
  t.equal(parseRfc3339('2000-02-29T00:00:00Z'), Date.UTC(2000, 1, 29), 'a leap day of a 400th year')
  for (const bad of ['2026-02-30T00:00:00Z', '2026-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z',
    '2026-01-01T24:00:00Z', '2026-01-01T23:60:00Z', '2026-01-01T23:59:60Z', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00+01:60', '2026-01-01 00:00:00Z', '2026-01-01T00:00:00', '1767225600000']) {
    t.equal(parseRfc3339(bad), undefined, `${bad} is refused`)
  }
})

t.test('score and decisions routes: strict inputs, GET and POST alike, each refusal naming its field', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { now: () => T0 })
  const base = 'stage=canary-1&canary=support-agent-healthy'
  const refusals: Array<[string, string, string]> = [
    [`${base}&until=2026-02-30T00:00:00Z`, 'until', 'RFC 3339'],
    [`${base}&since=2026-11-31T00:00:00Z`, 'since', 'RFC 3339'],
    [`${base}&weight=0x10`, 'weight', 'must be a number'],
    [`${base}&weight=%20`, 'weight', 'must be a number'],
    [`${base}&weight=1e1`, 'weight', 'must be a number'],
    [`${base}&weight=%2B5`, 'weight', 'must be a number'],
    [`${base}&weight=`, 'weight', 'must be a number'],
    [`${base}&stage=full`, 'stage', 'give it once'],
  ]
  for (const [q, field, says] of refusals) {
    const res = await getJson(`${url}/api/v1/score?${q}`)
    t.equal(res.status, 400, `GET ?${q}: 400`)
    t.equal(res.body.details?.field, field, `GET ?${q}: names ${field}`)
    t.match(res.body.error, says, `GET ?${q}: ${says}`)
  }
  const ok = await getJson(`${url}/api/v1/score?${base}&baseline=support-agent-stable&weight=12.5`)
  t.equal(ok.status, 200, 'a decimal weight is taken')
  t.equal(ok.body.trafficSplit?.expected, 0.125, 'as the number it says (a fraction)')

  const body = { stage: 'canary-1', canary: 'support-agent-healthy' }
  const bodyRefusals: Array<[Record<string, unknown>, string, string]> = [
    [{ ...body, weight: null }, 'weight', 'must be a number, got null'],
    [{ ...body, weight: '' }, 'weight', 'must be a number'],
    [{ ...body, weight: ' ' }, 'weight', 'must be a number'],
    [{ ...body, weight: '0x10' }, 'weight', 'must be a number'],
    [{ ...body, weight: '1e1' }, 'weight', 'must be a number'],
    [{ ...body, weight: ['16'] }, 'weight', 'must be a number'],
    [{ ...body, stage: ['canary-1'] }, 'stage', 'not a list'],
    [{ ...body, canary: 5 }, 'canary', 'must be a string'],
    [{ ...body, until: '2026-02-30T00:00:00Z' }, 'until', 'RFC 3339'],
  ]
  for (const [b, field, says] of bodyRefusals) {
    const res = await postJson(`${url}/api/v1/score`, b)
    t.equal(res.status, 400, `POST ${JSON.stringify(b)}: 400`)
    t.equal(res.body.details?.field, field, `POST ${JSON.stringify(b)}: names ${field}`)
    t.match(res.body.error, says, `POST ${JSON.stringify(b)}: ${says}`)
  }
  t.equal((await postJson(`${url}/api/v1/score`, { ...body, weight: 12.5 })).status, 200, 'a JSON number weight is taken')
  // Argo's jsonBody sends a template argument as a JSON string: `weight: "{{args.weight}}"`.
  const argo = await postJson(`${url}/api/v1/score`, { ...body, baseline: 'support-agent-stable', weight: '12.5' })
  t.equal(argo.status, 200, 'a decimal string weight is taken, as Argo sends it')
  t.equal(argo.body.trafficSplit?.expected, 0.125, 'as the number it says')

  const list: Array<[string, string, string]> = [
    ['until=2026-02-30T00:00:00Z', 'until', 'RFC 3339'],
    ['limit=0x10', 'limit', 'must be an integer'],
    ['limit=%20', 'limit', 'must be an integer'],
    ['tenant[]=a', 'tenant[]', 'give tenant as tenant=VALUE'],
    ['tenant=a&tenant=b', 'tenant', 'give it once'],
    ['stagee=x', 'stagee', 'known: tenant, namespace'],
  ]
  for (const [q, field, says] of list) {
    const res = await getJson(`${url}/api/v1/decisions?${q}`)
    t.equal(res.status, 400, `decisions ?${q}: 400`)
    t.equal(res.body.details?.field, field, `decisions ?${q}: names ${field}`)
    t.match(res.body.error, says, `decisions ?${q}: ${says}`)
    t.notMatch(res.body.error, 'canary, baseline', `decisions ?${q}: lists its own fields, not the score route's`)
  }
  t.equal((await getJson(`${url}/api/v1/decisions?limit=5`)).status, 200, 'a decimal limit is taken')
})

t.test('a tenant Cordum does not let the key read is a 403 naming the tenant, not a 503 Argo retries', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { now: () => T0 })
  const res = await getJson(`${url}/api/v1/score?stage=canary-1&canary=support-agent-healthy&tenant=nope`)
  t.equal(res.status, 403)
  t.match(res.body, { code: 'GATE_ERR_FORBIDDEN', error: /^tenant: Cordum does not let the gate read this tenant/ })
})

t.test('an evidence 503 says what failed, never the database\'s own text', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url, dataDir } = await gateFor(t, sandbox, { now: () => T0 })
  const q = 'stage=canary-1&canary=support-agent-healthy&baseline=support-agent-stable'
  t.equal((await getJson(`${url}/api/v1/score?${q}`)).status, 200)
  // The head moved back one: the next append collides with the record at that seq.
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(`${dataDir}/evidence.sqlite`)
  db.prepare('UPDATE chain_heads SET seq = seq - 1').run()
  db.close()
  const res = await getJson(`${url}/api/v1/score?${q}&since=2h`)
  t.equal(res.status, 503)
  t.match(res.body, { code: 'GATE_ERR_EVIDENCE_UNAVAILABLE', source: 'evidence', error: /could not write the decision record/ })
  t.notMatch(res.body.error, /UNIQUE|constraint|SQLITE_|decisions\.seq|evidence\.sqlite/i, 'no SQLite text (its name aside)')
})
