/**
 * The database fault table (issue 20): gates under load while their evidence store fails. For
 * each fault: no gate process exits; a request the fault hits is answered 503
 * GATE_ERR_EVIDENCE_UNAVAILABLE (never a verdict without its record); the gate recovers without
 * a restart; and afterwards the chain verifies, holding every decision that was answered.
 *   - PostgreSQL, two replicas, on a server of the test's own (the machine's shared server is
 *     never restarted or filled): connections terminated, the server restarted, a statement
 *     timeout, the database read-only, the disk full.
 *   - SQLite, one gate: the database locked by another writer, the disk full.
 * The figures are printed as a table (docs/reliability.md shows a run). Without root or the
 * PostgreSQL server binaries the PostgreSQL half skips with a message; .ci/run makes it required.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { dispatcher, once, scoreUrls, type Answer } from '../helpers/load.js'
import { privatePostgres } from '../helpers/private-postgres.js'
import { runCli, serve, waitFor, type Proc } from '../helpers/process.js'
import { needTool } from '../helpers/tools.js'

type Tap = Test
interface Gate { proc: Proc, url: string }
interface Row { fault: string, answered: number, unavailable: number, other: number, exits: number, lost: number }

// Two gate processes, a sandbox and a PostgreSQL server of its own, through five faults: past
// the 120 s .taprc gives a file on a loaded machine.
t.setTimeout(600_000)

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

function kill (p: Proc): void {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
}

/** Two clients per gate, each sending the next distinct question when the last is answered. */
function loadOn (gates: Gate[]): { answers: Array<Answer & { gate: number, at: number }>, stop: () => Promise<void> } {
  const answers: Array<Answer & { gate: number, at: number }> = []
  // An object, not a boolean: the loops read it after stop() sets it, between awaits.
  const state = { stopped: false }
  const agent = dispatcher(8)
  const nexts = gates.map((g) => scoreUrls(g.url))
  const loops = gates.flatMap((_, gate) => [0, 1].map(async () => {
    while (!state.stopped) {
      const answer = await once((nexts[gate] as () => string)(), agent)
      answers.push({ ...answer, gate, at: performance.now() })
      if (answer.status !== 200) await sleep(100)
    }
  }))
  return { answers, stop: async () => { state.stopped = true; await Promise.all(loops); await agent.close() } }
}

/**
 * Runs one fault under load: `inject`, hold it `holdMs`, `heal`, then wait for every gate to
 * answer 200 again. Checks the answers of the whole phase; returns its row of the table.
 */
async function phase (t: Tap, name: string, gates: Gate[], inject: () => Promise<void>, heal: () => Promise<void>, holdMs: number, hit: boolean): Promise<{ row: Row, ids: string[] }> {
  const load = loadOn(gates)
  while (load.answers.filter((a) => a.status === 200).length < 4) await sleep(50)
  await inject()
  await sleep(holdMs)
  await heal()
  const healed = performance.now()
  const recovered = (): boolean => gates.every((_, g) => load.answers.filter((a) => a.gate === g && a.at > healed && a.status === 200).length >= 3)
  for (let i = 0; i < 600 && !recovered(); i++) await sleep(50)
  await load.stop()
  const answered = load.answers.filter((a) => a.status === 200)
  const unavailable = load.answers.filter((a) => a.status === 503 && a.code === 'GATE_ERR_EVIDENCE_UNAVAILABLE')
  const other = load.answers.filter((a) => a.status !== 200 && !(a.status === 503 && a.code === 'GATE_ERR_EVIDENCE_UNAVAILABLE'))
  const exits = gates.filter((g) => g.proc.child.exitCode !== null || g.proc.child.signalCode !== null).length
  t.equal(exits, 0, `${name}: no gate process exited`)
  t.same(other.map((a) => `${a.status} ${a.code ?? a.error ?? ''}`), [], `${name}: every answer is a 200 or a 503 GATE_ERR_EVIDENCE_UNAVAILABLE`)
  t.ok(answered.every((a) => a.decisionId !== undefined), `${name}: every 200 names its decision record`)
  if (hit) t.ok(unavailable.length > 0, `${name}: the fault was felt: ${unavailable.length} requests answered 503 GATE_ERR_EVIDENCE_UNAVAILABLE`)
  t.ok(recovered(), `${name}: every gate answers 200 again after the fault, without a restart`)
  return { row: { fault: name, answered: answered.length, unavailable: unavailable.length, other: other.length, exits, lost: 0 }, ids: answered.map((a) => a.decisionId as string) }
}

/** Every answered decision is stored, and every chain verifies, through the gate's own API. */
async function settle (t: Tap, gate: Gate, rows: Row[], ids: Map<string, string>): Promise<void> {
  const verify = await request(`${gate.url}/api/v1/decisions/verify`)
  const report = await verify.body.json() as { ok: boolean, tenants: Array<{ records: number }> }
  t.equal(report.ok, true, 'afterwards every chain verifies')
  for (const row of rows) {
    const lost: string[] = []
    for (const [id, fault] of ids) {
      if (fault !== row.fault) continue
      const res = await request(`${gate.url}/api/v1/decisions/${id}`)
      await res.body.text()
      if (res.statusCode !== 200) lost.push(id)
    }
    row.lost = lost.length
    t.same(lost, [], `${row.fault}: every answered decision is stored`)
  }
  t.comment(['| fault | answered 200 | 503 evidence unavailable | other answers | exits | records lost |', '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.fault} | ${r.answered} | ${r.unavailable} | ${r.other} | ${r.exits} | ${r.lost} |`)].join('\n'))
}

async function sandbox (t: Tap): Promise<string> {
  const proc = runCli(['sandbox', '--port', '0'], {})
  t.teardown(() => kill(proc))
  const [, url] = await waitFor(proc, /Cordum sandbox listening at (http:\/\/\S+)/) as [string, string]
  return url
}

const GATE_ENV = { CORDUM_API_KEY: 'sandbox-admin-key', LOG_LEVEL: 'warn', SCORE_REUSE_SECONDS: '0', SHED_EVENT_LOOP_DELAY_MS: '0', SHED_EVENT_LOOP_UTILIZATION: '0' }

async function gateOn (t: Tap, env: Record<string, string>): Promise<Gate> {
  // serve() waits for the listening line, which LOG_LEVEL=warn would hide: info to start.
  const gate = await serve({ ...GATE_ENV, LOG_LEVEL: 'info', ...env })
  t.teardown(() => kill(gate.proc))
  return gate
}

t.test('PostgreSQL faults under load, two replicas', { timeout: 600_000 }, async (t) => {
  const server = await privatePostgres()
  if (!needTool(t, 'a private PostgreSQL server', !('reason' in server), 'reason' in server ? server.reason : '')) return
  if ('reason' in server) return
  t.teardown(() => server.stop())
  const admin = async (sql: string): Promise<void> => {
    const c = new pg.Client({ connectionString: server.url })
    await c.connect()
    try { await c.query(sql) } finally { await c.end() }
  }
  await admin('CREATE DATABASE acg')
  const url = server.url.replace(/\/postgres$/, '/acg')
  const terminate = async (): Promise<void> => await admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'acg'")
  const cordum = await sandbox(t)
  const gates = [await gateOn(t, { CORDUM_URL: cordum, EVIDENCE_URL: url }), await gateOn(t, { CORDUM_URL: cordum, EVIDENCE_URL: url })]
  const rows: Row[] = []
  const ids = new Map<string, string>()
  const run = async (name: string, inject: () => Promise<void>, heal: () => Promise<void>, holdMs: number, hit: boolean): Promise<void> => {
    const { row, ids: answered } = await phase(t, name, gates, inject, heal, holdMs, hit)
    rows.push(row)
    for (const id of answered) ids.set(id, name)
  }
  await run('connections terminated (3 times)', async () => { for (let i = 0; i < 3; i++) { await terminate(); await sleep(300) } }, async () => {}, 500, false)
  await run('server restarted', server.stopServer, server.startServer, 2_000, true)
  await run('statement timeout (1 ms)', async () => { await admin("ALTER DATABASE acg SET statement_timeout = '1ms'"); await terminate() },
    async () => { await admin('ALTER DATABASE acg RESET statement_timeout'); await terminate() }, 2_000, true)
  await run('database read-only', async () => { await admin('ALTER DATABASE acg SET default_transaction_read_only = on'); await terminate() },
    async () => { await admin('ALTER DATABASE acg RESET default_transaction_read_only'); await terminate() }, 2_000, true)
  if (needTool(t, 'a disk of its own for the PostgreSQL data (a tmpfs)', server.ownDisk, 'run as root, so the test can mount a small tmpfs and fill it')) {
    await run('disk full', async () => { server.fill() }, async () => { server.free(); await server.startServer() }, 3_000, true)
  }
  await settle(t, gates[0] as Gate, rows, ids)
})

t.test('SQLite faults under load', { timeout: 300_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'acg-sqlite-faults-'))
  // A disk of its own, small enough to fill (root only; otherwise the disk-full case is skipped).
  const ownDisk = process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', dataDir]).status === 0
  t.teardown(() => {
    if (ownDisk) spawnSync('umount', ['-l', dataDir])
    rmSync(dataDir, { recursive: true, force: true })
  })
  mkdirSync(join(dataDir, 'store'))
  const store = join(dataDir, 'store')
  const cordum = await sandbox(t)
  const gate = await gateOn(t, { CORDUM_URL: cordum, DATA_DIR: store })
  const rows: Row[] = []
  const ids = new Map<string, string>()
  const run = async (name: string, inject: () => Promise<void>, heal: () => Promise<void>, holdMs: number, hit: boolean): Promise<void> => {
    const { row, ids: answered } = await phase(t, name, [gate], inject, heal, holdMs, hit)
    rows.push(row)
    for (const id of answered) ids.set(id, name)
  }
  // Another writer holds the file locked past the gate's 5 s budget for a write.
  // Waiting for the lock must not stop the gate: /healthz, asked while the lock is held, is
  // answered before it is released (SQLite's own busy wait would hold the event loop).
  let locker: Database.Database | undefined
  let healthz: Promise<number> | undefined
  await run('database locked by another writer', async () => {
    locker = new Database(join(store, 'evidence.sqlite'))
    locker.exec('BEGIN IMMEDIATE')
    await sleep(1_000)
    healthz = request(`${gate.url}/healthz`).then(async (r) => { await r.body.text(); return r.statusCode })
  }, async () => {
    const answered = await Promise.race([healthz, sleep(0).then(() => 'still waiting')])
    t.equal(answered, 200, 'database locked: /healthz answered while the lock is still held')
    locker?.exec('COMMIT')
    locker?.close()
  }, 7_000, true)
  if (needTool(t, 'a disk of its own for DATA_DIR (a tmpfs)', ownDisk, 'run as root, so the test can mount a small tmpfs and fill it')) {
    const filler = join(dataDir, 'filler')
    await run('disk full', async () => { spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=100']) }, async () => { rmSync(filler, { force: true }) }, 2_000, true)
  }
  await settle(t, gate, rows, ids)
})
