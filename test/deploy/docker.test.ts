/**
 * docker/Dockerfile without a Docker engine: every path it copies from the context exists and
 * is not left out by .dockerignore; the build stage, staged from exactly those paths, builds;
 * the final stage, staged from its own COPY lines and its own `npm ci` (production
 * dependencies only), starts with the image's entry command and answers /healthz, a score
 * and /metrics. So a missing file, a dev-only dependency needed at run time or a wrong entry
 * point fails here.
 */
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { podSpecOf, readObjects, type KubeObject } from '../helpers/kustomize.js'
import { dockerignore, stages, type Stage } from '../helpers/dockerfile.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const text = readFileSync(join(ROOT, 'docker/Dockerfile'), 'utf8')
const all = stages(text)
const build = all[0] as Stage
const final = all.at(-1) as Stage
const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'))

// The staged build runs a real `npm ci` (~100 s alone, longer beside other test files on two
// cores): on the root test, setTimeout also lifts tap's per-file timeout (.taprc, 120 s).
t.setTimeout(420_000)

t.test('multi-stage: build with all dependencies, run with production ones only, non-root, node dist/cli.js serve', async (t) => {
  t.ok(all.length >= 2, `${all.length} stages`)
  t.equal(build.name, 'build')
  for (const s of all) t.match(s.image, /^node:22-bookworm-slim$/, `${s.name ?? 'final'} stage: Node.js 22 LTS`)
  t.equal(build.image, final.image, 'one base image for both stages: the native module is built for the Node ABI that runs it')
  t.ok(build.runs.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')), 'the build stage installs dev dependencies (TypeScript)')
  t.ok(build.runs.includes('npm run build'), 'and runs npm run build')
  t.ok(build.runs.some((r) => /npm prune --omit=dev/.test(r)), 'the build stage prunes to production dependencies after building')
  t.ok(build.runs.some((r) => /npm rebuild better-sqlite3/.test(r)), 'and compiles the native evidence-store module there')
  t.same(final.runs, [], 'the final stage runs nothing: no compiler, no registry')
  t.ok(final.copies.some((c) => c.from === 'build' && c.sources.includes('/app/node_modules')), 'it takes the pruned node_modules from the build stage')
  t.ok(final.copies.some((c) => c.from === 'build' && c.sources.includes('/app/dist')), 'and dist/')
  t.notOk(final.copies.some((c) => c.from === undefined && c.sources.some((s) => s.startsWith('src'))), 'no sources in the final image')
  t.match(final.user, /^[1-9]\d*(:\d+)?$/, 'runs as a numeric non-root user (Kubernetes can verify runAsNonRoot)')
  t.same([...(final.entrypoint ?? []), ...(final.cmd ?? [])], ['node', 'dist/cli.js', 'serve'], 'entry: node dist/cli.js serve')

  const pod = podSpecOf(readObjects(join(ROOT, 'deploy/base/deployment.yaml'))[0] as KubeObject)
  t.equal(String(pod?.securityContext?.runAsUser), final.user?.split(':')[0], 'the Deployment runs as the image\'s user')
  t.same(final.expose, [pod?.containers[0]?.ports?.[0]?.containerPort], 'EXPOSE is the Deployment\'s container port')
})

t.test('every path copied from the context exists and is not excluded by .dockerignore', async (t) => {
  const fromContext = all.flatMap((s) => s.copies.filter((c) => c.from === undefined)).flatMap((c) => c.sources)
  t.ok(fromContext.length >= 5, fromContext.join(', '))
  for (const source of fromContext) {
    t.ok(existsSync(join(ROOT, source)), `${source} exists`)
    t.notOk(ignored(source), `${source} is in the build context`)
  }
  for (const local of ['node_modules', 'dist', '.git', 'test/http/e2e.test.ts', 'deploy/base/deployment.yaml', 'src/node_modules/x', '.scratch/notes.md']) {
    t.ok(ignored(local), `${local} stays out of the context`)
  }
})

/** Stages one Dockerfile stage into `dir`: its COPY lines (context or earlier stages), WORKDIR as the root. */
function copyInto (stage: Stage, dir: string, stageDirs: Map<string, { dir: string, workdir: string }>): void {
  for (const c of stage.copies) {
    for (const source of c.sources) {
      let from: string
      if (c.from === undefined) {
        from = join(ROOT, source)
      } else {
        const origin = stageDirs.get(c.from)
        if (origin === undefined) throw new Error(`COPY --from=${c.from}: no such stage`)
        from = join(origin.dir, relative(origin.workdir, source))
      }
      if (!existsSync(from)) throw new Error(`Dockerfile line ${c.line}: ${source} does not exist`)
      const to = c.dest.endsWith('/') ? join(dir, c.dest, source.split('/').at(-1) as string) : join(dir, c.dest)
      mkdirSync(dirname(to), { recursive: true })
      cpSync(from, to, { recursive: true })
    }
  }
}

function run (command: string, cwd: string, env: Record<string, string> = {}): { status: number | null, output: string } {
  const r = spawnSync('sh', ['-c', command], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240_000 })
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-2000) }
}

t.test('staged like the image: the build stage builds, the final stage starts and answers', { timeout: 400_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'agent-canary-image-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  const stageDirs = new Map<string, { dir: string, workdir: string }>()

  // Build stage: its COPY lines, then its RUN lines, for real but offline (from npm's cache:
  // tests use only loopback; `npm ci` or `npm install` of this checkout filled it). Its
  // apt-get line is the one step not run: it installs the compiler this machine already has.
  const offline = { npm_config_offline: 'true', npm_config_update_notifier: 'false' }
  const buildDir = join(tmp, 'build')
  mkdirSync(buildDir)
  copyInto(build, buildDir, stageDirs)
  for (const command of build.runs) {
    if (/^apt-get\b/.test(command)) {
      for (const tool of ['python3', 'make', 'g++']) t.ok(spawnSync(tool, ['--version']).status === 0, `build stage: ${tool} (apt-get in the image) is on this machine`)
      continue
    }
    const r = run(command, buildDir, offline)
    t.equal(r.status, 0, `build stage: ${command}${r.status === 0 ? '' : `\n${r.output}`}`)
  }
  t.ok(existsSync(join(buildDir, 'dist/cli.js')), 'npm run build produced dist/cli.js from the copied files alone')
  stageDirs.set(build.name as string, { dir: buildDir, workdir: build.workdir })

  // Final stage: its COPY lines (it runs nothing).
  const app = join(tmp, 'app')
  mkdirSync(app)
  copyInto(final, app, stageDirs)
  t.ok(existsSync(join(app, 'node_modules/fastify')) && existsSync(join(app, 'node_modules/prom-client')), 'production dependencies installed')
  t.ok(existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')), 'the native evidence-store module is built')
  for (const dev of ['typescript', 'tap', 'tsx']) t.notOk(existsSync(join(app, 'node_modules', dev)), `no dev dependency ${dev}`)
  t.notOk(existsSync(join(app, 'src')), 'no sources')

  const [command, ...args] = [...(final.entrypoint ?? []), ...(final.cmd ?? [])] as [string, ...string[]]
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += String(d) })
  child.stderr.on('data', (d: Buffer) => { out += String(d) })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the entry command did not start:\n${out}`)), 30_000)
    const check = (): void => {
      const m = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1] as string) }
    }
    child.stdout.on('data', check)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the entry command exited ${code}:\n${out}`)) })
  })
  const health = await request(`${url}/healthz`)
  t.same(await health.body.json(), { status: 'ok' }, `node ${args.join(' ')} serves /healthz`)
  const score = await request(`${url}/api/v1/score?stage=canary-1&canary=support-agent-healthy&baseline=support-agent-stable`)
  t.match(await score.body.json(), { verdict: 'pass' }, 'and scores (demo mode)')
  const metrics = await request(`${url}/metrics`)
  t.match(await metrics.body.text(), /agentcanary_verdicts_total\{stage="canary-1",verdict="pass"\} 1/, 'and serves /metrics')
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM: exits 0')
})
