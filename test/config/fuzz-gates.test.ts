/**
 * Fuzzing gates policy files: mutations of every shipped gates file and ConfigMap (line and
 * character edits, hostile scalars, prototype keys, anchors and tags), random documents built
 * from the policy's own vocabulary, and random text. Every input must either load or be
 * refused with GATE_ERR_GATES_INVALID whose details locate each problem (file, line, column,
 * key path, message): never another exception, never a hang.
 */
import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import t from 'tap'
import { parseDocument, stringify } from 'yaml'
import { parseGates } from '../../src/config/load.js'
import { isGateError } from '../../src/errors.js'
import { assertProperty } from '../helpers/property.js'
import { report, scale } from '../helpers/soak.js'

const root = new URL('../../', import.meta.url)
const GATES_FILES = ['examples/gates-with-actions.yaml', 'analysis-templates/rollout-gates.yaml', 'analysis-templates/examples/gates-prometheus.yaml', 'deploy/gates/rollout-gates.yaml']
const OTHER_YAML = [
  ...readdirSync(new URL('analysis-templates/', root)).filter((f) => f.endsWith('.yaml')).map((f) => `analysis-templates/${f}`),
  ...readdirSync(new URL('examples/', root)).filter((f) => /\.(ya?ml|json)$/.test(f)).map((f) => `examples/${f}`),
  ...readdirSync(new URL('deploy/base/', root)).filter((f) => f.endsWith('.yaml')).map((f) => `deploy/base/${f}`),
]
const CORPUS = [...new Set([...GATES_FILES, ...OTHER_YAML])].map((f) => ({ file: f, text: readFileSync(new URL(f, root), 'utf8') }))

/** Every map key in the corpus: the vocabulary random documents are built from. */
function keysOf (value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, into)
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) { into.add(k); keysOf(v, into) }
  } else if (typeof value === 'string' && value.includes('rollout_gates')) {
    keysOf(parseDocument(value).toJS(), into) // a ConfigMap's embedded policy
  }
  return into
}
const VOCABULARY = [...keysOf(CORPUS.filter((c) => GATES_FILES.includes(c.file)).map((c) => parseDocument(c.text).toJS()), new Set())]

const HOSTILE_SCALARS = ['__proto__', 'constructor', 'prototype', '1e999', '-1e999', '.nan', '.inf', '-.inf', '~', 'null', '-1', '0', '1.5', '101', '9007199254740993', "''", '""',
  '*nowhere', '&a x', '!!binary aGVsbG8=', '!!js/function "x"', '!!timestamp 2026-13-45', '!!int x', '!!float 1', '!!map {}', '!!set {a}', '!!omap [a: 1]', '[', '{', ']', '}', '|', '>', '- x', '? x', ': x',
  '"\\u0000"', '"\\uD800"', 'é𝔘ñ', 'a'.repeat(5000), 'job.support.reply', 'cordum', 'prometheus', 'loki', 'rate', 'backlog', 'quantile', 'check', 'true', 'no', 'yes', '0x1F', '0o17', '2026-11-26']
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '<<', '? complex', '"quoted key"', '1', 'true', '~']

type Edit =
  | { kind: 'delete-line' | 'duplicate-line' | 'indent' | 'dedent' | 'truncate' | 'flip-char', at: number, byte: number }
  | { kind: 'swap-lines', at: number, other: number }
  | { kind: 'replace-value', at: number, value: string }
  | { kind: 'insert-key', at: number, key: string, value: string }
  | { kind: 'insert-text', at: number, text: string }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete-line', 'duplicate-line', 'indent', 'dedent', 'truncate', 'flip-char'), at: fc.nat(), byte: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ kind: fc.constant('swap-lines'), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('replace-value'), at: fc.nat(), value: fc.oneof(fc.constantFrom(...HOSTILE_SCALARS), fc.string({ maxLength: 12 })) }),
  fc.record({ kind: fc.constant('insert-key'), at: fc.nat(), key: fc.oneof(fc.constantFrom(...HOSTILE_KEYS, ...VOCABULARY)), value: fc.constantFrom(...HOSTILE_SCALARS, '{}', '[]') }),
  fc.record({ kind: fc.constant('insert-text'), at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('\t', '\n', '\r\n', '\u0000', '\ufeff', '---\n', '...\n', '%YAML 1.1\n', '&x ', '*x ', '<<: *x\n', '# c\n')) })
) as fc.Arbitrary<Edit>

function apply (text: string, e: Edit): string {
  const lines = text.split('\n')
  const i = e.at % Math.max(1, lines.length)
  const line = lines[i] ?? ''
  switch (e.kind) {
    case 'delete-line': lines.splice(i, 1); break
    case 'duplicate-line': lines.splice(i, 0, line); break
    case 'indent': lines[i] = `  ${line}`; break
    case 'dedent': lines[i] = line.replace(/^ {1,2}/, ''); break
    case 'swap-lines': { const j = e.other % Math.max(1, lines.length); lines[i] = lines[j] ?? ''; lines[j] = line; break }
    case 'replace-value': lines[i] = line.includes(': ') ? `${line.slice(0, line.indexOf(': ') + 2)}${e.value}` : line.replace(/^(\s*- ).*/, `$1${e.value}`); break
    case 'insert-key': { const indent = /^\s*/.exec(line)?.[0] ?? ''; lines.splice(i, 0, `${indent}${e.key}: ${e.value}`); break }
    case 'truncate': return text.slice(0, e.at % Math.max(1, text.length))
    case 'flip-char': { const at = e.at % Math.max(1, text.length); return text.slice(0, at) + String.fromCharCode(e.byte) + text.slice(at + 1) }
    case 'insert-text': { const at = e.at % Math.max(1, text.length); return text.slice(0, at) + e.text + text.slice(at) }
  }
  return lines.join('\n')
}

/** Random policy-shaped documents: keys from the vocabulary (and hostile ones), values of any type. */
const policyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...HOSTILE_SCALARS.slice(0, 30)),
    fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 10 })),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...VOCABULARY), fc.constantFrom(...HOSTILE_KEYS)), tie('value'), { maxKeys: 4 })),
})).value
const randomPolicy = fc.dictionary(fc.constantFrom(...VOCABULARY), policyValue, { maxKeys: 5 }).map((gates) => stringify({ rollout_gates: gates }))

type Outcome = 'loaded' | 'refused'

/** Loads `text`; throws when the outcome is not a load or a located refusal. */
function load (text: string): Outcome {
  try {
    parseGates(text, 'fuzz.yaml')
    return 'loaded'
  } catch (err) {
    if (!isGateError(err) || err.code !== 'GATE_ERR_GATES_INVALID') throw new Error(`not a located refusal: ${String(err)}\n--- input ---\n${text.slice(0, 2000)}`, { cause: err })
    const details = err.details as Array<Record<string, unknown>>
    const lineCount = text.split(/\r\n|\r|\n/).length
    if (!Array.isArray(details) || details.length === 0) throw new Error(`refusal without located details: ${err.message}`)
    for (const d of details) {
      if (d.file !== 'fuzz.yaml' || !Number.isInteger(d.line) || !Number.isInteger(d.column) || (d.line as number) < 1 || (d.column as number) < 1 ||
        (d.line as number) > lineCount + 1 || typeof d.path !== 'string' || typeof d.message !== 'string' || d.message === '') {
        throw new Error(`badly located error ${JSON.stringify(d)} (the input has ${lineCount} lines)\n--- input ---\n${text.slice(0, 2000)}`)
      }
    }
    if (!err.message.includes('fuzz.yaml:')) throw new Error(`the message does not point at the file: ${err.message}`)
    return 'refused'
  }
}

t.test('the shipped gates files load (the corpus starts valid)', async (t) => {
  for (const f of GATES_FILES) t.equal(load(CORPUS.find((c) => c.file === f)?.text as string), 'loaded', f)
  t.ok(VOCABULARY.length > 40, `vocabulary of ${VOCABULARY.length} keys`)
})

t.test('mutated shipped files: loaded or refused with located errors', async (t) => {
  const outcomes = { loaded: 0, refused: 0 }
  const runs = scale(500, 10_000)
  const started = performance.now()
  // Gates files twice as often as the other YAML: their mutations reach the schema and policy rules.
  const pick = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...CORPUS.filter((c) => GATES_FILES.includes(c.file))) }, { weight: 1, arbitrary: fc.constantFrom(...CORPUS) })
  assertProperty(fc.property(pick, fc.array(edit, { minLength: 1, maxLength: 4 }), (source, edits) => {
    const text = edits.reduce(apply, source.text)
    outcomes[load(text)]++
  }), { numRuns: runs })
  t.ok(outcomes.loaded > 0 && outcomes.refused > 0, `loaded ${outcomes.loaded}, refused ${outcomes.refused}`)
  report(t, 'fuzz gates mutations', { runs, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), ...outcomes })
})

t.test('random policy documents and random text: loaded or refused with located errors', async (t) => {
  const outcomes = { loaded: 0, refused: 0 }
  const runs = scale(400, 8_000)
  const started = performance.now()
  assertProperty(fc.property(fc.oneof({ weight: 4, arbitrary: randomPolicy }, { weight: 1, arbitrary: fc.string({ maxLength: 300 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) }), (text) => {
    outcomes[load(text)]++
  }), { numRuns: runs })
  t.ok(outcomes.refused > 0, `loaded ${outcomes.loaded}, refused ${outcomes.refused}`)
  report(t, 'fuzz gates random', { runs, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), ...outcomes })
})

t.test('hostile documents are refused by a limit, located, before any work grows with them', async (t) => {
  const laughs = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n')
  // What each is refused for: the limits (alias expansions, file size) are what keep them cheap.
  const cases: Array<[string, string, RegExp]> = [
    ['billion laughs', `rollout_gates:\n  stages: {}\n${laughs}\n`, /too many YAML alias expansions \(limit 100\)/],
    ['2 MB file', `rollout_gates: {}\n# ${'x'.repeat(2 * 1024 * 1024)}\n`, /file is 2097173 bytes; the limit is 1048576 bytes/],
    ['deep nesting', `rollout_gates: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, /fuzz\.yaml:1:\d+: /],
    ['__proto__ key', 'rollout_gates:\n  __proto__: { polluted: true }\n', /unknown key '__proto__'/],
    ['stage named constructor', 'rollout_gates:\n  stages:\n    constructor: { description: x }\n', /stage 'constructor' judges no signal/],
    ['merge key onto the root', 'base: &b { polluted: true }\nrollout_gates:\n  <<: *b\n', /unknown key '<<'/],
    ['a ConfigMap whose policy is a number', 'kind: ConfigMap\napiVersion: v1\nmetadata: { name: x }\ndata:\n  rollout-gates.yaml: 12\n', /must be a string holding the gates policy/],
    ['a ConfigMap whose embedded policy is broken', 'kind: ConfigMap\napiVersion: v1\nmetadata: { name: x }\ndata:\n  rollout-gates.yaml: |\n    rollout_gates:\n      stages: [\n', /fuzz\.yaml:8:5: Flow sequence/],
  ]
  for (const [name, text, why] of cases) {
    t.equal(load(text), 'refused', `${name}: refused, located`)
    t.throws(() => parseGates(text, 'fuzz.yaml'), { message: why }, `${name}: ${String(why)}`)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted')
})
