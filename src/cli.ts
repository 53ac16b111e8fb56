#!/usr/bin/env node
/**
 * agent-canary-gate: the command line. Each subcommand lives in src/cli/ and is registered
 * here explicitly (no directory scanning: the plugin build bundles this file).
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { EXIT_OK, EXIT_USAGE, reportError, type Command, type Io } from './cli/command.js'
import { decisions } from './cli/decisions.js'
import { judge } from './cli/judge.js'
import { sandbox } from './cli/sandbox.js'
import { score } from './cli/score.js'
import { serve } from './cli/serve.js'
import { validate } from './cli/validate.js'

export const COMMANDS: Command[] = [serve, score, validate, judge, decisions, sandbox]

function help (): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return `usage: agent-canary-gate <command> [options]\n\ncommands:\n${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}\n\nRun 'agent-canary-gate <command> --help' for a command's options.\n`
}

export async function main (argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help())
    return name === undefined ? EXIT_USAGE : EXIT_OK
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (command === undefined) {
    io.stderr.write(`unknown command '${name}'\n\n${help()}`)
    return EXIT_USAGE
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage}\n`)
    return EXIT_OK
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    return reportError(err, io)
  }
}

// Run when executed (bin link, node dist/cli.js, tsx src/cli.ts), not when imported by tests.
const invoked = process.argv[1] === undefined ? '' : realpathSync(process.argv[1])
if (invoked === realpathSync(fileURLToPath(import.meta.url))) {
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env })
  // exitCode, not exit(): a long-running command (serve) resolves only when it is done.
  process.exitCode = code
}
