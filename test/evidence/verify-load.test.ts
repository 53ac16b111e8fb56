/**
 * Verify never holds the event loop, is capped, and is shed like scoring (issue 20, item 2):
 * on SQLite the chain used to be walked in one synchronous go (40,000 records held /healthz
 * 5.9 s). Asserted by order, not by time: a callback queued after the verify starts runs
 * before the verify ends.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SqliteStore } from '../../src/evidence/sqlite.js'
import { MAX_VERIFIES_IN_FLIGHT, VerifyLimit } from '../../src/http/routes/decisions.js'
import { entry } from '../helpers/evidence.js'

t.test('a SQLite verify of a long chain yields the event loop between batches', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'acg-verify-'))
  const store = new SqliteStore(dir)
  t.teardown(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) })
  for (let i = 0; i < 1500; i++) await store.append(entry({ tenant: 'acme' }))
  const order: string[] = []
  const verified = store.verify('acme').then((r) => { order.push('verify done'); return r })
  setImmediate(() => order.push('another callback'))
  const report = await verified
  t.match(report, { ok: true, records: 1500 })
  t.same(order, ['another callback', 'verify done'], 'the loop turned while the chain was walked')
})

t.test('verifies under way are capped; past the cap a 503 at once, as for scoring', async (t) => {
  const limit = new VerifyLimit()
  const releases: Array<() => void> = []
  const running = Array.from({ length: MAX_VERIFIES_IN_FLIGHT }, async () => await limit.run(async () => await new Promise<void>((resolve) => releases.push(resolve))))
  await t.rejects(limit.run(async () => 'never'), { code: 'GATE_ERR_UNAVAILABLE', message: /verifying 2 chains already/ }, 'one more is shed')
  for (const r of releases) r()
  await Promise.all(running)
  t.equal(await limit.run(async () => 'ran'), 'ran', 'a slot freed is taken')
})
