/** What every CLI subcommand is: a name, a usage text and a function from argv to an exit code. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { GateError } from '../errors.js'

export interface Io {
  stdout: { write: (chunk: string) => unknown, isTTY?: boolean, columns?: number }
  stderr: { write: (chunk: string) => unknown }
  env: Record<string, string | undefined>
  /** Standard input, for commands that read a stream (judge --jsonl). */
  stdin?: AsyncIterable<string | Buffer>
}

export interface Command {
  name: string
  summary: string
  usage: string
  run: (argv: string[], io: Io) => Promise<number>
}

/**
 * Exit codes: 0 success, 1 refused input, an error from the gate or a failed check, 2 a usage
 * mistake, 3 a verdict at or past `--fail-on` (a pipeline step that should stop).
 */
export const EXIT_OK = 0
export const EXIT_FAIL = 1
export const EXIT_USAGE = 2
export const EXIT_VERDICT = 3

/** The options of every command that prints a table, and of every command that asks a running gate. */
export const TABLE_OPTIONS = { json: { type: 'boolean', default: false }, wide: { type: 'boolean', default: false } } as const
export const GATE_OPTIONS = { url: { type: 'string' }, 'api-key': { type: 'string' }, ...TABLE_OPTIONS } as const

export const GATE_OPTIONS_USAGE = `  --url URL          the gate, e.g. http://localhost:8080 (default $GATE_URL)
  --api-key K        the key the gate accepts, one of its GATE_API_KEYS (default $GATE_API_KEY)`
export const TABLE_OPTIONS_USAGE = `  --json             print the gate's JSON instead of a table
  --wide             tables as wide as their content (default: the terminal's width, COLUMNS,
                     or 80 columns when not a terminal)`

/** The gate's address: --url, else $GATE_URL. */
export function gateUrl (values: { url?: string | boolean }, io: Io, command: Command): string {
  const url = typeof values.url === 'string' ? values.url : io.env.GATE_URL
  if (url === undefined || url === '') throw new UsageError(`--url (or GATE_URL) is required: the gate, e.g. http://localhost:8080\n\n${command.usage}`)
  try {
    return new URL(url).href
  } catch {
    throw new UsageError(`--url must be a URL such as http://localhost:8080, got '${url}'`)
  }
}

/** The key sent to the gate: --api-key, else $GATE_API_KEY. */
export function gateKey (values: { 'api-key'?: string | boolean }, io: Io): string | undefined {
  const key = typeof values['api-key'] === 'string' ? values['api-key'] : io.env.GATE_API_KEY
  return key === undefined || key === '' ? undefined : key
}

/** How wide tables may be: unbounded with --wide, else the terminal's width, COLUMNS, or 80. */
export function tableWidth (io: Io, wide: boolean): number {
  if (wide) return Number.POSITIVE_INFINITY
  const columns = io.stdout.isTTY === true && io.stdout.columns !== undefined ? io.stdout.columns : Number(io.env.COLUMNS)
  return Number.isInteger(columns) && columns >= 40 ? columns : 80
}

export const FAIL_ON_USAGE = `  --fail-on V        exit ${EXIT_VERDICT} when the verdict is V or worse: fail (a fail), or
                     inconclusive (anything but a pass); for CI pipelines`

/** --fail-on: which verdicts end the command with EXIT_VERDICT. */
export function failOn (value: string | boolean | undefined): Set<string> {
  if (value === undefined || typeof value === 'boolean') return new Set()
  if (value === 'fail') return new Set(['fail'])
  if (value === 'inconclusive') return new Set(['fail', 'inconclusive'])
  throw new UsageError(`--fail-on must be fail or inconclusive, got '${value}'`)
}

/** The exit code for a verdict under --fail-on, saying why on stderr when it is not 0. */
export function verdictExit (verdict: string, failing: Set<string>, flag: string | boolean | undefined, io: Io): number {
  if (!failing.has(verdict)) return EXIT_OK
  io.stderr.write(`verdict ${verdict} with --fail-on ${String(flag)}: exit ${EXIT_VERDICT}\n`)
  return EXIT_VERDICT
}

/** parseArgs that turns its TypeError into a usage error naming the bad option. */
export function parseOptions<T extends ParseArgsConfig> (config: T, command: Command): ReturnType<typeof parseArgs<T>> {
  try {
    // strict (the default) makes unknown options and missing values throw.
    return parseArgs(config)
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${command.usage}`)
  }
}

export class UsageError extends Error {}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColour (io: Io): boolean {
  return io.stdout.isTTY === true && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === '')
}

export function reportError (err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    io.stderr.write(`${err.message}\n`)
    return EXIT_USAGE
  }
  if (err instanceof GateError) {
    io.stderr.write(`error: ${err.message}\n`)
    return EXIT_FAIL
  }
  io.stderr.write(`internal error: ${(err as Error)?.stack ?? String(err)}\n`)
  return EXIT_FAIL
}
