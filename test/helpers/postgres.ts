/**
 * A throwaway PostgreSQL database per test: created on the local server (PG_TEST_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres, trust auth) and dropped at teardown. Tests call
 * `postgresAvailable` and `needTool` first, so a laptop without PostgreSQL skips visibly.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const ADMIN_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export async function postgresAvailable (): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

async function admin<T> (fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Creates a database named acg_test_<random>; returns its URL. Dropped (with its connections) at teardown. */
export async function tempDatabase (t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const name = `acg_test_${randomBytes(6).toString('hex')}`
  await admin(async (c) => await c.query(`CREATE DATABASE ${name}`))
  t.teardown(async () => await admin(async (c) => await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}
