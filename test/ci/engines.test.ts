/**
 * Which Node.js versions the project supports, and the EBADENGINE warnings `npm install` gives
 * on this machine's Node: exactly the ones the README explains, from packages the running
 * service never loads.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { readConfig } from '../../src/config/env.js'
import { buildServer } from '../../src/http/server.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** Packages whose engines exclude some supported Node, why that is harmless, and the Node majors they warn on. */
const EXPLAINED: Record<string, { loadedBy: string, warnsBelow: number }> = {
  'cookie@2.0.2': { loadedBy: 'light-my-request', warnsBelow: 22 },
  '@grafana/lezer-logql@0.4.2': { loadedBy: 'the tests\' LogQL checks', warnsBelow: 24 },
}

t.test('the engines field and the README say which Node.js versions are supported; the images run Node.js 22 LTS', async (t) => {
  t.equal(pkg.engines.node, '^20.18.1 || >=22', 'Node 20 from 20.18.1 (undici 7), and 22 onwards')
  t.match(readme, /Node\.js 22 LTS, which the images run, or Node\.js 20 from 20\.18\.1 \(the `engines` field:\n`\^20\.18\.1 \|\| >=22`\)/)
  for (const file of ['docker/Dockerfile', 'docker/controller-with-plugin.Dockerfile']) {
    const node = [...readFileSync(join(ROOT, file), 'utf8').matchAll(/^FROM (\S+)/gm)].map((m) => m[1] as string).filter((i) => /node/.test(i))
    t.ok(node.length > 0 && node.every((i) => /^(node:22-|gcr\.io\/distroless\/nodejs22-)/.test(i)), `${file}: ${node.join(', ')}`)
  }
  const [major] = process.versions.node.split('.').map(Number) as [number]
  t.ok(major === 20 || major >= 22, `this machine's Node ${process.version} is a supported one`)
})

t.test('npm install warns EBADENGINE only for the packages the README explains', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'acg-engines-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f))
  // A dry run from the lock file: npm checks every package's engines against this Node, offline.
  const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', timeout: 120_000 })
  t.equal(r.status, 0, `npm ci --dry-run: ${r.stderr.slice(-400)}`)
  const warned = [...`${r.stdout}${r.stderr}`.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((m) => m[1] as string).sort()
  const major = Number(process.versions.node.split('.')[0])
  const expected = Object.entries(EXPLAINED).filter(([, e]) => major < e.warnsBelow).map(([name]) => name).sort()
  t.same(warned, expected, `on Node ${process.version}: ${warned.join(', ') || 'no warning'}`)
  for (const name of Object.keys(EXPLAINED)) t.ok(readme.includes(`\`${name}\``), `the README explains ${name}`)
})

t.test('the running service never loads light-my-request or cookie (only app.inject() does, in tests)', async (t) => {
  const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', EVIDENCE_URL: 'none' }), { underPressure: false })
  t.teardown(async () => await gate.app.close())
  await gate.app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(gate.app.server.address() as { port: number }).port}`
  for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/score?stage=canary-1&canary=support-agent-healthy&baseline=support-agent-stable']) {
    const res = await request(`${url}${path}`)
    await res.body.dump()
    t.equal(res.statusCode, 200, path)
  }
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /[\\/]node_modules[\\/](light-my-request|cookie)[\\/]/.test(p))
  t.same(loaded, [], 'neither is in the module cache')
})
