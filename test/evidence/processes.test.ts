/**
 * The evidence store and the rollback action across real processes: two gate replicas on one
 * PostgreSQL write one unbroken chain under concurrent load and start exactly one rollback run
 * between them; a gate killed with SIGKILL in the middle of writing restarts on a store that
 * verifies and holds every record it answered with.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { request } from 'undici'
import { postgresAvailable, tempDatabase } from '../helpers/postgres.js'
import { runCli, serve, waitFor, type Proc } from '../helpers/process.js'
import { needTool } from '../helpers/tools.js'

const GATES = `rollout_gates:
  stages:
    canary-1:
      on_fail: { workflow: wf-support-rollback, input: { revision: "{{revision}}" } }
`
const ADMIN = { 'x-api-key': 'sandbox-admin-key' }

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await request(url, { headers })
  return { status: res.statusCode, body: await res.body.json() }
}

function score (base: string, canary: string, revision: string): string {
  return `${base}/api/v1/score?${new URLSearchParams({ stage: 'canary-1', canary, baseline: 'support-agent-stable', rollout: 'support-agent', namespace: 'prod', revision }).toString()}`
}

/** `count` score requests, `parallel` at a time; resolves with the answers that came back (errors counted apart). */
async function load (urls: string[], count: number, parallel: number, pick: (i: number) => [string, string]): Promise<{ ok: { status: number, body: any }[], failed: number }> {
  const ok: { status: number, body: any }[] = []
  let failed = 0
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++
      const [canary, revision] = pick(i)
      try {
        const r = await get(score(urls[i % urls.length] as string, canary, revision))
        if (r.status === 200) ok.push(r)
        else failed++
      } catch {
        failed++
      }
    }
  }))
  return { ok, failed }
}

function kill (p: Proc): void {
  if (p.child.exitCode === null) p.child.kill('SIGKILL')
}

const pgUp = await postgresAvailable()

t.test('two gates on one PostgreSQL: one unbroken chain, exactly one rollback run, a replica killed mid-write', async (t) => {
  if (!needTool(t, 'PostgreSQL', pgUp, 'a server on 127.0.0.1:5432 with trust auth (PG_TEST_URL overrides)')) return
  const url = await tempDatabase(t)
  const dir = mkdtempSync(join(tmpdir(), 'acg-proc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'gates.yaml'), GATES)
  const sandbox = runCli(['sandbox', '--port', '0'], {})
  t.teardown(() => kill(sandbox))
  const [, cordum] = await waitFor(sandbox, /Cordum sandbox listening at (http:\/\/\S+)/) as [string, string]
  // Every request evaluated and recorded (no answer reuse): the point is many concurrent writers.
  const env = { CORDUM_URL: cordum, CORDUM_API_KEY: 'sandbox-admin-key', EVIDENCE_URL: url, GATES_FILE: join(dir, 'gates.yaml'), SCORE_REUSE_SECONDS: '0' }
  const [a, b] = await Promise.all([serve(env), serve(env)])
  t.teardown(() => { kill(a.proc); kill(b.proc) })

  // 80 requests over both replicas, 12 in flight: failing and healthy canaries interleaved.
  const first = await load([a.url, b.url], 80, 12, (i) => [i % 2 === 0 ? 'support-agent-failing' : 'support-agent-healthy', 'rev-1'])
  t.equal(first.failed, 0, 'every request answered 200')
  const fails = first.ok.filter((r) => r.body.verdict === 'fail')
  t.equal(fails.length, 40, '40 fails')
  const runIds = new Set(fails.map((r) => r.body.actions?.rollback?.runId))
  t.equal(runIds.size, 1, `both replicas report the same run (${[...runIds].join(', ')})`)
  const runs = await get(`${cordum}/api/v1/workflow-runs?workflow_id=wf-support-rollback`, ADMIN)
  t.equal(runs.body.items.length, 1, 'Cordum started exactly one rollback run')
  const verify = await get(`${a.url}/api/v1/decisions/verify`)
  t.match(verify.body, { ok: true, tenants: [{ tenant: 'default', ok: true, records: 80 }] }, 'one chain of 80 records verifies')

  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(async () => await db.end())
  const counts = (await db.query<{ n: string, seqs: string, top: string }>('SELECT count(*) AS n, count(DISTINCT seq) AS seqs, max(seq) AS top FROM decisions WHERE tenant = $1', ['default'])).rows[0]
  t.same(counts, { n: '80', seqs: '80', top: '80' }, 'seq 1..80: no fork, no gap')

  // Load both again and SIGKILL replica B while it writes.
  let answeredByB = 0
  const during = load([a.url, b.url], 400, 12, (i) => ['support-agent-failing', `rev-${2 + (i % 3)}`])
  const killer = (async () => {
    while (answeredByB < 15) {
      const n = (await db.query<{ n: string }>('SELECT count(*) AS n FROM decisions')).rows[0]?.n
      answeredByB = Number(n) - 80
      await new Promise((r) => setTimeout(r, 10))
    }
    b.proc.child.kill('SIGKILL')
  })()
  const [after] = await Promise.all([during, killer])
  t.equal(await b.proc.exited, null, 'replica B died of SIGKILL')
  t.ok(after.failed > 0, `requests to the dead replica failed (${after.failed})`)
  const again = await get(`${a.url}/api/v1/decisions/verify`)
  t.equal(again.body.ok, true, `the chain still verifies: ${JSON.stringify(again.body.tenants[0]?.broken ?? {})}`)
  t.ok(again.body.tenants[0].records >= 80 + after.ok.length, `every answered decision is recorded (${again.body.tenants[0].records as number} records, ${after.ok.length} answers since)`)
  for (const r of after.ok.slice(0, 40)) {
    t.equal((await get(`${a.url}/api/v1/decisions/${r.body.decisionId as string}`)).status, 200)
  }
  const runs2 = await get(`${cordum}/api/v1/workflow-runs?workflow_id=wf-support-rollback`, ADMIN)
  t.equal(runs2.body.items.length, 4, 'one run per analysis: rev-1 and rev-2..4, despite the kill')
  const c = await serve(env)
  t.teardown(() => kill(c.proc))
  t.equal((await get(`${c.url}/api/v1/decisions/verify`)).body.ok, true, 'a replica started after the kill verifies the chain too')
})

t.test('SQLite: a gate killed with SIGKILL mid-write restarts on a store that verifies', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'acg-kill-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // Every request evaluated and recorded (no answer reuse), so writes are under way at the kill.
  const env = { CORDUM_URL: '', DATA_DIR: dataDir, SCORE_REUSE_SECONDS: '0' }
  const first = await serve(env)
  t.teardown(() => kill(first.proc))
  let answered = 0
  const ids: string[] = []
  const loadUntilKilled = Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; i < 200; i++) {
      try {
        const r = await get(score(first.url, w % 2 === 0 ? 'support-agent-failing' : 'support-agent-healthy', `rev-${w}`))
        if (r.status === 200) { answered++; ids.push(r.body.decisionId) }
      } catch {
        return
      }
    }
  }))
  // eslint-disable-next-line no-unmodified-loop-condition -- the clients' callbacks count `answered` up while this waits.
  while (answered < 40) await new Promise((r) => setTimeout(r, 5))
  first.proc.child.kill('SIGKILL')
  await loadUntilKilled
  t.equal(await first.proc.exited, null, 'killed')
  const second = await serve(env)
  t.teardown(() => kill(second.proc))
  const verify = await get(`${second.url}/api/v1/decisions/verify`)
  t.equal(verify.body.ok, true, `verifies after the kill: ${JSON.stringify(verify.body.tenants[0]?.broken ?? {})}`)
  t.ok(verify.body.tenants[0].records >= ids.length, `${verify.body.tenants[0].records as number} records >= ${ids.length} answers`)
  for (const id of ids) t.equal((await get(`${second.url}/api/v1/decisions/${id}`)).status, 200, `answered decision ${id} is stored`)
  const more = await get(score(second.url, 'support-agent-healthy', 'rev-after'))
  t.equal(more.status, 200, 'and it keeps recording')
  t.equal((await get(`${second.url}/api/v1/decisions/verify`)).body.ok, true)
})
