/**
 * Query templates for the Prometheus and Loki sources: PromQL or LogQL written in the gates
 * policy with placeholders such as `{{arm}}` and `{{window}}`.
 *
 * A value from a score request must never change a query's structure. So a template is lexed
 * once, when the policy loads, the way PromQL and LogQL lex it (double-quoted strings with Go
 * escapes, raw backtick strings, PromQL's single-quoted strings, `#` comments), and each
 * placeholder is placed by context:
 *   - value placeholders ({{arm}}, {{canary}}, {{baseline}}, {{tenant}}, {{topic}}) only inside
 *     a double-quoted or backtick string; the value is escaped as that string's contents, and
 *     when the string is a regular expression (after =~, !~ or |~) its regex metacharacters are
 *     escaped first, so `a.b` matches only `a.b`;
 *   - {{window}} only outside strings: it renders as a duration the gate computes (`10800s`).
 * Anything else is refused with the offset of the mistake.
 */
import { closest } from '../names.js'

export type Dialect = 'promql' | 'logql'

export const VALUE_PLACEHOLDERS = ['arm', 'canary', 'baseline', 'tenant', 'topic'] as const
export const PLACEHOLDERS = [...VALUE_PLACEHOLDERS, 'window'] as const
export type Placeholder = typeof PLACEHOLDERS[number]

type StringKind = 'double' | 'raw'

interface Slot {
  name: Placeholder
  /** Where the placeholder sits: outside strings (`bare`), or inside a string of this kind. */
  context: 'bare' | StringKind
  /** Inside a regular-expression string: the value is regex-escaped before string escaping. */
  regex: boolean
}

export interface QueryTemplate {
  text: string
  dialect: Dialect
  /** Literal text and placeholders, in order. */
  parts: (string | Slot)[]
  /** The placeholders the template uses. */
  uses: Set<Placeholder>
}

export class TemplateError extends Error {
  constructor (message: string, readonly offset: number) {
    super(message)
    this.name = 'TemplateError'
  }
}

/** A value placeholder the request leaves empty (e.g. {{topic}} with no topic): the query cannot be run. */
export class MissingValueError extends Error {
  constructor (readonly placeholder: Placeholder) {
    super(`the query uses {{${placeholder}}}, but the score request has no ${placeholder}`)
    this.name = 'MissingValueError'
  }
}

const PLACEHOLDER_AT = /^\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/
const REGEX_OPERATORS = ['=~', '!~', '|~']

function isPlaceholder (name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name)
}

/** Lexes a template; throws TemplateError naming the offset and what is wrong. */
export function parseTemplate (text: string, dialect: Dialect): QueryTemplate {
  const parts: (string | Slot)[] = []
  const uses = new Set<Placeholder>()
  let literal = ''
  const flush = (): void => {
    if (literal !== '') parts.push(literal)
    literal = ''
  }
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (c === '#') {
      // A comment runs to the end of the line; a placeholder there would silently do nothing.
      const end = text.indexOf('\n', i)
      const comment = text.slice(i, end === -1 ? text.length : end)
      const inside = comment.search(/\{\{/)
      if (inside !== -1) throw new TemplateError('placeholders are not allowed in a comment', i + inside)
      literal += comment
      i += comment.length
      continue
    }
    if (c === '"' || c === '`' || (c === '\'' && dialect === 'promql')) {
      const regex = REGEX_OPERATORS.includes(text.slice(0, i).trimEnd().slice(-2))
      const kind: StringKind | 'single' = c === '"' ? 'double' : c === '`' ? 'raw' : 'single'
      literal += c
      i++
      let closed = false
      while (i < text.length) {
        const d = text[i] as string
        if (d === c) { literal += d; i++; closed = true; break }
        if (d === '\\' && kind !== 'raw') { literal += text.slice(i, i + 2); i += 2; continue }
        if (d === '\n' && kind !== 'raw') throw new TemplateError('a quoted string may not span lines', i)
        const m = d === '{' ? PLACEHOLDER_AT.exec(text.slice(i)) : null
        if (m !== null) {
          const name = m[1] as string
          if (isPlaceholder(name)) {
            if (name === 'window') throw new TemplateError('{{window}} is a duration such as 10800s: use it outside quotes, in a range selector such as [{{window}}]', i)
            if (kind === 'single') throw new TemplateError(`{{${name}}} in a single-quoted string: use double quotes, e.g. "{{${name}}}"`, i)
            flush()
            parts.push({ name, context: kind, regex })
            uses.add(name)
            i += m[0].length
            continue
          }
          // LogQL's line_format and label_format take Go templates ({{.field}}, {{ end }});
          // only a near miss of our names is refused as a typo.
          const hint = closest(name, PLACEHOLDERS)
          if (hint !== undefined && !name.includes('.')) throw new TemplateError(`unknown placeholder {{${name}}}; did you mean {{${hint}}}? (known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`, i)
        }
        literal += d
        i++
      }
      if (!closed) throw new TemplateError(`a string opened with ${c} is not closed`, text.length)
      continue
    }
    if (c === '{' && text[i + 1] === '{') {
      const m = PLACEHOLDER_AT.exec(text.slice(i))
      const name = m?.[1]
      if (m === null || name === undefined || !isPlaceholder(name)) {
        const hint = name === undefined ? undefined : closest(name, PLACEHOLDERS)
        throw new TemplateError(`unknown placeholder ${m?.[0] ?? '{{'}${hint === undefined ? '' : `; did you mean {{${hint}}}?`} (known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`, i)
      }
      if (name !== 'window') throw new TemplateError(`{{${name}}} must be inside a quoted string, e.g. label="{{${name}}}": the value is escaped as the string's contents`, i)
      flush()
      parts.push({ name, context: 'bare', regex: false })
      uses.add(name)
      i += m[0].length
      continue
    }
    literal += c
    i++
  }
  flush()
  return { text, dialect, parts, uses }
}

export type TemplateValues = Partial<Record<Placeholder, string>>

/** The query with every placeholder replaced; throws MissingValueError for a value the request lacks. */
export function renderTemplate (t: QueryTemplate, values: TemplateValues): string {
  let out = ''
  for (const part of t.parts) {
    if (typeof part === 'string') { out += part; continue }
    const value = values[part.name]
    if (value === undefined || value === '') throw new MissingValueError(part.name)
    if (part.context === 'bare') {
      out += value
      continue
    }
    const v = part.regex ? escapeRegex(value) : value
    out += part.context === 'double' ? escapeDoubleQuoted(v) : escapeRaw(v, part.name)
  }
  return out
}

/** RE2 metacharacters (PromQL and LogQL both use Go's regexp): `a.b` matches only `a.b`. */
export function escapeRegex (value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&')
}

/** Contents of a Go double-quoted string literal (strconv.Unquote): backslash, quote, control characters. */
export function escapeDoubleQuoted (value: string): string {
  let out = ''
  for (const ch of value) {
    const code = ch.codePointAt(0) as number
    if (ch === '\\') out += '\\\\'
    else if (ch === '"') out += '\\"'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return out
}

/** A raw (backtick) string has no escapes: a value with a backtick cannot be put in one safely. */
function escapeRaw (value: string, name: Placeholder): string {
  if (value.includes('`')) throw new TemplateError(`the ${name} value contains a backtick, which a backtick string cannot hold: use a double-quoted string`, 0)
  return value
}

/** A duration both PromQL and LogQL accept, in whole seconds (at least 1 s). */
export function duration (ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`
}
