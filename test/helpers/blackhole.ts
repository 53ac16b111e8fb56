/**
 * A loopback port where TCP connects hang: a child process listens with a backlog of 1 and then
 * blocks its event loop, so it never accepts; once the kernel's accept queue is full, further
 * SYNs are dropped and a client's connect times out. Real connect timeouts on loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'

export interface Blackhole { port: number, close: () => Promise<void> }

const CHILD = `
const net = require('node:net')
const server = net.createServer()
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(String(server.address().port) + '\\n')
  // Give the parent time to fill the accept queue, then never run the event loop again.
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000), 50)
})
`

export async function blackhole (): Promise<Blackhole> {
  const child: ChildProcess = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim())))
  })
  await new Promise((r) => setTimeout(r, 150))
  // Fill the accept queue (backlog + 1 on Linux) so later SYNs are dropped.
  const fillers: Socket[] = []
  for (let i = 0; i < 4; i++) {
    const s = connect({ port, host: '127.0.0.1' })
    s.on('error', () => {})
    fillers.push(s)
  }
  await new Promise((r) => setTimeout(r, 100))
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy()
      child.kill('SIGKILL')
      await new Promise((r) => child.once('exit', r))
    },
  }
}
