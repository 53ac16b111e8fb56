import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultPolicy, loadGatesFile } from '../config/load.js'
import { unknownName } from '../config/names.js'
import { templateMetric, type MetricRules } from '../simulate/analysis.js'
import { DEFAULT_WEIGHTS, reportNotes, reportRows, simulatePolicy, stageRuns, type SimulationSpec } from '../simulate/report.js'
import { BUSY, parseRates, scenario, SCENARIOS } from '../simulate/scenarios.js'
import type { Traffic } from '../simulate/traffic.js'
import { EXIT_OK, parseOptions, TABLE_OPTIONS, TABLE_OPTIONS_USAGE, tableWidth, UsageError, type Command, type Io } from './command.js'
import { paragraph, table } from './table.js'

/** The shipped ClusterAnalysisTemplate: analysis-templates/ sits two levels above src/cli/ and dist/cli/. */
export const SHIPPED_TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'analysis-templates', 'cluster-analysis-template.yaml')

const MAX_ROLLOUTS = 100_000

export const simulate: Command = {
  name: 'simulate',
  summary: 'the operating characteristic of a gates policy: seeded rollouts through Argo and the judge',
  usage: `usage: agent-canary-gate simulate [options]

Runs N seeded rollouts of each stage: simulated Cordum traffic, judged by the service's judge at
every Argo measurement, under the Argo template's schedule and limits. Prints per stage how many
rollouts were promoted, held (paused for a person) and rolled back, the time to that end, the
canary events it took and the fixed-horizon sample size of the same decision.

  --gates FILE       gates policy (default: $GATES_FILE, else the built-in defaults)
  --template FILE    Argo (Cluster)AnalysisTemplate with the metric (default: the shipped
                     analysis-templates/cluster-analysis-template.yaml)
  --metric NAME      the template's metric that asks the gate (default gate-verdict)
  --stages LIST      stages to simulate, e.g. canary-1,canary-2 (the default)
  --weights LIST     canary weight in percent per stage: 10,25 (in --stages order) or
                     canary-1=10,canary-2=25 (default canary-1 10, canary-2 25, full 100)
  --traffic D,J      decisions and jobs per minute, both arms together (default 600,200)
  --scenario NAME    ${SCENARIOS.map((s) => s.name).join(', ')} (default healthy)
  --canary RATES     true rates of the canary over the scenario's, e.g. deny=0.05,failures=4%
                     (keys: deny, failures, overload, schema, approvals, approval-wait seconds)
  --baseline RATES   the same for the baseline
  --window W         analysis (since the analysis' start, the default), canary (since the
                     canary started, its earlier stages included) or lookback (from
                     canary_lifetime_hours before the first measurement: what the service
                     asks when Argo gives no since)
  --rollouts N       rollouts per stage (default 400)
  --seed S           seed (default 1): the same seed gives the same figures
  --decide-within M  after a run ends held, go on measuring (Argo's rules without the count)
                     up to M minutes from the analysis' start, for the events the judge needs
                     to decide (default 1440; 0: stop at the schedule's end)
${TABLE_OPTIONS_USAGE.replace("the gate's JSON", 'the report as JSON')}

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(19)}${s.description}`).join('\n')}

Exit 0 with the report; 1 when the gates file is refused; 2 for a usage mistake (a bad option
or value, an unreadable template).`,
  async run (argv, io) {
    const { values } = parseOptions({
      args: argv,
      options: {
        gates: { type: 'string' },
        template: { type: 'string' },
        metric: { type: 'string' },
        stages: { type: 'string' },
        weights: { type: 'string' },
        traffic: { type: 'string' },
        scenario: { type: 'string' },
        canary: { type: 'string' },
        baseline: { type: 'string' },
        window: { type: 'string' },
        rollouts: { type: 'string' },
        seed: { type: 'string' },
        'decide-within': { type: 'string' },
        ...TABLE_OPTIONS,
      },
    }, simulate)
    const sc = scenario(values.scenario ?? 'healthy')
    if (sc === undefined) throw new UsageError(`--scenario: ${unknownName('scenario', values.scenario ?? '', SCENARIOS.map((s) => s.name))}`)
    const rollouts = wholeNumber('--rollouts', values.rollouts ?? '400', 1, MAX_ROLLOUTS)
    const seed = wholeNumber('--seed', values.seed ?? '1', 0, 2 ** 32 - 1)
    const decideWithinMinutes = wholeNumber('--decide-within', values['decide-within'] ?? '1440', 0, 7 * 1440)
    const window = values.window ?? 'analysis'
    if (window !== 'analysis' && window !== 'canary' && window !== 'lookback') throw new UsageError(`--window must be analysis, canary or lookback, got '${window}'`)
    const traffic = values.traffic === undefined ? sc.traffic ?? BUSY : parseTraffic(values.traffic)
    const rates = (option: '--canary' | '--baseline', text: string | undefined, start: typeof sc.canary): typeof sc.canary => {
      if (text === undefined) return start
      try {
        return parseRates(text, start, option)
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
    }
    const canary = rates('--canary', values.canary, sc.canary)
    const baseline = rates('--baseline', values.baseline, sc.baseline)

    const gatesFile = values.gates ?? io.env.GATES_FILE
    const { policy } = gatesFile === undefined || gatesFile === '' ? defaultPolicy() : await loadGatesFile(gatesFile)
    const stages = (values.stages ?? 'canary-1,canary-2').split(',').map((s) => s.trim()).filter((s) => s !== '')
    if (stages.length === 0) throw new UsageError('--stages needs at least one stage, e.g. canary-1,canary-2')
    for (const s of stages) if (policy.stages[s] === undefined) throw new UsageError(`--stages: ${unknownName('stage', s, Object.keys(policy.stages))}`)
    const weights = parseWeights(values.weights, stages)
    const rules = await loadRules(values.template ?? SHIPPED_TEMPLATE, values.metric ?? 'gate-verdict')

    const spec: SimulationSpec = { policy, stages, weights, rules, traffic, canary, baseline, rollouts, seed, window, decideWithinMinutes }
    try {
      stageRuns(spec)
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    const report = simulatePolicy(spec, progressReporter(io, stages.length, rollouts))
    if (values.json) {
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
      return EXIT_OK
    }
    const width = tableWidth(io, values.wide)
    const notes = reportNotes(report).flatMap((line) => paragraph(line, width))
    io.stdout.write(`${table(reportRows(report), width).join('\n')}\n\n${notes.join('\n')}\n`)
    return EXIT_OK
  },
}

function wholeNumber (option: string, text: string, min: number, max: number): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${option} must be a whole number from ${min} to ${max}, got '${text}'`)
  return n
}

function parseTraffic (text: string): Traffic {
  const parts = text.split(',').map((s) => s.trim())
  const [d, j] = parts.map(Number) as [number, number]
  if (parts.length !== 2 || parts.some((p) => p === '') || !(d >= 0) || !(j >= 0) || !Number.isFinite(d) || !Number.isFinite(j) || d + j === 0) {
    throw new UsageError(`--traffic must be DECISIONS_PER_MIN,JOBS_PER_MIN (numbers >= 0, not both 0), e.g. 600,200; got '${text}'`)
  }
  return { decisionsPerMinute: d, jobsPerMinute: j }
}

function parseWeights (text: string | undefined, stages: string[]): Record<string, number> {
  const weights: Record<string, number> = {}
  for (const s of stages) if (DEFAULT_WEIGHTS[s] !== undefined) weights[s] = DEFAULT_WEIGHTS[s]
  if (text === undefined) return weights
  const items = text.split(',').map((s) => s.trim())
  const positional = items.every((i) => !i.includes('='))
  if (positional && items.length !== stages.length) throw new UsageError(`--weights: ${items.length} weight${items.length === 1 ? '' : 's'} for ${stages.length} stage${stages.length === 1 ? '' : 's'} (${stages.join(', ')}); give one per stage or STAGE=PERCENT pairs`)
  items.forEach((item, i) => {
    const [name, raw] = positional ? [stages[i] as string, item] : item.split('=') as [string, string | undefined]
    if (!stages.includes(name)) throw new UsageError(`--weights: '${item}' names ${unknownName('stage', name, stages)} (a stage of --stages)`)
    const w = Number(raw)
    if (raw === undefined || raw.trim() === '' || !Number.isFinite(w) || w < 0 || w > 100) throw new UsageError(`--weights: the weight of ${name} must be a percentage from 0 to 100, got '${raw ?? ''}'`)
    weights[name] = w
  })
  return weights
}

async function loadRules (file: string, metric: string): Promise<MetricRules> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message
    throw new UsageError(`--template: cannot read ${file}: ${reason}`)
  }
  try {
    return templateMetric(text, file, metric)
  } catch (err) {
    throw new UsageError(`--template: ${(err as Error).message}`)
  }
}

/** Progress on stderr, at most every two seconds, only for runs that take that long. */
function progressReporter (io: Io, stages: number, rollouts: number): (stage: string, done: number) => void {
  const started = Date.now()
  let said = started
  let stageIndex = 0
  let current = ''
  return (stage, done) => {
    if (stage !== current) { current = stage; stageIndex++ }
    const now = Date.now()
    if (now - said < 2000) return
    said = now
    io.stderr.write(`simulate: stage ${stage} (${stageIndex}/${stages}): ${done}/${rollouts} rollouts, ${Math.round((now - started) / 1000)}s\n`)
  }
}
