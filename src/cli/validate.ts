import { loadGatesFile } from '../config/load.js'
import { EXIT_OK, parseOptions, UsageError, type Command } from './command.js'

export const validate: Command = {
  name: 'validate',
  summary: 'check a gates policy file',
  usage: 'usage: agent-canary-gate validate FILE\n\nExit 0 and a one-line summary when FILE is a valid gates policy; exit 1 and located errors otherwise.',
  async run (argv, io) {
    const { positionals } = parseOptions({ args: argv, options: {}, allowPositionals: true }, validate)
    if (positionals.length !== 1) throw new UsageError(validate.usage)
    const file = positionals[0] as string
    const { policy, hash, configMap } = await loadGatesFile(file)
    const stages = Object.keys(policy.stages)
    const where = configMap === undefined ? file : `${file} (ConfigMap ${configMap.name}, data.${configMap.key})`
    io.stdout.write(`ok: ${where}: ${stages.length} stages (${stages.join(', ')}), ${Object.keys(policy.signals).length} signals, ` +
      `score pass ${policy.score.pass} / marginal ${policy.score.marginal}, min ${policy.minDataPoints} data points, alpha ${policy.alpha}, sha256 ${hash.slice(0, 12)}\n`)
    return EXIT_OK
  },
}
