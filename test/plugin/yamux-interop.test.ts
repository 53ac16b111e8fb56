/**
 * The yamux server session against hashicorp/yamux's real client (test/go-host `vectors
 * yamux-client`): three streams echo 1 MiB each at once (four windows each way, so window
 * updates have to flow both ways), keepalive pings every 50 ms (a missed reply kills the
 * session on the Go side), and a reset the Go client must see.
 */
import { execFile } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import t from 'tap'
import { YamuxSession } from '../../src/plugin/yamux/session.js'
import type { YamuxStream } from '../../src/plugin/yamux/stream.js'
import { goProgram } from './helpers/go.js'

async function echo (stream: YamuxStream): Promise<void> {
  const first = await stream.read()
  if (first !== null && first[0] === 'R'.charCodeAt(0)) { stream.reset('asked for a reset'); return }
  const pending: Array<Promise<void>> = []
  for (let chunk = first; chunk !== null; chunk = await stream.read()) pending.push(stream.write(chunk))
  await Promise.all(pending)
  stream.close()
}

t.test('hashicorp/yamux client against the TypeScript server', async (t) => {
  const client = await goProgram(t, 'vectors')
  if (client === undefined) return
  const server = createServer((socket) => {
    const session = new YamuxSession(socket, { onStream: (s) => { void echo(s).catch(() => {}) } })
    session.on('close', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const { port } = server.address() as AddressInfo
  const { stdout } = await promisify(execFile)(client, ['yamux-client', `127.0.0.1:${port}`], { timeout: 60_000 })
  const report = JSON.parse(stdout) as { echoed: number[], pingOk: boolean, resetSeen: boolean, sessionAlive: boolean }
  t.strictSame(report.echoed, [1 << 20, 1 << 20, 1 << 20], 'three 1 MiB echoes, checked by sha256 on the Go side')
  t.equal(report.pingOk, true, 'explicit ping answered')
  t.equal(report.resetSeen, true, 'the Go client sees the RST as ErrConnectionReset')
  t.equal(report.sessionAlive, true, 'keepalive pings answered: the Go session stayed up')
})
