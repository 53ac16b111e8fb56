import { defaultPolicy, loadGatesFile } from '../config/load.js'
import { loadObservationsFile } from '../config/observations-file.js'
import { unknownName } from '../config/names.js'
import { judge as judgeObservations } from '../gate/verdict.js'
import { EXIT_OK, parseOptions, UsageError, useColour, type Command } from './command.js'
import { renderJudgement } from './render.js'

export const judge: Command = {
  name: 'judge',
  summary: 'judge recorded observations offline (retrospective analysis)',
  usage: `usage: agent-canary-gate judge --stage NAME --observations FILE [--gates FILE] [--json]

  --stage NAME          shadow, canary-1, canary-2, full (or a stage the gates file adds)
  --observations FILE   recorded observations, JSON or YAML (docs/observations.md)
  --gates FILE          gates policy (default: $GATES_FILE, else the built-in defaults)
  --json                print the ScoreResponse JSON instead of the table

Exit 0 whatever the verdict; 1 when a file is refused.`,
  async run (argv, io) {
    const { values } = parseOptions({
      args: argv,
      options: {
        stage: { type: 'string' },
        observations: { type: 'string' },
        gates: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }, judge)
    if (values.stage === undefined || values.observations === undefined) throw new UsageError(`--stage and --observations are required\n\n${judge.usage}`)
    const gatesFile = values.gates ?? io.env.GATES_FILE
    const { policy } = gatesFile === undefined || gatesFile === '' ? defaultPolicy() : await loadGatesFile(gatesFile)
    const stage = policy.stages[values.stage]
    if (stage === undefined) throw new UsageError(unknownName('stage', values.stage, Object.keys(policy.stages)))
    const observations = await loadObservationsFile(values.observations, policy)
    const judgement = judgeObservations(stage, observations)
    io.stdout.write(values.json ? `${JSON.stringify(judgement, null, 2)}\n` : renderJudgement(judgement, { colour: useColour(io) }))
    return EXIT_OK
  },
}
