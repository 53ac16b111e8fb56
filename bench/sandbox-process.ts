/**
 * The bench's Cordum sandbox in its own process (so the gate's RSS is the gate's alone): the
 * bench profile from BENCH_PROFILE (JSON), on 127.0.0.1 and a free port. Prints one JSON
 * line {"url": ...} once listening; stops on SIGTERM or when stdin closes (the runner died).
 *
 * Its clock is the wall clock unless the runner pins it over the IPC channel ({ nowMs }, null to
 * unpin; answered { nowMs } once set): the capped jobs list (jobsCap) is the newest jobs as of
 * that clock, so a measurement can see the list as Cordum holds it when its window ends.
 */
import { once } from 'node:events'
import type { BenchProfile } from '../src/sandbox/bench.js'
import { startSandbox } from '../src/sandbox/gateway.js'

const profile = JSON.parse(process.env.BENCH_PROFILE ?? '') as BenchProfile
let pinned: number | null = null
process.on('message', (m: { nowMs: number | null }) => {
  pinned = m.nowMs
  process.send?.({ nowMs: pinned })
})
const sb = await startSandbox({ bench: profile, host: '127.0.0.1', port: 0, now: () => pinned ?? Date.now() })
process.stdout.write(`${JSON.stringify({ url: sb.url })}\n`)
process.stdin.resume()
await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT'), once(process.stdin, 'end')])
await sb.close()
process.disconnect?.()
process.exit(0)
