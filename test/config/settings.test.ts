/**
 * The one table of settings (src/config/settings.ts) and the three things made from it agree:
 * the validation at start (readConfig reads exactly the table's variables, with the table's
 * defaults and ranges), `serve --help`, and docs/configuration.md (written by
 * `npm run docs:settings`, which must have been run since the table last changed).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { serve } from '../../src/cli/serve.js'
import { readConfig } from '../../src/config/env.js'
import { SETTINGS, type Setting } from '../../src/config/settings.js'
import { CONFIGURATION_DOC, withSettingsTable } from '../../scripts/settings-doc.js'

type Env = Record<string, string | undefined>

/** What every `requires` needs, so that each setting is read. */
function prerequisites (s: Setting): Env {
  if (s.requires === undefined) return {}
  const needed = SETTINGS.find((x) => x.name === s.requires)
  if (needed === undefined || needed.kind !== 'text') throw new Error(`${s.name} requires ${String(s.requires)}, not a text setting`)
  return { [needed.name]: needed.example }
}

/** Paths at which two configurations differ (a leaf, or an array of another length). */
function differences (a: unknown, b: unknown, path = ''): string[] {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b) ? [] : [path]
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return [path]
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`))
  }
  return Object.is(a, b) ? [] : [path]
}

function at (value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value)
}

const refusal = (env: Env): string => {
  try {
    readConfig(env)
  } catch (err) {
    return (err as Error).message
  }
  return ''
}

t.test('readConfig reads exactly the variables of the table', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'acg-settings-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const read = new Set<string>()
  // Every upstream configured, so that every variable that depends on one is read too.
  const env: Env = { CORDUM_URL: 'http://cordum.example', PROMETHEUS_URL: 'http://prometheus.example', LOKI_URL: 'http://loki.example', EVIDENCE_URL: 'none' }
  readConfig(new Proxy(env, { get: (target, name) => { if (typeof name === 'string') read.add(name); return target[name as string] } }))
  // DATA_DIR is read only when EVIDENCE_URL is unset.
  readConfig(new Proxy({}, { get: (target: Env, name) => { if (typeof name === 'string') read.add(name); return target[name as string] } }))
  t.same([...read].sort(), SETTINGS.map((s) => s.name).sort(), 'the names readConfig asks the environment for are the table\'s names')
})

t.test('each number setting: its default when unset, its range enforced with an error naming it', async (t) => {
  for (const s of SETTINGS) {
    if (s.kind === 'text') continue
    const base = prerequisites(s)
    const unset = readConfig(base)
    const [min, max] = s.kind === 'integer' ? [s.min, s.max] : [0, 1]
    const other = s.default === max ? min : max
    const moved = differences(unset, readConfig({ ...base, [s.name]: String(other) }))
    t.equal(moved.length, 1, `${s.name}=${other} changes one value of the configuration (${moved.join(', ')})`)
    t.equal(at(unset, moved[0] as string), s.default, `${s.name} unset: ${moved[0]} is the default ${s.default}`)
    t.equal(at(readConfig({ ...base, [s.name]: String(min) }), moved[0] as string), min, `${s.name}=${min} (the minimum) is taken`)
    t.equal(at(readConfig({ ...base, [s.name]: String(max) }), moved[0] as string), max, `${s.name}=${max} (the maximum) is taken`)
    const step = s.kind === 'integer' ? 1 : 0.01
    for (const out of [min - step, max + step]) {
      const message = refusal({ ...base, [s.name]: String(out) })
      t.match(message, new RegExp(`^${s.name}: must be a (whole )?number from ${min} to ${max}`), `${s.name}=${out} is refused, naming the variable and the range`)
    }
  }
})

t.test('each text setting is read, with its default when unset, and a secret is never echoed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'acg-settings-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const s of SETTINGS) {
    if (s.kind !== 'text') continue
    const base = prerequisites(s)
    let example = s.example
    if (s.name.endsWith('_FILE')) {
      example = join(dir, s.name)
      // Long enough for any file setting (EVIDENCE_HMAC_KEY_FILE wants at least 32 characters).
      writeFileSync(example, 'token-from-a-file-of-at-least-32-characters\n')
    }
    const unset = readConfig(base)
    const moved = differences(unset, readConfig({ ...base, [s.name]: example }))
    t.ok(moved.length >= 1, `${s.name}=${example} changes the configuration (${moved.join(', ')})`)
    if (s.default !== undefined) t.ok(moved.some((p) => at(unset, p) === s.default), `${s.name} unset: the default ${s.default}`)
    if (s.values !== undefined) {
      for (const v of s.values) t.equal(refusal({ ...base, [s.name]: v }), '', `${s.name}=${v} is taken`)
      t.match(refusal({ ...base, [s.name]: 'nonsense' }), new RegExp(`^${s.name}: must be one of ${s.values.join(', ')}`), `${s.name}=nonsense is refused with the values it may take`)
    }
    if (s.secret === true) {
      // A value that is refused (or, for a key any text may be, one set where its upstream is missing).
      const marker = 'Zq9SECRETzq9:bad value!'
      const message = refusal({ [s.name]: s.name === 'EVIDENCE_URL' ? `mysql://gate:${marker}@db/x` : marker, ...(s.requires === undefined ? {} : { [s.requires]: '' }) })
      t.notMatch(message, 'Zq9SECRETzq9', `${s.name}: an error never shows the value (${message === '' ? 'no error' : message})`)
    }
  }
})

t.test('serve --help lists every setting with its default and range', async (t) => {
  const help = serve.usage.split('\n')
  for (const s of SETTINGS) {
    const line = help.findIndex((l) => l.startsWith(`  ${s.name} (`))
    t.ok(line !== -1, `${s.name} has its entry in serve --help`)
    const entry = help.slice(line, line + 3).join(' ').replace(/\s+/g, ' ')
    const shown = (s.kind === 'text' ? (s.default ?? `unset: ${s.unset ?? 'none'}`) : `default ${s.default}`).replace(/`/g, '')
    t.ok(entry.includes(shown), `${s.name}: "${shown}" in "${entry.slice(0, 120)}"`)
  }
  t.ok(help.every((l) => l.length <= 100), 'no line of it is wider than 100 columns')
})

t.test('docs/configuration.md holds the table as npm run docs:settings writes it', async (t) => {
  const doc = readFileSync(CONFIGURATION_DOC, 'utf8')
  t.equal(doc, withSettingsTable(doc), 'up to date (run npm run docs:settings after changing src/config/settings.ts)')
  for (const s of SETTINGS) t.match(doc, `| \`${s.name}\` |`, `${s.name} has its row`)
})
