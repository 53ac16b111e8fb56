/**
 * What a verify of a long chain costs the event loop (docs/reliability.md, "Verifying the
 * chains"): fills a SQLite store in DIR with N decision records of tenant acme (once; a second
 * run reuses them), then verifies the chain while measuring the event loop's delay.
 *
 *   npx tsx scripts/verify-loop.ts [DIR] [N]     # default /tmp/acg-verify-loop 40000
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { SqliteStore } from '../src/evidence/sqlite.js'
import { entry } from '../test/helpers/evidence.js'

const dir = process.argv[2] ?? '/tmp/acg-verify-loop'
const n = Number(process.argv[3] ?? 40_000)
const store = new SqliteStore(dir)
const e = entry({ tenant: 'acme' })
for (let i = (await store.verify('acme')).records; i < n; i++) await store.append(e)
const delay = monitorEventLoopDelay({ resolution: 5 })
delay.enable()
const started = performance.now()
const report = await store.verify('acme')
const ms = performance.now() - started
delay.disable()
console.log(JSON.stringify({ records: report.records, ok: report.ok, verifyMs: Math.round(ms), maxLoopDelayMs: Math.round(delay.max / 1e6), p99LoopDelayMs: Math.round(delay.percentile(99) / 1e6) }))
await store.close()
