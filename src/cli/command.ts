/** What every CLI subcommand is: a name, a usage text and a function from argv to an exit code. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { GateError } from '../errors.js'

export interface Io {
  stdout: { write: (chunk: string) => unknown, isTTY?: boolean }
  stderr: { write: (chunk: string) => unknown }
  env: Record<string, string | undefined>
}

export interface Command {
  name: string
  summary: string
  usage: string
  run: (argv: string[], io: Io) => Promise<number>
}

/** Exit codes: 0 success, 1 refused input or a failed check, 2 a usage mistake. */
export const EXIT_OK = 0
export const EXIT_FAIL = 1
export const EXIT_USAGE = 2

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
