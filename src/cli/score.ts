import type { ScoreResponse } from '../service/score.js'
import { askGate } from './client.js'
import { EXIT_VERDICT, FAIL_ON_USAGE, failOn, GATE_OPTIONS, GATE_OPTIONS_USAGE, gateKey, gateUrl, parseOptions, TABLE_OPTIONS_USAGE, tableWidth, UsageError, useColour, verdictExit, type Command } from './command.js'
import { renderJudgement } from './render.js'

const FIELDS = ['stage', 'canary', 'baseline', 'tenant', 'topic', 'since', 'until', 'weight'] as const

export const score: Command = {
  name: 'score',
  summary: 'ask a running gate for a verdict and print it as a table',
  usage: `usage: agent-canary-gate score --stage NAME --canary AGENT_ID [options]

  --stage NAME       shadow, canary-1, canary-2, full (or a stage of the gate's policy)
  --canary ID        the canary's Cordum agent_id
  --baseline ID      the stable version's agent_id
  --tenant T         Cordum tenant (default: the gate's CORDUM_TENANT)
  --topic T          restrict to one Cordum topic
  --since S          window start: RFC 3339 time or a duration such as 30m
  --until U          window end: RFC 3339 time (default now)
  --weight W         expected canary weight in percent (traffic-split check)
${FAIL_ON_USAGE}
${GATE_OPTIONS_USAGE}
${TABLE_OPTIONS_USAGE}

Exit 0 with the verdict printed; ${EXIT_VERDICT} when it is at or past --fail-on; 1 when the gate answers
with an error or cannot be reached; 2 for a usage mistake.`,
  async run (argv, io) {
    const { values } = parseOptions({
      args: argv,
      options: {
        ...Object.fromEntries(FIELDS.map((f) => [f, { type: 'string' as const }])),
        'fail-on': { type: 'string' },
        ...GATE_OPTIONS,
      },
    }, score)
    const v = values as Record<string, string | boolean | undefined>
    const failing = failOn(v['fail-on'])
    const url = gateUrl(v, io, score)
    if (v.stage === undefined || v.canary === undefined) throw new UsageError(`--stage and --canary are required\n\n${score.usage}`)
    const query: Record<string, string> = {}
    for (const f of FIELDS) if (typeof v[f] === 'string') query[f] = v[f] as string
    const body = await askGate(url, '/api/v1/score', query, gateKey(v, io), 15_000) as ScoreResponse
    io.stdout.write(v.json === true ? `${JSON.stringify(body, null, 2)}\n` : renderJudgement(body, { colour: useColour(io), width: tableWidth(io, v.wide === true) }))
    return verdictExit(body.verdict, failing, v['fail-on'], io)
  },
}
