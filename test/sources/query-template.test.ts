/**
 * Query templates: placeholders placed by context, values escaped so they can never change a
 * query's structure. LogQL renderings are parsed with Grafana's own LogQL grammar
 * (@grafana/lezer-logql); PromQL escaping is proven against a real Prometheus in
 * prometheus-server.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parser as logql } from '@grafana/lezer-logql'
import fc from 'fast-check'
import t from 'tap'
import { main } from '../../src/cli.js'
import { compileQueries } from '../../src/config/query/roles.js'
import { duration, escapeRegex, MissingValueError, parseTemplate, renderTemplate, TemplateError, type Dialect } from '../../src/config/query/template.js'
import { assertProperty } from '../helpers/property.js'

function render (text: string, values: Record<string, string>, dialect: Dialect = 'promql'): string {
  return renderTemplate(parseTemplate(text, dialect), values)
}

function refusal (text: string, dialect: Dialect = 'promql'): TemplateError {
  try {
    parseTemplate(text, dialect)
  } catch (err) {
    if (err instanceof TemplateError) return err
    throw err
  }
  throw new Error(`expected ${text} to be refused`)
}

/** Go's strconv.Unquote for the escapes the gate writes (an independent reading of the literal). */
function goUnquote (literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1)
  return literal.slice(1, -1).replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) => {
    if (e.startsWith('x')) return String.fromCharCode(parseInt(e.slice(1), 16))
    return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"' } as Record<string, string>)[e] ?? `<bad escape ${e}>`
  })
}

/** The LogQL syntax tree as node names; '!' marks a syntax error. */
function shape (query: string): { names: string[], strings: string[] } {
  const names: string[] = []
  const strings: string[] = []
  logql.parse(query).iterate({
    enter: (n) => {
      names.push(n.type.isError ? '!' : n.name)
      if (n.name === 'String') strings.push(query.slice(n.from, n.to))
    },
  })
  return { names, strings }
}

t.test('values are escaped as the contents of the string they sit in', async (t) => {
  const v = { arm: 'a"b\\c\nd', window: '10800s', tenant: 'acme' }
  t.equal(render('sum(increase(x{agent_id="{{arm}}"}[{{window}}]))', v), 'sum(increase(x{agent_id="a\\"b\\\\c\\nd"}[10800s]))')
  t.equal(render('x{topic="job.support.{{arm}}", tenant="{{ tenant }}"}', v), 'x{topic="job.support.a\\"b\\\\c\\nd", tenant="acme"}', 'embedded in text, spaces inside the braces allowed')
  t.equal(render('x{agent_id=~"{{arm}}|other"}', { arm: 'a.b+c(1)' }), 'x{agent_id=~"a\\\\.b\\\\+c\\\\(1\\\\)|other"}', 'regex matcher: metacharacters escaped, then string-escaped')
  t.equal(render('x{agent_id=~`{{arm}}`}', { arm: 'a.b' }), 'x{agent_id=~`a\\.b`}', 'raw string: regex escape only')
  t.equal(render('x{agent_id!~ "{{arm}}"}', { arm: 'a.b' }), 'x{agent_id!~ "a\\\\.b"}', 'negative regex matcher too')
  t.equal(render('{app="s"} |~ "{{arm}}"', { arm: 'a*' }, 'logql'), '{app="s"} |~ "a\\\\*"', 'LogQL regex line filter')
  t.equal(render('{app="s"} |= "{{arm}}"', { arm: 'a*' }, 'logql'), '{app="s"} |= "a*"', 'LogQL exact line filter: no regex escape')
  t.equal(render('x{a="\\"{{arm}}\\""}', { arm: 'q' }), 'x{a="\\"q\\""}', 'escapes already in the template are kept')
  t.equal(render('x{a="{{arm}}"} # a comment with "quotes"', { arm: 'q' }), 'x{a="q"} # a comment with "quotes"')
  t.equal(render('{app="s"} | line_format "{{.msg}} {{ end }}" |= "{{arm}}"', { arm: 'q' }, 'logql'), '{app="s"} | line_format "{{.msg}} {{ end }}" |= "q"', "LogQL's own Go templates are left alone")
  t.equal(render('x{a="\\x01{{arm}}"}', { arm: '\u0001\u007f' }), 'x{a="\\x01\\x01\\x7f"}', 'control characters as \\x escapes')
  t.equal(duration(3 * 3600_000), '10800s')
  t.equal(duration(200), '1s', 'at least a second')
})

t.test('placeholders out of place, unknown or unclosed are refused with their offset', async (t) => {
  const cases: [string, RegExp, number, Dialect?][] = [
    ['x{a={{arm}}}', /\{\{arm\}\} must be inside a quoted string/, 4],
    ['increase(x[{{arm}}])', /must be inside a quoted string/, 11],
    ['x{a="{{window}}"}', /\{\{window\}\} is a duration/, 5],
    ['x{a=\'{{arm}}\'}', /single-quoted string: use double quotes/, 5],
    ['x{a="{{canery}}"}', /unknown placeholder \{\{canery\}\}; did you mean \{\{canary\}\}/, 5],
    ['increase(x[{{windw}}])', /unknown placeholder \{\{windw\}\}; did you mean \{\{window\}\}/, 11],
    ['x{a="{{arm}}}', /not closed/, 13],
    ['x # {{arm}}', /not allowed in a comment/, 4],
    ['x{a="b\n"}', /may not span lines/, 6],
  ]
  for (const [text, message, offset, dialect] of cases) {
    const err = refusal(text, dialect)
    t.match(err.message, message, text)
    t.equal(err.offset, offset, `${text}: offset`)
  }
  t.doesNotThrow(() => parseTemplate("x{a='b'}", 'promql'), 'single quotes without placeholders are PromQL')
})

t.test('a value the request lacks stops the query instead of matching everything', async (t) => {
  const tpl = parseTemplate('x{topic="{{topic}}", a="{{arm}}"}', 'promql')
  t.throws(() => renderTemplate(tpl, { arm: 'a' }), MissingValueError)
  t.throws(() => renderTemplate(tpl, { arm: 'a', topic: '' }), /has no topic/)
  t.same([...tpl.uses].sort(), ['arm', 'topic'])
})

t.test('roles: each kind takes its roles, per arm when needed, and a shared query must tell the arms apart', async (t) => {
  const rate = compileQueries('rate', 'promql', { events: 'sum(x{a="{{arm}}"})', hits: 'sum(y{a="{{arm}}"})' })
  t.same(rate.problems, [])
  t.equal(rate.queries.events?.canary, rate.queries.events?.baseline, 'one template for both arms')
  const perArm = compileQueries('rate', 'promql', { events: 'sum(x{a="{{arm}}"})', canary_hits: 'sum(y{a="{{canary}}"})', baseline_hits: 'sum(y{a="{{baseline}}"})' })
  t.same(perArm.problems, [], 'per-arm queries may use {{canary}} / {{baseline}}')
  t.not(perArm.queries.hits?.canary, perArm.queries.hits?.baseline)
  const problems = (kind: 'rate' | 'quantile' | 'backlog', q: Record<string, string>): string[] => compileQueries(kind, 'promql', q).problems.map((p) => `${p.role ?? '-'}: ${p.message}`)
  t.match(problems('rate', { events: 'sum(x{a="{{arm}}"})' }), [/needs a 'hits' query/])
  t.match(problems('rate', { events: 'sum(x{a="{{arm}}"})', canary_hits: 'y{a="{{arm}}"}' }), [/needs a 'hits' \(or 'baseline_hits'\) query for both arms/])
  t.match(problems('rate', { events: 'sum(x{a="{{arm}}"})', hit: 'y' }), [/hit: unknown query role 'hit'; did you mean 'hits'/, /needs a 'hits'/])
  t.match(problems('rate', { events: 'sum(x)', hits: 'sum(y{a="{{arm}}"})' }), [/events: .* does not use \{\{arm\}\}/])
  t.match(problems('rate', { events: 'x{a={{arm}}}', hits: 'sum(y{a="{{arm}}"})' }), [/events: \{\{arm\}\} must be inside a quoted string.* \(at character 5: 'x\{a=\{\{arm\}\}\}'\)/])
  t.same(problems('quantile', { seconds: 'histogram_quantile(0.95, sum by (le) (rate(h_bucket{p="{{arm}}"}[{{window}}])))' }), [])
  t.same(problems('backlog', { pending: 'max(cordum_approval_queue_depth)', oldest_age_seconds: 'vector(0)' }), [], 'backlog gauges may be global')
  t.match(problems('backlog', { pending: 'max(q)' }), [/needs a 'oldest_age_seconds' query/])
})

t.test('LogQL: any value leaves the query\'s structure as Grafana\'s LogQL grammar reads it', async (t) => {
  const template = 'sum(count_over_time({app="cordum-scheduler", tenant="{{tenant}}"} |= "failed to pick subject" |= "job.support.{{arm}}" |~ "{{arm}}(-[0-9]+)?" != `{{canary}}` [{{window}}]))'
  const tpl = parseTemplate(template, 'logql')
  const plain = shape(renderTemplate(tpl, { arm: 'x', canary: 'x', tenant: 'x', window: '300s' }))
  t.notOk(plain.names.includes('!'), 'the template itself is valid LogQL')
  assertProperty(fc.property(fc.string({ unit: 'binary', maxLength: 24 }).filter((s) => s !== '' && !s.includes('`')), (value) => {
    const q = renderTemplate(tpl, { arm: value, canary: value, tenant: value, window: '300s' })
    const s = shape(q)
    if (s.names.join(' ') !== plain.names.join(' ')) return false
    const [, tenant, , exact, regex, raw] = s.strings.map(goUnquote)
    if (tenant !== value || exact !== `job.support.${value}` || raw !== value) return false
    // The regex filter matches the value itself and nothing else of its length.
    const re = new RegExp(`^(?:${regex as string})$`, 'su')
    return re.test(value) && re.test(`${value}-12`)
  }), { numRuns: 300 })
  t.pass('300 random values (control characters, quotes, backslashes, braces, regex metacharacters, non-ASCII) kept the structure')
})

t.test('escapeRegex makes every metacharacter literal', async (t) => {
  assertProperty(fc.property(fc.string({ maxLength: 30 }), (s) => new RegExp(`^${escapeRegex(s)}$`, 'u').test(s) || s.includes('\n')))
  t.pass()
})

t.test('validate: the shipped Prometheus-and-Loki policy passes; a misplaced placeholder is located by line and key', async (t) => {
  const io = (): { out: string[], io: Parameters<typeof main>[1] } => {
    const out: string[] = []
    return { out, io: { stdout: { write: (s: string) => { out.push(s) }, isTTY: false }, stderr: { write: (s: string) => { out.push(s) } }, env: {} } }
  }
  const ok = io()
  t.equal(await main(['validate', 'analysis-templates/examples/gates-prometheus.yaml'], ok.io), 0)
  t.match(ok.out.join(''), /^ok: analysis-templates\/examples\/gates-prometheus\.yaml: 4 stages \(shadow, canary-1, canary-2, full\), 6 signals/)
  const dir = mkdtempSync(join(tmpdir(), 'acg-validate-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'gates.yaml')
  writeFileSync(file, 'rollout_gates:\n  signals:\n    policy_deny_rate:\n      source: loki\n      query:\n        events: sum(count_over_time({app="s"} |= {{arm}} [{{window}}]))\n        hits: sum(count_over_time({app="s"} |= "{{arm}}" [{{windw}}]))\n')
  const bad = io()
  t.equal(await main(['validate', file], bad.io), 1)
  const text = bad.out.join('')
  t.match(text, /gates\.yaml:6:17: rollout_gates\.signals\.policy_deny_rate\.query\.events: signal 'policy_deny_rate': \{\{arm\}\} must be inside a quoted string/)
  t.match(text, /gates\.yaml:7:15: rollout_gates\.signals\.policy_deny_rate\.query\.hits: signal 'policy_deny_rate': unknown placeholder \{\{windw\}\}; did you mean \{\{window\}\}\?/)
})
