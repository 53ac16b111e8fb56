import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startRetention } from '../../src/evidence/retention.js'
import { SqliteStore } from '../../src/evidence/sqlite.js'
import { entry } from '../helpers/evidence.js'

t.test('retention prunes what is older than EVIDENCE_RETENTION_DAYS and says so; the chain still verifies', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'acg-retention-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const day = 86_400_000
  let clock = Date.UTC(2026, 8, 1)
  const store = new SqliteStore(dir, { now: () => clock })
  t.teardown(async () => await store.close())
  for (let i = 0; i < 5; i++) { clock += day; await store.append(entry({ tenant: 'acme' })) }
  clock += 40 * day
  await store.append(entry({ tenant: 'acme' }))
  const logs: string[] = []
  const retention = startRetention(store, 30, { info: (_o, m) => logs.push(m), error: (_o, m) => logs.push(`error: ${m}`) }, () => clock)
  t.teardown(() => retention.stop())
  const reports = await retention.run()
  t.same(reports, [{ tenant: 'acme', pruned: 5, anchorSeq: 7, prunedThroughSeq: 5 }])
  t.match(logs, [/pruned 5 decision records of tenant acme older than 30 days behind anchor record 7/])
  t.match(await store.verify('acme'), { ok: true, records: 2, prunedThrough: { seq: 5 } })
  await store.close()
  t.same(await retention.run(), [], 'a failing store is logged, not thrown')
  t.match(logs[1], /^error: evidence retention failed/)
})
