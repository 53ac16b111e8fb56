/**
 * One suite, two stores: the embedded SQLite store and a real PostgreSQL. Each must keep one
 * unbroken chain per tenant under concurrent writers, find what the filters ask for, page
 * without gaps or repeats, report the first broken link of a tampered chain, and prune behind
 * an anchor record so that the rest still verifies.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import t from 'tap'
import { GENESIS, type DecisionEntry, type DecisionRecord } from '../../src/evidence/record.js'
import { PostgresStore } from '../../src/evidence/postgres.js'
import { SQLITE_FILE, SqliteStore } from '../../src/evidence/sqlite.js'
import type { EvidenceStore } from '../../src/evidence/store.js'
import { coverageOf, type LedgerJob } from '../../src/sources/cordum/ledger.js'
import { entry } from '../helpers/evidence.js'
import { postgresAvailable, tempDatabase } from '../helpers/postgres.js'
import { needTool } from '../helpers/tools.js'

/** Direct SQL on the store's database, for tampering as an attacker with database access would. */
interface Raw { run: (sql: string, ...params: unknown[]) => Promise<void>, close: () => Promise<void> }

interface Backend {
  name: string
  /** A new store on fresh storage, plus a way to open more stores and raw connections on the same storage. */
  fresh: (t: { teardown: (fn: () => unknown) => void }, now?: () => number) => Promise<{ store: EvidenceStore, reopen: (now?: () => number) => Promise<EvidenceStore>, raw: () => Promise<Raw> }>
}

const sqlite: Backend = {
  name: 'sqlite',
  async fresh (t, now) {
    const dir = mkdtempSync(join(tmpdir(), 'acg-evidence-'))
    const opened: EvidenceStore[] = []
    const open = async (clock?: () => number): Promise<EvidenceStore> => {
      const s = new SqliteStore(dir, clock === undefined ? {} : { now: clock })
      opened.push(s)
      return s
    }
    t.teardown(async () => {
      for (const s of opened) await s.close()
      rmSync(dir, { recursive: true, force: true })
    })
    return {
      store: await open(now),
      reopen: open,
      raw: async () => {
        const db = new Database(join(dir, SQLITE_FILE))
        return { run: async (sql, ...params) => { db.prepare(sql).run(...params) }, close: async () => { db.close() } }
      },
    }
  },
}

const postgres: Backend = {
  name: 'postgres',
  async fresh (t, now) {
    const url = await tempDatabase(t)
    const opened: EvidenceStore[] = []
    const open = async (clock?: () => number): Promise<EvidenceStore> => {
      const s = await PostgresStore.open(url, clock === undefined ? {} : { now: clock })
      opened.push(s)
      return s
    }
    t.teardown(async () => { for (const s of opened) await s.close() })
    return {
      store: await open(now),
      reopen: open,
      raw: async () => {
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        let n = 0
        return { run: async (sql, ...params) => { await client.query(sql.replace(/\?/g, () => `$${++n}`), params); n = 0 }, close: async () => { await client.end() } }
      },
    }
  },
}

async function fill (store: EvidenceStore, count: number, make: (i: number) => Parameters<EvidenceStore['append']>[0]): Promise<DecisionRecord[]> {
  const out: DecisionRecord[] = []
  for (let i = 0; i < count; i++) out.push(await store.append(make(i)))
  return out
}

const pgUp = await postgresAvailable()

for (const backend of [sqlite, postgres]) {
  t.test(`${backend.name} store`, async (t) => {
    if (backend === postgres && !needTool(t, 'PostgreSQL', pgUp, 'a server on 127.0.0.1:5432 with trust auth (PG_TEST_URL overrides)')) return

    t.test('appends chain per tenant: seq, prevHash, time-ordered ids, get returns the record', async (t) => {
      const { store } = await backend.fresh(t)
      const a = await fill(store, 5, () => entry({ tenant: 'acme', rollout: 'r1' }))
      const b = await fill(store, 3, () => entry({ tenant: 'globex' }))
      t.same(a.map((r) => r.seq), [1, 2, 3, 4, 5], 'acme seq 1..5')
      t.same(b.map((r) => r.seq), [1, 2, 3], 'globex has its own chain')
      t.equal(a[0]?.prevHash, GENESIS, 'the first record starts at genesis')
      for (let i = 1; i < a.length; i++) t.equal(a[i]?.prevHash, a[i - 1]?.hash, `record ${i + 1} links to ${i}`)
      const ids = [...a, ...b].map((r) => r.id)
      t.same([...ids].sort(), ids, 'ids sort in the order they were made')
      t.same(await store.get(a[2]?.id as string), a[2], 'get returns the whole record')
      t.equal(await store.get('0190c6d4-0000-7000-8000-000000000000'), undefined, 'an unknown id is undefined')
      t.same(await store.tenants(), ['acme', 'globex'])
      for (const tenant of ['acme', 'globex']) t.match(await store.verify(tenant), { ok: true, tenant }, `${tenant} verifies`)
    })

    t.test('concurrent writers never fork a chain (two store instances on the same storage)', async (t) => {
      const { store, reopen } = await backend.fresh(t)
      const other = await reopen()
      const writes = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? store : other).append(entry({ tenant: i % 3 === 0 ? 'globex' : 'acme' })))
      const records = await Promise.all(writes)
      for (const tenant of ['acme', 'globex']) {
        const seqs = records.filter((r) => r.tenant === tenant).map((r) => r.seq).sort((x, y) => x - y)
        t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${tenant}: seq 1..${seqs.length}, no duplicates, no gaps`)
        const report = await store.verify(tenant)
        t.equal(report.ok, true, `${tenant} verifies: ${report.broken?.reason ?? ''}`)
        t.equal(report.records, seqs.length)
      }
    })

    t.test('list: filters, both orders, cursor pages without gaps or repeats', async (t) => {
      let clock = Date.UTC(2026, 10, 26, 9, 0, 0)
      const { store } = await backend.fresh(t, () => clock)
      const made: DecisionRecord[] = []
      for (let i = 0; i < 23; i++) {
        clock += 60_000
        made.push(await store.append(entry({ tenant: i % 4 === 0 ? 'globex' : 'acme', rollout: i % 2 === 0 ? 'checkout' : 'support', stage: i % 3 === 0 ? 'canary-2' : 'canary-1', revision: 'r7', deny: i === 5 ? 400 : undefined })))
      }
      const all = await store.list({}, { limit: 200, order: 'asc' })
      t.same(all.items.map((r) => r.id), made.map((r) => r.id), 'everything, oldest first')
      t.equal(all.nextCursor, null)
      const seen: string[] = []
      let cursor: string | undefined
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.list({}, { limit: 5, order: 'desc', ...(cursor === undefined ? {} : { cursor }) })
        seen.push(...page.items.map((r) => r.id))
        if (page.nextCursor === null) break
        cursor = page.nextCursor
      }
      t.same(seen, made.map((r) => r.id).reverse(), 'pages of 5, newest first, cover every record once')
      const support = await store.list({ rollout: 'support', tenants: ['acme'] }, { limit: 200, order: 'asc' })
      t.same(support.items.map((r) => r.id), made.filter((r) => r.rollout === 'support' && r.tenant === 'acme').map((r) => r.id), 'rollout and tenant filters')
      const failing = await store.list({ verdict: 'fail' }, { limit: 200, order: 'asc' })
      t.same(failing.items.map((r) => r.id), [made[5]?.id], 'verdict filter finds the one fail')
      const stage2 = await store.list({ stage: 'canary-2', revision: 'r7' }, { limit: 200, order: 'asc' })
      t.equal(stage2.items.length, made.filter((r) => r.stage === 'canary-2').length)
      const window = await store.list({ sinceMs: Date.parse(made[3]?.time as string), untilMs: Date.parse(made[6]?.time as string) }, { limit: 200, order: 'asc' })
      t.same(window.items.map((r) => r.id), made.slice(3, 7).map((r) => r.id), 'since/until are inclusive record times')
      t.same((await store.list({ tenants: [] }, { limit: 10, order: 'asc' })).items, [], 'a key bound to no listed tenant sees nothing')
    })

    t.test('canary and agent filters; a store from before the canary column gains it, and still verifies', async (t) => {
      const { store, reopen, raw } = await backend.fresh(t)
      const canaries = ['support-agent-7d9f8c6b5', 'support-agent-5c4b7d9f2', 'support-agent', 'support-agent-v2-6f8b9c7d4', 'support-7d9f8c6b5', 'support_agent-7d9f8c6b5', 'Support-agent-7d9f8c6b5']
      const made = await fill(store, canaries.length, (i) => entry({ tenant: 'acme', canary: canaries[i] as string }))
      const ids = async (filter: Parameters<EvidenceStore['list']>[0], on = store): Promise<string[]> => (await on.list(filter, { limit: 200, order: 'asc' })).items.map((r) => r.canary)
      t.same(await ids({ canary: 'support-agent-7d9f8c6b5' }), ['support-agent-7d9f8c6b5'], 'canary: exactly that agent_id')
      t.same(await ids({ agent: 'support-agent' }), ['support-agent-7d9f8c6b5', 'support-agent-5c4b7d9f2', 'support-agent'],
        'agent: its <agent>-<hash> canaries and the bare name; not another agent (support-agent-v2), support_agent or another case')
      t.same(await ids({ agent: 'support' }), ['support-agent', 'support-7d9f8c6b5'], 'support is not support-agent: a hash has no dash (the bare id support-agent reads as support with hash agent)')
      t.same(await ids({ agent: 'support-agent-v2' }), ['support-agent-v2-6f8b9c7d4'])
      t.same(await ids({ agent: 'support_agent' }), ['support_agent-7d9f8c6b5'], '_ is a character, not a pattern')
      t.same(await ids({ agent: 'support%' }), [], '% too')

      // The same records as a store before version 2 held them: no canary column, version 1 only.
      const db = await raw()
      await db.run('DROP INDEX decisions_canary')
      await db.run('ALTER TABLE decisions DROP COLUMN canary')
      await db.run('DELETE FROM schema_migrations WHERE version = ?', 2)
      await db.close()
      const upgraded = await reopen()
      t.same(await ids({ agent: 'support-agent' }, upgraded), ['support-agent-7d9f8c6b5', 'support-agent-5c4b7d9f2', 'support-agent'], 'reopened: the column is filled from the records')
      t.match(await upgraded.verify('acme'), { ok: true, records: made.length }, 'and the chain still verifies, column by column')
      t.equal((await upgraded.append(entry({ tenant: 'acme', canary: 'support-agent-1a2b3c4d5' }))).seq, made.length + 1)
      t.same(await ids({ canary: 'support-agent-1a2b3c4d5' }, upgraded), ['support-agent-1a2b3c4d5'])
    })

    t.test('analysisStart: the window start of the first record of the same analysis', async (t) => {
      const { store } = await backend.fresh(t)
      await store.append(entry({ rollout: 'support', revision: 'r1', stage: 'canary-1', since: '2026-11-26T06:00:00.000Z', windowRule: 'canary' }))
      await store.append(entry({ rollout: 'support', revision: 'r1', stage: 'canary-1', since: '2026-11-26T07:00:00.000Z' }))
      await store.append(entry({ rollout: 'support', revision: 'r1', stage: 'canary-2', since: '2026-11-26T08:00:00.000Z' }))
      const key = { tenant: 'default', namespace: '', rollout: 'support', revision: 'r1', stage: 'canary-1' }
      t.same(await store.analysisStart(key), { since: new Date('2026-11-26T06:00:00.000Z'), rule: 'canary' }, 'first record wins, with its rule')
      t.same(await store.analysisStart({ ...key, stage: 'canary-2' }), { since: new Date('2026-11-26T08:00:00.000Z'), rule: 'default' }, 'per stage')
      t.equal(await store.analysisStart({ ...key, revision: 'r2' }), undefined, 'a new revision starts afresh')
      t.equal(await store.analysisStart({ ...key, namespace: 'prod' }), undefined, 'namespace is part of the key')
    })

    t.test('analysisStart: a request with an explicit since judges itself only', async (t) => {
      const { store } = await backend.fresh(t)
      const key = { tenant: 'default', namespace: '', rollout: 'support', revision: 'r1', stage: 'canary-1' }
      await store.append(entry({ rollout: 'support', revision: 'r1', since: '2026-11-26T08:30:00.000Z', windowRule: 'request' }))
      t.equal(await store.analysisStart(key), undefined, 'no analysis has started: the only record gave its own since')
      await store.append(entry({ rollout: 'support', revision: 'r1', since: '2026-11-26T06:00:00.000Z', windowRule: 'canary' }))
      await store.append(entry({ rollout: 'support', revision: 'r1', since: '2026-11-26T08:45:00.000Z', windowRule: 'request' }))
      t.same(await store.analysisStart(key), { since: new Date('2026-11-26T06:00:00.000Z'), rule: 'canary' }, 'the first question in Argo\'s form starts it')
    })

    t.test('stepStart: the until of the first Argo-form record of the rollout revision at this weight, and whether another weight came first', async (t) => {
      const { store } = await backend.fresh(t)
      const key = { tenant: 'default', namespace: '', rollout: 'support', revision: 'r1' }
      const at = (stage: string, until: string, weight: number | undefined, windowRule: 'canary' | 'analysis' | 'request' = 'analysis'): DecisionEntry =>
        entry({ rollout: 'support', revision: 'r1', stage, since: '2026-11-26T06:00:00.000Z', until, ...(weight === undefined ? {} : { weight }), windowRule })
      t.same(await store.stepStart(key, 10), { afterOtherWeight: false }, 'nothing asked yet')
      await store.append(at('shadow', '2026-11-26T06:30:00.000Z', undefined, 'canary'))
      await store.append(at('canary-1', '2026-11-26T06:50:00.000Z', 10, 'canary'))
      await store.append(at('canary-1', '2026-11-26T06:55:00.000Z', 10))
      t.same(await store.stepStart(key, 10), { at: new Date('2026-11-26T06:50:00.000Z'), afterOtherWeight: false }, 'the first weight: it took effect with the canary (a question without weight is no other weight)')
      t.same(await store.stepStart(key, 25), { afterOtherWeight: true }, 'a new weight\'s first question: another came before')
      await store.append(at('canary-2', '2026-11-26T07:00:00.000Z', 50, 'request'))
      await store.append(at('canary-2', '2026-11-26T07:05:00.000Z', 25, 'canary'))
      await store.append(at('canary-2', '2026-11-26T07:10:00.000Z', 25))
      await store.append(at('canary-2', '2026-11-26T08:05:00.000Z', 50))
      await store.append(at('canary-2', '2026-11-26T08:10:00.000Z', 50))
      t.same(await store.stepStart(key, 25), { at: new Date('2026-11-26T07:05:00.000Z'), afterOtherWeight: true }, 'the 25% step began with its first question, across stages')
      t.same(await store.stepStart(key, 50), { at: new Date('2026-11-26T08:05:00.000Z'), afterOtherWeight: true }, 'the 50% step: a question with its own since does not start it')
      t.same(await store.stepStart({ ...key, revision: 'r2' }, 25), { afterOtherWeight: false }, 'per revision')
    })

    t.test('the job ledger: each job once by id with its newest state, coverage merged, pruned by age', async (t) => {
      const { store, reopen } = await backend.fresh(t)
      const job = (id: string, agentId: string, state: string, updatedUs: number): LedgerJob => ({ id, agentId, topic: 'job.support.reply', state, updatedUs, attempts: 0 })
      await store.putJobs('acme', [job('j1', 'c1', 'RUNNING', 1_000), job('j2', 's1', 'SUCCEEDED', 2_000), job('j3', 'c1', 'FAILED', 3_000)])
      await store.putJobs('acme', [job('j1', 'c1', 'SUCCEEDED', 5_000), job('j3', 'c1', 'RUNNING', 2_500)])
      await store.putJobs('other', [job('j1', 'c1', 'FAILED', 4_000)])
      const byId = async (agents: string[], since: number, until: number, tenant = 'acme'): Promise<string[]> =>
        (await store.ledgerJobs(tenant, agents, since, until)).map((j) => `${j.id} ${j.state} ${j.updatedUs}`).sort()
      t.same(await byId(['c1'], 0, 10_000), ['j1 SUCCEEDED 5000', 'j3 FAILED 3000'], 'a newer updated_at replaces the row; an older one does not')
      t.same(await byId(['c1', 's1'], 2_000, 4_000), ['j2 SUCCEEDED 2000', 'j3 FAILED 3000'], 'by agent and updated_at, bounds inclusive')
      t.same(await byId(['c1'], 0, 10_000, 'other'), ['j1 FAILED 4000'], 'per tenant')
      await store.addCoverage('acme', 1_000, 2_000)
      await store.addCoverage('acme', 2_000, 3_000)
      await store.addCoverage('acme', 5_000, 6_000)
      t.same(coverageOf(await store.ledgerCoverage('acme', 0, 10_000), 0, 10_000).gaps, [[0, 1_000], [3_000, 5_000], [6_000, 10_000]], 'touching stretches merge, a gap stays')
      t.equal(await store.ledgerMark('acme'), 6_000)
      t.equal(await store.ledgerMark('nobody'), undefined)
      const again = await reopen()
      await again.pruneLedger(2_500)
      t.same((await again.ledgerJobs('acme', ['c1', 's1'], 0, 10_000)).map((j) => j.id).sort(), ['j1', 'j3'], 'reopened, then pruned: older jobs gone')
      t.same(coverageOf(await again.ledgerCoverage('acme', 0, 10_000), 0, 10_000).gaps, [[0, 2_500], [3_000, 5_000], [6_000, 10_000]], 'and coverage before the cut with them')
    })

    t.test('tampering: verify reports the first broken link', async (t) => {
      const cases: [string, (raw: Raw, r: DecisionRecord[]) => Promise<void>, number, RegExp][] = [
        ['the body of record 3 edited', async (raw, r) => await raw.run('UPDATE decisions SET body = replace(body, ?, ?) WHERE id = ?', '"verdict":"pass"', '"verdict":"fail"', r[2]?.id), 3, /does not match its hash/],
        ['the verdict column of record 2 edited', async (raw, r) => await raw.run('UPDATE decisions SET verdict = ? WHERE id = ?', 'fail', r[1]?.id), 2, /column verdict holds 'fail'/],
        ['record 4 deleted', async (raw, r) => await raw.run('DELETE FROM decisions WHERE id = ?', r[3]?.id), 5, /records 4\.\.4 are missing/],
        ['record 3 rewritten and rehashed', async (raw, r) => {
          const forged = { ...(r[2] as DecisionRecord), score: 42 }
          const { hashOf, toRow } = await import('../../src/evidence/record.js')
          const row = toRow({ ...forged, hash: hashOf(forged) as string })
          await raw.run('UPDATE decisions SET body = ?, hash = ?, score = ? WHERE id = ?', row.body, row.hash, row.score, row.id)
        }, 4, /prevHash does not match the hash of record 3/],
        ['the last record deleted', async (raw, r) => await raw.run('DELETE FROM decisions WHERE id = ?', r[5]?.id), 5, /records were removed from the end/],
        ['the first records deleted without an anchor', async (raw, r) => await raw.run('DELETE FROM decisions WHERE seq <= ? AND tenant = ?', 2, r[0]?.tenant), 3, /records 1\.\.2 are missing and no anchor record/],
      ]
      for (const [what, tamper, seq, reason] of cases) {
        const { store, raw } = await backend.fresh(t)
        const records = await fill(store, 6, () => entry({ tenant: 'acme' }))
        await store.append(entry({ tenant: 'globex' }))
        t.equal((await store.verify('acme')).ok, true, `${what}: verifies before`)
        const db = await raw()
        await tamper(db, records)
        await db.close()
        const report = await store.verify('acme')
        t.equal(report.ok, false, `${what}: does not verify`)
        t.equal(report.broken?.seq, seq, `${what}: broken at record ${seq}`)
        t.match(report.broken?.reason, reason, `${what}: ${report.broken?.reason ?? ''}`)
        t.equal((await store.verify('globex')).ok, true, `${what}: another tenant's chain is untouched`)
      }
    })

    t.test('retention prunes behind an anchor record; the rest still verifies; survives a reopen', async (t) => {
      let clock = Date.UTC(2026, 10, 1)
      const { store, reopen, raw } = await backend.fresh(t, () => clock)
      const day = 86_400_000
      const old = await fill(store, 4, () => { clock += day; return entry({ tenant: 'acme', rollout: 'support' }) })
      clock += 20 * day
      const recent = await fill(store, 3, () => { clock += 60_000; return entry({ tenant: 'acme', rollout: 'support' }) })
      const reports = await store.prune(clock - 10 * day, 10)
      t.same(reports, [{ tenant: 'acme', pruned: 4, anchorSeq: 8, prunedThroughSeq: 4 }], 'records 1-4 pruned behind anchor 8')
      for (const r of old) t.equal(await store.get(r.id), undefined, `record ${r.seq} is gone`)
      const report = await store.verify('acme')
      t.equal(report.ok, true, `verifies after pruning: ${report.broken?.reason ?? ''}`)
      t.match(report, { records: 4, first: { seq: 5 }, last: { seq: 8 }, prunedThrough: { seq: 4, anchorSeq: 8 } })
      const listed = await store.list({}, { limit: 50, order: 'asc' })
      t.same(listed.items.map((r) => r.id), recent.map((r) => r.id), 'the anchor is not a decision: list leaves it out')
      t.same(await store.prune(clock - 10 * day, 10), [], 'pruning again finds nothing')
      const reopened = await reopen(() => clock)
      t.equal((await reopened.verify('acme')).ok, true, 'a reopened store (migrations already applied) verifies')
      await reopened.append(entry({ tenant: 'acme' }))
      t.equal((await reopened.verify('acme')).ok, true, 'and keeps chaining after the anchor')
      const db = await raw()
      await db.run('UPDATE decisions SET body = replace(body, ?, ?) WHERE kind = ?', '"retentionDays":10', '"retentionDays":1', 'anchor')
      await db.close()
      t.match(await store.verify('acme'), { ok: false, broken: { seq: 8, reason: /altered/ } }, 'an edited anchor is caught like any record')
    })
  })
}
