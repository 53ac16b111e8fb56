import { defaultPolicy, loadGatesFile } from '../config/load.js'
import { loadObservationsFile } from '../sources/observations-file.js'
import { unknownName } from '../config/names.js'
import { judge as judgeObservations } from '../gate/verdict.js'
import { EXIT_VERDICT, FAIL_ON_USAGE, failOn, parseOptions, TABLE_OPTIONS, TABLE_OPTIONS_USAGE, tableWidth, UsageError, useColour, verdictExit, type Command } from './command.js'
import { renderJudgement } from './render.js'

export const judge: Command = {
  name: 'judge',
  summary: 'judge recorded observations offline (retrospective analysis)',
  usage: `usage: agent-canary-gate judge --stage NAME --observations FILE [options]

  --stage NAME       shadow, canary-1, canary-2, full (or a stage the gates file adds)
  --observations F   recorded observations, JSON or YAML (docs/observations.md)
  --gates FILE       gates policy (default: $GATES_FILE, else the built-in defaults)
${FAIL_ON_USAGE}
${TABLE_OPTIONS_USAGE.replace("the gate's JSON", 'the ScoreResponse JSON')}

Exit 0 with the verdict printed; ${EXIT_VERDICT} when it is at or past --fail-on; 1 when a file is
refused; 2 for a usage mistake.`,
  async run (argv, io) {
    const { values } = parseOptions({
      args: argv,
      options: {
        stage: { type: 'string' },
        observations: { type: 'string' },
        gates: { type: 'string' },
        'fail-on': { type: 'string' },
        ...TABLE_OPTIONS,
      },
    }, judge)
    const failing = failOn(values['fail-on'])
    if (values.stage === undefined || values.observations === undefined) throw new UsageError(`--stage and --observations are required\n\n${judge.usage}`)
    const gatesFile = values.gates ?? io.env.GATES_FILE
    const { policy } = gatesFile === undefined || gatesFile === '' ? defaultPolicy() : await loadGatesFile(gatesFile)
    const stage = policy.stages[values.stage]
    if (stage === undefined) throw new UsageError(unknownName('stage', values.stage, Object.keys(policy.stages)))
    const observations = await loadObservationsFile(values.observations, policy)
    const judgement = judgeObservations(stage, observations)
    io.stdout.write(values.json ? `${JSON.stringify(judgement, null, 2)}\n` : renderJudgement(judgement, { colour: useColour(io), width: tableWidth(io, values.wide) }))
    return verdictExit(judgement.verdict, failing, values['fail-on'], io)
  },
}
