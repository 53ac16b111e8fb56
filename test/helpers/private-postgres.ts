/**
 * A PostgreSQL server of the test's own (initdb into a temp dir, a free loopback port), for the
 * faults that would hurt everyone else's tests on the machine's shared server: a restart, a
 * full disk. It runs as the `postgres` user (PostgreSQL refuses root). With root, its data
 * directory is a small tmpfs of its own, so the disk can really fill up. `privatePostgres`
 * resolves undefined, with the reason, when it cannot: the caller skips visibly (needTool).
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { freePort } from './prometheus.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface PrivatePostgres {
  url: string
  /** The data directory's filesystem is a tmpfs of its own (so `fill` can fill it). */
  ownDisk: boolean
  dir: string
  /** Stops the server (fast) / starts it again; both wait until done, without blocking the event loop. */
  stopServer: () => Promise<void>
  startServer: () => Promise<void>
  /** Fills the disk up (a filler file) / frees it again. */
  fill: () => void
  free: () => void
  stop: () => void
}

function bin (): string | undefined {
  if (!existsSync('/usr/lib/postgresql')) return undefined
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))
  for (const v of versions) if (existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)) return `/usr/lib/postgresql/${v}/bin`
  return undefined
}

function run (cmd: string, args: string[]): { ok: boolean, out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 })
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}` }
}

export async function privatePostgres (): Promise<PrivatePostgres | { reason: string }> {
  const dir = bin()
  if (dir === undefined) return { reason: 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin' }
  if (process.getuid?.() !== 0) return { reason: 'the test must run as root to start PostgreSQL as the postgres user' }
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  if (id.status !== 0) return { reason: 'no postgres user' }
  const uid = Number(id.stdout.trim())
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim())
  const root = mkdtempSync(join(tmpdir(), 'acg-pg-'))
  // A disk of its own, small enough to fill: initdb takes ~40 MB, WAL 16 MB segments.
  const ownDisk = run('mount', ['-t', 'tmpfs', '-o', 'size=192m', 'tmpfs', root]).ok
  const data = join(root, 'data')
  mkdirSync(data)
  chownSync(root, uid, gid)
  chownSync(data, uid, gid)
  const as = (args: string[]): { ok: boolean, out: string } => run('runuser', ['-u', 'postgres', '--', ...args])
  const init = as([`${dir}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  if (!init.ok) return { reason: `initdb failed: ${init.out.slice(-400)}` }
  const port = await freePort()
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_wal_size=64MB -c min_wal_size=32MB`
  const ctl = (...args: string[]): { ok: boolean, out: string } => as([`${dir}/pg_ctl`, '-D', data, '-l', join(root, 'log'), '-w', '-o', opts, ...args])
  const ctlAsync = async (...args: string[]): Promise<void> => {
    await promisify(execFile)('runuser', ['-u', 'postgres', '--', `${dir}/pg_ctl`, '-D', data, '-l', join(root, 'log'), '-w', '-o', opts, ...args], { timeout: 120_000 })
  }
  const started = ctl('start')
  if (!started.ok) return { reason: `pg_ctl start failed: ${started.out.slice(-400)}` }
  const filler = join(root, 'filler')
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    ownDisk,
    dir: root,
    stopServer: async () => { await ctlAsync('stop', '-m', 'fast') },
    startServer: async () => {
      // After a PANIC (a full disk) the server may be down or already back: start it if it is not running.
      const status = await ctlAsync('status').then(() => true, () => false)
      if (!status) await ctlAsync('start')
    },
    fill: () => { run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=1000']) },
    free: () => { rmSync(filler, { force: true }) },
    stop: () => {
      ctl('stop', '-m', 'immediate')
      if (ownDisk) run('umount', ['-l', root])
      rmSync(root, { recursive: true, force: true })
    },
  }
}
