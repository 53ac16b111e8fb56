/**
 * PostgreSQL losing a connection the gate holds: an administrator terminating its backend
 * while an append waits inside its transaction. The client is checked out then (the pool's
 * own error listener covers idle clients only), so without a listener of its own its 'error'
 * event would be uncaught and end the process. Here the append must fail as
 * GATE_ERR_EVIDENCE_UNAVAILABLE, the process live on, and the next append succeed on a new
 * connection with the chain intact.
 */
import pg from 'pg'
import t from 'tap'
import { PostgresStore } from '../../src/evidence/postgres.js'
import { isGateError } from '../../src/errors.js'
import { entry } from '../helpers/evidence.js'
import { postgresAvailable, tempDatabase } from '../helpers/postgres.js'
import { needTool } from '../helpers/tools.js'

const LOCK_CHAIN = 0x61636731

t.test('a backend terminated while an append holds its client: 503, no exit, the next append works', async (t) => {
  if (!needTool(t, 'PostgreSQL', await postgresAvailable(), 'a server on 127.0.0.1:5432 (PG_TEST_URL)')) return
  const url = await tempDatabase(t)
  const store = await PostgresStore.open(url)
  t.teardown(async () => await store.close())
  await store.append(entry({ tenant: 'acme' }))

  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  t.teardown(async () => await admin.end())
  // Hold the tenant's chain lock, so the store's append waits inside its transaction on a
  // checked-out client: the moment the load hit by chance, made certain.
  await admin.query('BEGIN')
  await admin.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CHAIN, 'acme'])
  const uncaught: unknown[] = []
  const onUncaught = (err: unknown): void => { uncaught.push(err) }
  process.on('uncaughtException', onUncaught)
  t.teardown(() => { process.off('uncaughtException', onUncaught) })

  const pending = store.append(entry({ tenant: 'acme' })).then(() => undefined, (err: unknown) => err)
  let waiting: number[] = []
  for (let i = 0; i < 200 && waiting.length === 0; i++) {
    waiting = (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")).rows.map((r) => r.pid)
    if (waiting.length === 0) await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.equal(waiting.length, 1, 'the append waits on the chain lock in its own backend')
  await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [waiting])
  const err = await pending
  await admin.query('COMMIT')
  t.ok(isGateError(err) && err.code === 'GATE_ERR_EVIDENCE_UNAVAILABLE', `the append fails as GATE_ERR_EVIDENCE_UNAVAILABLE (got ${String((err as Error | undefined)?.message)})`)
  // The client's 'error' is emitted on the next turn after the socket ends.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(uncaught, [], 'no uncaught error: the process would have exited')

  const next = await store.append(entry({ tenant: 'acme' }))
  t.equal(next.seq, 2, 'the next append succeeds on a new connection, and the lost one left no record')
  t.match(await store.verify('acme'), { ok: true, records: 2 }, 'the chain verifies')
})
