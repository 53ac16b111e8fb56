import { once } from 'node:events'
import { SANDBOX_ADMIN_KEY, SANDBOX_VIEWER_KEY, startSandbox } from '../sandbox/gateway.js'
import { BASELINE_AGENT, SANDBOX_TENANT, SCENARIOS } from '../sandbox/scenarios.js'
import { EXIT_OK, parseOptions, UsageError, type Command } from './command.js'

export const sandbox: Command = {
  name: 'sandbox',
  summary: 'run the Cordum-compatible sandbox gateway with the seeded scenarios',
  usage: `usage: agent-canary-gate sandbox [--port P] [--host H]

  --port P   listen port (default 8081, Cordum's; 0 picks a free port)
  --host H   listen address (default 127.0.0.1)

Keys: ${SANDBOX_ADMIN_KEY} (admin) and ${SANDBOX_VIEWER_KEY} (viewer), tenant '${SANDBOX_TENANT}'.
Runs until interrupted (Ctrl-C / SIGTERM).`,
  async run (argv, io) {
    const { values } = parseOptions({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' } } }, sandbox)
    const port = values.port === undefined ? 8081 : Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, got '${values.port ?? ''}'`)
    const sb = await startSandbox({ port, host: values.host ?? '127.0.0.1' })
    io.stdout.write(`Cordum sandbox listening at ${sb.url}\n` +
      `  tenant ${SANDBOX_TENANT}; keys: ${SANDBOX_ADMIN_KEY} (admin), ${SANDBOX_VIEWER_KEY} (viewer)\n` +
      `  baseline ${BASELINE_AGENT}; canaries:\n${SCENARIOS.map((s) => `    ${s.agentId.padEnd(28)} ${s.expect.map((e) => `${e.stage}: ${e.verdict}`).join(', ')}`).join('\n')}\n`)
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
    await sb.close()
    return EXIT_OK
  },
}
