import { constants, createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { defaultPolicy, loadGatesFile } from '../config/load.js'
import { formatLocated, type LocatedError } from '../config/located.js'
import { loadObservationsFile, parseObservations } from '../sources/observations-file.js'
import { unknownName } from '../config/names.js'
import type { GatesPolicy, Stage } from '../config/policy.js'
import { GateError, isGateError } from '../errors.js'
import { judge as judgeObservations } from '../gate/verdict.js'
import { EXIT_FAIL, EXIT_OK, EXIT_VERDICT, FAIL_ON_USAGE, failOn, parseOptions, TABLE_OPTIONS, TABLE_OPTIONS_USAGE, tableWidth, UsageError, useColour, verdictExit, type Command, type Io } from './command.js'
import { renderJudgement } from './render.js'

export const judge: Command = {
  name: 'judge',
  summary: 'judge recorded observations offline (retrospective analysis)',
  usage: `usage: agent-canary-gate judge --stage NAME --observations FILE [options]
       agent-canary-gate judge --stage NAME --jsonl [--observations FILE|-] [options]

  --stage NAME       shadow, canary-1, canary-2, full (or a stage the gates file adds)
  --observations F   recorded observations, JSON or YAML (docs/observations.md)
  --gates FILE       gates policy (default: $GATES_FILE, else the built-in defaults)
  --jsonl            a stream of observation sets, one JSON document per line, from F or
                     stdin (no --observations, or -): one ScoreResponse JSON per line out, for
                     backtesting recorded decisions against a changed policy. A bad line is
                     reported on stderr with its line number and the others go on.
${FAIL_ON_USAGE}
${TABLE_OPTIONS_USAGE.replace("the gate's JSON", 'the ScoreResponse JSON')}

Exit 0 with the verdict printed; ${EXIT_VERDICT} when it is at or past --fail-on (with --jsonl: any
line's); 1 when a file is refused (with --jsonl: any line); 2 for a usage mistake.`,
  async run (argv, io) {
    const { values } = parseOptions({
      args: argv,
      options: {
        stage: { type: 'string' },
        observations: { type: 'string' },
        gates: { type: 'string' },
        'fail-on': { type: 'string' },
        jsonl: { type: 'boolean', default: false },
        ...TABLE_OPTIONS,
      },
    }, judge)
    const failing = failOn(values['fail-on'])
    if (values.stage === undefined || (values.observations === undefined && !values.jsonl)) throw new UsageError(`--stage and --observations are required (--observations is optional with --jsonl: stdin)\n\n${judge.usage}`)
    const gatesFile = values.gates ?? io.env.GATES_FILE
    const { policy } = gatesFile === undefined || gatesFile === '' ? defaultPolicy() : await loadGatesFile(gatesFile)
    const stage = policy.stages[values.stage]
    if (stage === undefined) throw new UsageError(unknownName('stage', values.stage, Object.keys(policy.stages)))
    if (values.jsonl) return await judgeLines(stage, policy, values.observations, io, failing, values['fail-on'])
    const observations = await loadObservationsFile(values.observations as string, policy)
    const judgement = judgeObservations(stage, observations)
    io.stdout.write(values.json ? `${JSON.stringify(judgement, null, 2)}\n` : renderJudgement(judgement, { colour: useColour(io), width: tableWidth(io, values.wide) }))
    return verdictExit(judgement.verdict, failing, values['fail-on'], io)
  },
}

/**
 * `judge --jsonl`: each non-blank line is one observation set, judged as the single-file path
 * judges it (parseObservations, then the judge) and written as one compact ScoreResponse line,
 * as soon as it is read. A refused line is reported on stderr as FILE:LINE:COLUMN and skipped.
 */
async function judgeLines (stage: Stage, policy: GatesPolicy, file: string | undefined, io: Io, failing: Set<string>, flag: string | undefined): Promise<number> {
  const fromStdin = file === undefined || file === '-'
  const name = fromStdin ? 'stdin' : file
  let input: AsyncIterable<string | Buffer>
  if (fromStdin) {
    if (io.stdin === undefined) throw new UsageError('--jsonl without --observations reads stdin, which this process has not got; give --observations FILE')
    input = io.stdin
  } else {
    // An unreadable file is refused like --observations' (exit 1), before any output.
    try {
      await access(file, constants.R_OK)
    } catch (err) {
      throw new GateError('GATE_ERR_OBSERVATIONS_INVALID', `cannot read observations file ${file}: ${(err as Error).message}`, { cause: err })
    }
    input = createReadStream(file)
  }
  let lineNo = 0
  let bad = 0
  let judged = 0
  let worst: string | undefined
  for await (const line of createInterface({ input: input instanceof Readable ? input : Readable.from(input), crlfDelay: Infinity })) {
    lineNo++
    if (line.trim() === '') continue
    try {
      // One JSON document per line: YAML (which the parser also reads) would hide a broken line.
      try {
        JSON.parse(line)
      } catch (err) {
        throw new GateError('GATE_ERR_OBSERVATIONS_INVALID', `not a JSON document: ${(err as Error).message}`)
      }
      const judgement = judgeObservations(stage, parseObservations(line, name, policy))
      judged++
      if (failing.has(judgement.verdict)) worst ??= judgement.verdict
      io.stdout.write(`${JSON.stringify(judgement)}\n`)
    } catch (err) {
      if (!isGateError(err)) throw err
      bad++
      const located = (err.details as LocatedError[] | undefined) ?? []
      const lines = Array.isArray(located) && located.length > 0
        ? located.map((e) => formatLocated({ ...e, file: name, line: lineNo }))
        : [`${name}:${lineNo}: ${err.message}`]
      io.stderr.write(`${lines.join('\n')}\n`)
    }
  }
  if (bad > 0) {
    io.stderr.write(`judge --jsonl: ${bad} of ${bad + judged} observation sets refused (their lines are above); the other ${judged} judged\n`)
    return EXIT_FAIL
  }
  return worst === undefined ? EXIT_OK : verdictExit(worst, failing, flag, io)
}
