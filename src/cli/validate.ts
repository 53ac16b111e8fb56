import { decisionTimes, policyWarnings } from '../gate/policy-check.js'
import { loadGatesFile } from '../config/load.js'
import { pct } from '../gate/format.js'
import { EXIT_OK, parseOptions, UsageError, type Command } from './command.js'

export const validate: Command = {
  name: 'validate',
  summary: 'check a gates policy file',
  usage: `usage: agent-canary-gate validate FILE [--traffic DECISIONS_PER_MIN,JOBS_PER_MIN [--weight PERCENT] [--rates SIGNAL=RATE,...]]

Exit 0 and a one-line summary when FILE is a valid gates policy, with a warning for every rule
that can never bind; exit 1 and located errors otherwise.

  --traffic D,J      decisions and jobs per minute, both arms together: print per stage how long
                     each rate rule takes to pass a healthy canary (canary = baseline at the
                     rule's floor, or a third of its absolute limit)
  --weight PERCENT   the canary's share of the traffic (default 10)
  --rates LIST       healthy rates of both arms instead, e.g. overload_rate=0.005,job_failure_rate=2%`,
  async run (argv, io) {
    const { positionals, values } = parseOptions({ args: argv, options: { traffic: { type: 'string' }, weight: { type: 'string' }, rates: { type: 'string' } }, allowPositionals: true }, validate)
    if (positionals.length !== 1) throw new UsageError(validate.usage)
    const traffic = values.traffic === undefined ? undefined : parseTraffic(values.traffic)
    if ((values.weight !== undefined || values.rates !== undefined) && traffic === undefined) throw new UsageError('--weight and --rates need --traffic')
    const rates = values.rates === undefined ? {} : parseRates(values.rates)
    const weight = values.weight === undefined ? 10 : parseWeight(values.weight)
    const file = positionals[0] as string
    const { policy, hash, configMap } = await loadGatesFile(file)
    const stages = Object.keys(policy.stages)
    const where = configMap === undefined ? file : `${file} (ConfigMap ${configMap.name}, data.${configMap.key})`
    io.stdout.write(`ok: ${where}: ${stages.length} stages (${stages.join(', ')}), ${Object.keys(policy.signals).length} signals, ` +
      `score pass ${policy.score.pass} / marginal ${policy.score.marginal}, min ${policy.minDataPoints} data points, alpha ${policy.alpha}, sha256 ${hash.slice(0, 12)}\n`)
    for (const w of policyWarnings(policy)) io.stdout.write(`warning: ${w}\n`)
    if (traffic !== undefined) {
      io.stdout.write(`\ntime for a healthy canary to pass, at ${traffic[0]} decisions/min and ${traffic[1]} jobs/min in all, canary weight ${weight}%:\n`)
      for (const stage of Object.values(policy.stages)) {
        const times = decisionTimes(stage, traffic[0], traffic[1], weight, rates)
        if (times.length === 0) continue
        const slowest = times.some((x) => x.minutes === null) ? null : Math.max(...times.map((x) => x.minutes as number))
        io.stdout.write(`  ${stage.name}: ${slowest === null ? 'some rule does not pass within a day' : `about ${slowest} min`}\n`)
        for (const x of times) {
          const at = `${x.signal} at ${pct(x.rate)} of ${x.stream}`
          io.stdout.write(`    ${at}: ${x.minutes === null ? 'not within a day' : `${x.minutes} min, ${x.events} canary ${x.stream}`}\n`)
        }
      }
      io.stdout.write('Both arms at the rate shown: a comparative rule\'s floor, a third of an absolute limit, or --rates.\n' +
        'Expected counts (close to the median run); `agent-canary-gate simulate` gives the spread under Argo\'s schedule.\n')
    }
    return EXIT_OK
  },
}

function parseTraffic (text: string): [number, number] {
  const parts = text.split(',').map((x) => Number(x.trim()))
  if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x) || x < 0) || parts.every((x) => x === 0)) {
    throw new UsageError(`--traffic must be DECISIONS_PER_MIN,JOBS_PER_MIN (numbers >= 0, not both 0), e.g. 600,200; got '${text}'`)
  }
  return parts as [number, number]
}

function parseRates (text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const part of text.split(',')) {
    const m = /^\s*([a-z][a-z0-9_]*)\s*=\s*([0-9.]+)(%?)\s*$/.exec(part)
    const rate = m === null ? NaN : Number(m[2]) / (m[3] === '%' ? 100 : 1)
    if (m === null || !(rate >= 0 && rate < 1)) throw new UsageError(`--rates must be SIGNAL=RATE,... with rates in [0, 1) or percentages, e.g. overload_rate=0.005,job_failure_rate=2%; got '${part}'`)
    out[m[1] as string] = rate
  }
  return out
}

function parseWeight (text: string): number {
  const w = Number(text)
  if (!Number.isFinite(w) || w <= 0 || w >= 100) throw new UsageError(`--weight must be a percentage above 0 and under 100, e.g. 10; got '${text}'`)
  return w
}
