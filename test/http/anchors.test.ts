/**
 * The chain heads kept outside the database (issue 20, items 3 and 4): the gate remembers the
 * heads it wrote, logs and exports them, and its verify checks the chains against them; a
 * tenant is listed from its records, so deleting its head row hides nothing.
 */
import Database from 'better-sqlite3'
import t from 'tap'
import { main } from '../../src/cli.js'
import { ChainAnchors, hashPrefixNumber } from '../../src/evidence/anchors.js'
import type { EvidenceStore } from '../../src/evidence/store.js'
import { gateFor, getJson } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

t.test('a tail cut off with the head moved back is caught by the gate that wrote it; a deleted head row too', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url, dataDir } = await gateFor(t, sandbox, { now: () => T0 })
  const ids: string[] = []
  for (const since of ['1h', '2h', '3h']) {
    const r = await getJson(`${url}/api/v1/score?stage=canary-1&canary=support-agent-healthy&baseline=support-agent-stable&since=${since}`)
    ids.push(r.body.decisionId as string)
  }
  const before = await getJson(`${url}/api/v1/decisions/verify`)
  t.match(before.body, { ok: true, tenants: [{ tenant: 'default', records: 3, anchors: 1 }] }, 'verifies, against the head it remembers')
  const last = before.body.tenants[0].last as { seq: number, hash: string }
  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.match(metrics, 'agentcanary_evidence_chain_head_seq{tenant="default"} 3', 'the head\'s seq exported')
  t.match(metrics, `agentcanary_evidence_chain_head_hash{tenant="default"} ${hashPrefixNumber(last.hash)}`, 'and the start of its hash')

  const db = new Database(`${dataDir}/evidence.sqlite`)
  const second = db.prepare('SELECT seq, hash FROM decisions WHERE seq = 2').get() as { seq: number, hash: string }
  db.prepare('DELETE FROM decisions WHERE seq = 3').run()
  db.prepare('UPDATE chain_heads SET seq = ?, hash = ?').run(second.seq, second.hash)
  const cut = await getJson(`${url}/api/v1/decisions/verify`)
  t.match(cut.body, { ok: false, tenants: [{ tenant: 'default', broken: { seq: 2, reason: /head at record 3: records were removed from the end and the head moved back/ } }] }, 'the cut is caught')

  db.prepare('DELETE FROM chain_heads').run()
  db.close()
  const headless = await getJson(`${url}/api/v1/decisions/verify`)
  t.match(headless.body, { ok: false, tenants: [{ tenant: 'default', broken: { reason: /chain head is missing/ } }] }, 'a deleted head row: the tenant is still verified, and fails')
})

t.test('an anchor given by a person: SEQ:HASH from the log or the metrics', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { now: () => T0 })
  await getJson(`${url}/api/v1/score?stage=canary-1&canary=support-agent-healthy`)
  const head = (await getJson(`${url}/api/v1/decisions/verify`)).body.tenants[0].last as { seq: number, hash: string }
  t.match((await getJson(`${url}/api/v1/decisions/verify?tenant=default&anchor=${head.seq}:${head.hash.slice(0, 13)}`)).body, { ok: true, tenants: [{ anchors: 1 }] }, 'the right head verifies (the one the gate remembers, too)')
  t.match((await getJson(`${url}/api/v1/decisions/verify?tenant=default&anchor=${head.seq}:${'0'.repeat(13)}`)).body, { ok: false, tenants: [{ broken: { seq: 1, reason: /the head the gate logged and exported for record 1 was 000000000000/ } }] }, 'another hash: broken')
  t.match(await getJson(`${url}/api/v1/decisions/verify?anchor=1:abc`), { status: 400, body: { details: { field: 'anchor' } } }, 'a malformed anchor: 400 naming it')
  const out: string[] = []
  const cli = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) }, env: {} }
  t.equal(await main(['decisions', 'verify', '--url', url, '--tenant', 'default', '--anchor', `${head.seq}:${'0'.repeat(13)}`], cli), 1, 'the CLI takes --anchor: exit 1 for a chain that does not hold it')
  t.match(out.join(''), /BROKEN/)
})

t.test('ChainAnchors: a head read from the store behind the one seen is logged as an error and not taken', async (t) => {
  const heads = [{ tenant: 'acme', seq: 5, hash: 'a'.repeat(64) }]
  const store = { heads: async () => heads } as unknown as EvidenceStore
  const lines: Array<[string, object]> = []
  const log = { info: (o: object, m: string) => lines.push([m, o]), error: (o: object, m: string) => lines.push([m, o]) }
  const anchors = new ChainAnchors(store, log)
  await anchors.run()
  t.same(anchors.anchorsFor('acme'), [{ seq: 5, hash: 'a'.repeat(64) }])
  t.same(lines.map(([m]) => m), ['chain heads'], 'logged: the anchor a person can keep')
  heads[0] = { tenant: 'acme', seq: 4, hash: 'b'.repeat(64) }
  await anchors.run()
  t.same(anchors.anchorsFor('acme'), [{ seq: 5, hash: 'a'.repeat(64) }], 'the head seen stays')
  t.match(lines[1]?.[0], /the chain head of tenant acme moved back from record 5 to 4/)
})
