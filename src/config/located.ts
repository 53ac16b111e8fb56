/**
 * YAML (and JSON, which is YAML) documents whose errors point at file, line, column and key
 * path. Used for the gates policy and for recorded observations: a person fixing a file must
 * be told exactly where, and nothing in the file may crash the gate.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Document, type Node } from 'yaml'
import { closest } from './names.js'

export interface LocatedError {
  file: string
  line: number
  column: number
  /** Dotted key path, e.g. `rollout_gates.score.pass` or `signals.x.canary.n`. */
  path: string
  message: string
}

export function formatLocated (e: LocatedError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`
}

export interface SourceLimits {
  /** Refuse files larger than this many bytes before parsing them. */
  maxBytes: number
  /** Alias expansions allowed (YAML "billion laughs" defence). */
  maxAliasCount: number
}

export const DEFAULT_LIMITS: SourceLimits = { maxBytes: 1024 * 1024, maxAliasCount: 100 }

type KeyPath = (string | number)[]

/**
 * Where a document sits inside its file: zero for a file of its own; the lines and indentation
 * before it for a document embedded in another (a gates policy inside a ConfigMap's block
 * scalar), so errors still point at the right line and column of the file a person edits.
 */
export interface Shift { line: number, column: number }

const NO_SHIFT: Shift = { line: 0, column: 0 }

export class LocatedSource {
  readonly file: string
  readonly value: unknown
  readonly #doc: Document
  readonly #lines: LineCounter
  readonly #text: string
  readonly #shift: Shift

  private constructor (file: string, doc: Document, lines: LineCounter, value: unknown, text: string, shift: Shift) {
    this.file = file
    this.#doc = doc
    this.#lines = lines
    this.value = value
    this.#text = text
    this.#shift = shift
  }

  /**
   * Parses `text`. Returns the source, or the located errors that stop it from being read
   * (syntax errors, duplicate keys, too large, too many aliases).
   */
  static parse (text: string, file: string, limits: SourceLimits = DEFAULT_LIMITS, shift: Shift = NO_SHIFT): LocatedSource | LocatedError[] {
    const bytes = Buffer.byteLength(text, 'utf8')
    if (bytes > limits.maxBytes) {
      return [{ file, line: 1 + shift.line, column: 1 + shift.column, path: '', message: `file is ${bytes} bytes; the limit is ${limits.maxBytes} bytes` }]
    }
    const lines = new LineCounter()
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true })
    const at = (offset: number): { line: number, column: number } => {
      const { line, col } = lines.linePos(offset)
      return { line: Math.max(line, 1) + shift.line, column: Math.max(col, 1) + shift.column }
    }
    if (doc.errors.length > 0) {
      return doc.errors.map((e) => ({ file, ...at(e.pos[0]), path: '', message: e.message.split('\n')[0] as string }))
    }
    try {
      const value = doc.toJS({ maxAliasCount: limits.maxAliasCount })
      return new LocatedSource(file, doc, lines, value, text, shift)
    } catch (err) {
      // yaml throws ReferenceError for excessive aliasing and for unresolvable aliases.
      const message = err instanceof Error ? err.message : String(err)
      const alias = /alias/i.test(message)
      return [{
        file,
        line: 1 + shift.line,
        column: 1 + shift.column,
        path: '',
        message: alias
          ? `refused: too many YAML alias expansions (limit ${limits.maxAliasCount}); this shape is used for resource-exhaustion attacks`
          : message,
      }]
    }
  }

  /** Line and column of the value at `path`, or of its key when `key` is true. */
  locate (path: KeyPath, key = false): { line: number, column: number } {
    let node: unknown = this.#doc.contents
    let found: Node | undefined = node as Node | undefined
    for (let i = 0; i < path.length; i++) {
      const segment = path[i] as string | number
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment))
        if (pair === undefined) break
        const last = i === path.length - 1
        found = (last && key ? pair.key : (pair.value ?? pair.key)) as Node
        node = pair.value
      } else if (isSeq(node)) {
        const item = node.items[Number(segment)]
        if (item === undefined) break
        found = item as Node
        node = item
      } else {
        break
      }
    }
    const offset = found?.range?.[0] ?? 0
    const { line, col } = this.#lines.linePos(offset)
    return { line: Math.max(line, 1) + this.#shift.line, column: Math.max(col, 1) + this.#shift.column }
  }

  /**
   * The text of the string scalar at `path` and where it sits, to parse it as a document of
   * its own (a ConfigMap's data entry). A literal block (`|`) maps line and column exactly;
   * other styles map to the value's first line.
   */
  embedded (path: KeyPath): { text: string, shift: Shift } | undefined {
    const node = this.#doc.getIn(path, true)
    if (!isScalar(node) || typeof node.value !== 'string') return undefined
    const start = node.range?.[0] ?? 0
    const { line } = this.#lines.linePos(start)
    if (node.type !== Scalar.BLOCK_LITERAL) {
      return { text: node.value, shift: { line: line - 1 + this.#shift.line, column: this.#shift.column } }
    }
    // Content begins on the line after the `|` header, indented by the first non-blank line's indentation.
    const contentStart = this.#lines.lineStarts[line] ?? this.#text.length
    const firstLine = /^(?:[ \t]*\n)*( *)/.exec(this.#text.slice(contentStart))
    const indent = firstLine?.[1]?.length ?? 0
    return { text: node.value, shift: { line: line + this.#shift.line, column: indent + this.#shift.column } }
  }

  /** A located error at `path`. */
  error (path: KeyPath, message: string, key = false): LocatedError {
    return { file: this.file, ...this.locate(path, key), path: path.join('.'), message }
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true })
const compiled = new WeakMap<object, ValidateFunction>()

/** Validates the source's value against a JSON Schema; every error is located and readable. */
export function validateSchema (source: LocatedSource, schema: object): LocatedError[] {
  let validate = compiled.get(schema)
  if (validate === undefined) {
    validate = ajv.compile(schema)
    compiled.set(schema, validate)
  }
  if (validate(source.value)) return []
  return (validate.errors ?? []).map((e) => describe(source, e))
}

function pathOf (instancePath: string): KeyPath {
  if (instancePath === '') return []
  return instancePath.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
}

function show (value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return String(value)
}

function kindOf (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'list'
  if (typeof value === 'object') return 'mapping'
  return typeof value
}

function describe (source: LocatedSource, e: ErrorObject): LocatedError {
  const path = pathOf(e.instancePath)
  const parent = e.parentSchema as { properties?: Record<string, unknown>, description?: string } | undefined
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String((e.params as { additionalProperty: string }).additionalProperty)
      const known = Object.keys(parent?.properties ?? {})
      if (known.length === 0) {
        // A map of user-chosen names (signals, stages, triggers): the name itself is malformed.
        return source.error([...path, name], `'${name}' is not a valid name: use lower case letters, digits, '_' (and '-' for stages), starting with a letter`, true)
      }
      const hint = closest(name, known)
      return source.error([...path, name], `unknown key '${name}'${hint === undefined ? '' : `; did you mean '${hint}'?`} (known keys: ${known.join(', ')})`, true)
    }
    case 'type': {
      const want = String((e.params as { type: string }).type).replace('integer', 'whole number').replace('object', 'mapping').replace('array', 'list')
      return source.error(path, `must be a ${want}, got ${kindOf(e.data)} ${show(e.data)}`)
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const { comparison, limit } = e.params as { comparison: string, limit: number }
      const what = parent?.description === undefined ? '' : ` (${parent.description})`
      return source.error(path, `must be ${comparison} ${limit}, got ${show(e.data)}${what}`)
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String)
      const hint = typeof e.data === 'string' ? closest(e.data, allowed) : undefined
      return source.error(path, `must be one of ${allowed.join(', ')}; got ${show(e.data)}${hint === undefined ? '' : ` (did you mean '${hint}'?)`}`)
    }
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty
      return source.error(path, `missing required key '${missing}'`)
    }
    default:
      return source.error(path, `${e.message ?? 'is invalid'}, got ${show(e.data)}`)
  }
}
