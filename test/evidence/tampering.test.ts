/**
 * Tampering by someone with write access to the database (issue 20 items 3 and 4, issue 21's
 * tail cases), on SQLite and PostgreSQL: what the chain detects from the database alone, what
 * EVIDENCE_HMAC_KEY adds, and what only an anchor kept outside the database (a head the gate
 * logged and exported) detects. docs/evidence.md states the same table.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import t from 'tap'
import { ChainVerifier, type Head } from '../../src/evidence/chain.js'
import { PostgresStore } from '../../src/evidence/postgres.js'
import { nextDecision, seal, toRow, type ChainRecord, type DecisionRecord } from '../../src/evidence/record.js'
import { SQLITE_FILE, SqliteStore } from '../../src/evidence/sqlite.js'
import type { EvidenceStore, StoreOptions } from '../../src/evidence/store.js'
import { entry } from '../helpers/evidence.js'
import { postgresAvailable, tempDatabase } from '../helpers/postgres.js'
import { needTool } from '../helpers/tools.js'

const KEY = Buffer.from('a-test-hmac-key-of-at-least-32-characters')

/** Direct SQL on the store's database, as an attacker with write access has it (`?` placeholders). */
interface Raw { run: (sql: string, ...params: unknown[]) => Promise<void>, close: () => Promise<void> }
interface Opened { store: EvidenceStore, raw: () => Promise<Raw> }
type Backend = { name: string, open: (t: Tap, opts: StoreOptions) => Promise<Opened> }
type Tap = { teardown: (fn: () => unknown) => void }

const sqlite: Backend = {
  name: 'sqlite',
  async open (t, opts) {
    const dir = mkdtempSync(join(tmpdir(), 'acg-tamper-'))
    const store = new SqliteStore(dir, opts)
    t.teardown(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) })
    return {
      store,
      raw: async () => {
        const db = new Database(join(dir, SQLITE_FILE))
        return { run: async (sql, ...params) => { db.prepare(sql).run(...params) }, close: async () => { db.close() } }
      },
    }
  },
}

const postgres: Backend = {
  name: 'postgres',
  async open (t, opts) {
    const url = await tempDatabase(t)
    const store = await PostgresStore.open(url, opts)
    t.teardown(async () => await store.close())
    return {
      store,
      raw: async () => {
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        return { run: async (sql, ...params) => { let n = 0; await client.query(sql.replace(/\?/g, () => `$${++n}`), params) }, close: async () => { await client.end() } }
      },
    }
  },
}

/** Writes a record's row as it is (body, hash, every column). */
async function put (raw: Raw, r: ChainRecord): Promise<void> {
  const row = toRow(r)
  await raw.run('UPDATE decisions SET body = ?, hash = ?, prev_hash = ?, seq = ?, verdict = ?, score = ? WHERE id = ?', row.body, row.hash, row.prev_hash, row.seq, row.verdict, row.score, row.id)
}

/**
 * The attacker's rehash: from record `from` on, each record resealed (without the key, which the
 * database does not hold: a plain sha256) on its new predecessor, and the head moved to the last.
 */
async function rehash (raw: Raw, records: DecisionRecord[], from: number, change: (r: DecisionRecord) => DecisionRecord): Promise<void> {
  let prev = from === 1 ? '0'.repeat(64) : (records[from - 2] as DecisionRecord).hash
  let last: ChainRecord | undefined
  for (const r of records.slice(from - 1)) {
    const { hash: _h, mac: _m, ...rest } = r.seq === from ? change(r) : r
    last = seal({ ...rest, prevHash: prev })
    prev = last.hash
    await put(raw, last)
  }
  if (last !== undefined) await raw.run('UPDATE chain_heads SET seq = ?, hash = ? WHERE tenant = ?', last.seq, last.hash, last.tenant)
}

type Case = {
  what: string
  tamper: (raw: Raw, r: DecisionRecord[]) => Promise<void>
  /** What verify says from the database alone, with no key / with the key: a broken seq and reason, or 'ok' (not detected). */
  plain: [number, RegExp] | 'ok'
  keyed: [number, RegExp] | 'ok'
}

const fail = (r: DecisionRecord): DecisionRecord => ({ ...r, verdict: 'pass', score: 100 })

const CASES: Case[] = [
  {
    what: 'a fail turned into a pass, everything after it rehashed, the head moved',
    tamper: async (raw, r) => await rehash(raw, r, 3, fail),
    plain: 'ok',
    keyed: [3, /plain sha256 after record 1 was sealed with the HMAC key/],
  },
  {
    what: 'the last record (a pass) rewritten as a fail and rehashed, the head moved',
    tamper: async (raw, r) => await rehash(raw, r, 6, (x) => ({ ...x, verdict: 'fail', score: 0 })),
    plain: 'ok',
    keyed: [6, /plain sha256 after record 1 was sealed/],
  },
  {
    what: 'the whole chain rewritten without the key (record 1\'s score edited)',
    tamper: async (raw, r) => await rehash(raw, r, 1, (x) => ({ ...x, score: x.score - 1 })),
    plain: 'ok',
    keyed: 'ok',
  },
  {
    what: 'the tail deleted and the head moved back',
    tamper: async (raw, r) => {
      await raw.run('DELETE FROM decisions WHERE id = ?', r[5]?.id)
      await raw.run('UPDATE chain_heads SET seq = ?, hash = ? WHERE tenant = ?', 5, r[4]?.hash, 'acme')
    },
    plain: 'ok',
    keyed: 'ok',
  },
  {
    what: 'the tail deleted, the head left',
    tamper: async (raw, r) => await raw.run('DELETE FROM decisions WHERE id = ?', r[5]?.id),
    plain: [5, /records were removed from the end/],
    keyed: [5, /records were removed from the end/],
  },
  {
    what: 'the head row deleted',
    tamper: async (raw) => await raw.run('DELETE FROM chain_heads WHERE tenant = ?', 'acme'),
    plain: [6, /the chain head is missing/],
    keyed: [6, /the chain head is missing/],
  },
  {
    what: 'records 3 and 4 swapped',
    tamper: async (raw, r) => {
      const [a, b] = [r[2] as DecisionRecord, r[3] as DecisionRecord]
      await raw.run('UPDATE decisions SET seq = ? WHERE id = ?', -1, a.id)
      await raw.run('UPDATE decisions SET seq = ? WHERE id = ?', 3, b.id)
      await raw.run('UPDATE decisions SET seq = ? WHERE id = ?', 4, a.id)
    },
    plain: [3, /column seq holds '3' but the hashed record says '4'/],
    keyed: [3, /column seq holds '3' but the hashed record says '4'/],
  },
]

const pgUp = await postgresAvailable()

for (const backend of [sqlite, postgres]) {
  t.test(`${backend.name}: tampering by someone with write access`, async (t) => {
    if (backend === postgres && !needTool(t, 'PostgreSQL', pgUp, 'a server on 127.0.0.1:5432 with trust auth (PG_TEST_URL overrides)')) return
    for (const keyed of [false, true]) {
      for (const c of CASES) {
        const label = `${keyed ? 'with' : 'without'} EVIDENCE_HMAC_KEY, ${c.what}`
        const { store, raw } = await backend.open(t, keyed ? { key: KEY } : {})
        const records: DecisionRecord[] = []
        for (let i = 0; i < 6; i++) records.push(await store.append(entry(i === 2 ? { tenant: 'acme', deny: 400 } : { tenant: 'acme' })))
        await store.append(entry({ tenant: 'globex' }))
        t.same(records.map((r) => r.verdict), ['pass', 'pass', 'fail', 'pass', 'pass', 'pass'], `${label}: record 3 is a fail, the others pass`)
        const before = await store.verify('acme')
        t.match(before, { ok: true, records: 6 }, `${label}: verifies before`)
        if (keyed) t.equal(before.keyedFrom, 1, `${label}: every record sealed with the key`)
        // What the gate logged and exported before the attack: the anchor outside the database.
        const anchor: Head = { seq: 6, hash: (records[5] as DecisionRecord).hash.slice(0, 13) }
        const db = await raw()
        await c.tamper(db, records)
        await db.close()

        t.ok((await store.tenants()).includes('acme'), `${label}: the tenant is still listed (from its records)`)
        const alone = await store.verify('acme')
        const expected = keyed ? c.keyed : c.plain
        if (expected === 'ok') {
          t.equal(alone.ok, true, `${label}: NOT detected from the database alone`)
        } else {
          t.equal(alone.ok, false, `${label}: detected from the database alone`)
          t.equal(alone.broken?.seq, expected[0], `${label}: at record ${expected[0]}`)
          t.match(alone.broken?.reason, expected[1], `${label}: ${alone.broken?.reason ?? ''}`)
        }
        const anchored = await store.verify('acme', [anchor])
        t.equal(anchored.ok, false, `${label}: detected against the anchor kept outside (${anchored.broken?.reason ?? 'ok'})`)
        t.equal((await store.verify('globex')).ok, true, `${label}: another tenant's chain is untouched`)
      }
    }
  })
}

t.test('keyed records verified without the key, or with another: refused, never passed', async (t) => {
  const records: ChainRecord[] = []
  let head: Head | undefined
  for (let i = 0; i < 3; i++) {
    const r = nextDecision(entry({ tenant: 'acme' }), head, `01a2527e-970e-7000-91f6-f5a3505ec65${i}`, Date.UTC(2026, 10, 26, 9, i), KEY)
    records.push(r)
    head = r
  }
  const verify = (key?: Buffer): ReturnType<ChainVerifier['finish']> => {
    const v = new ChainVerifier('acme', key === undefined ? {} : { key })
    for (const r of records) v.push(toRow(r))
    return v.finish(head)
  }
  t.match(verify(KEY), { ok: true, records: 3, keyedFrom: 1 }, 'with the key: verifies')
  t.match(verify(), { ok: false, broken: { seq: 1, reason: /no EVIDENCE_HMAC_KEY to check it/ } }, 'without it: cannot be checked, so not ok')
  t.match(verify(Buffer.from('another-key-of-at-least-32-characters!!')), { ok: false, broken: { seq: 1, reason: /HMAC does not match/ } }, 'with another key: not ok')
})
