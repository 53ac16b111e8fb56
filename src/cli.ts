#!/usr/bin/env node
/**
 * agent-canary-gate: the command line. Each subcommand lives in src/cli/ and is registered
 * here explicitly (no directory scanning: the plugin build bundles this file).
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { EXIT_OK, EXIT_USAGE, EXIT_VERDICT, reportError, type Command, type Io } from './cli/command.js'
import { decisions } from './cli/decisions.js'
import { judge } from './cli/judge.js'
import { sandbox } from './cli/sandbox.js'
import { score } from './cli/score.js'
import { serve } from './cli/serve.js'
import { simulate } from './cli/simulate.js'
import { validate } from './cli/validate.js'
import { VERSION } from './http/server.js'

export const COMMANDS: Command[] = [serve, score, validate, judge, simulate, decisions, sandbox]

function help (): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return `usage: agent-canary-gate <command> [options]
       agent-canary-gate --version

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

score and decisions ask a running gate: --url (default $GATE_URL) and --api-key (default
$GATE_API_KEY). Exit codes: 0 done, 1 an error (refused input, the gate's error, a broken
chain), 2 a usage mistake, ${EXIT_VERDICT} a verdict at or past --fail-on.
Run 'agent-canary-gate <command> --help' for a command's options.
`
}

export async function main (argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--version' || name === '-V') {
    io.stdout.write(`agent-canary-gate ${VERSION} (Node.js ${process.version})\n`)
    return EXIT_OK
  }
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
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin })
  // exitCode, not exit(): a long-running command (serve) resolves only when it is done.
  process.exitCode = code
}
