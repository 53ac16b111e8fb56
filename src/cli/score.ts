import { request } from 'undici'
import { GateError } from '../errors.js'
import type { ScoreResponse } from '../service/score.js'
import { EXIT_FAIL, EXIT_OK, parseOptions, UsageError, useColour, type Command } from './command.js'
import { renderJudgement } from './render.js'

const FIELDS = ['stage', 'canary', 'baseline', 'tenant', 'topic', 'since', 'until', 'weight'] as const

export const score: Command = {
  name: 'score',
  summary: 'ask a running gate for a verdict and print it as a table',
  usage: `usage: agent-canary-gate score --url URL --stage NAME --canary AGENT_ID [options] [--json]

  --url URL          the gate, e.g. http://localhost:8080
  --stage NAME       shadow, canary-1, canary-2, full (or a stage of the gate's policy)
  --canary ID        the canary's Cordum agent_id
  --baseline ID      the stable version's agent_id
  --tenant T         Cordum tenant (default: the gate's CORDUM_TENANT)
  --topic T          restrict to one Cordum topic
  --since S          window start: RFC 3339 time or a duration such as 30m
  --until U          window end: RFC 3339 time (default now)
  --weight W         expected canary weight in percent (traffic-split check)
  --api-key K        the gate's API key (default $GATE_API_KEY)
  --json             print the ScoreResponse JSON

Exit 0 whatever the verdict; 1 when the gate answers with an error or cannot be reached.`,
  async run (argv, io) {
    const { values } = parseOptions({
      args: argv,
      options: {
        url: { type: 'string' },
        ...Object.fromEntries(FIELDS.map((f) => [f, { type: 'string' as const }])),
        'api-key': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }, score)
    const v = values as Record<string, string | boolean | undefined>
    if (v.url === undefined || v.stage === undefined || v.canary === undefined) throw new UsageError(`--url, --stage and --canary are required\n\n${score.usage}`)
    let base: URL
    try {
      base = new URL('/api/v1/score', String(v.url))
    } catch {
      throw new UsageError(`--url must be a URL such as http://localhost:8080, got '${String(v.url)}'`)
    }
    for (const f of FIELDS) if (typeof v[f] === 'string') base.searchParams.set(f, v[f] as string)
    const key = (v['api-key'] as string | undefined) ?? io.env.GATE_API_KEY
    const headers: Record<string, string> = { accept: 'application/json' }
    if (key !== undefined && key !== '') headers['x-api-key'] = key
    let res
    try {
      res = await request(base, { headers, headersTimeout: 15_000, bodyTimeout: 15_000 })
    } catch (err) {
      throw new GateError('GATE_ERR_UPSTREAM_UNREACHABLE', `cannot reach the gate at ${base.origin}: ${(err as Error).message}`)
    }
    const text = await res.body.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      io.stderr.write(`error: the gate answered ${res.statusCode} with a body that is not JSON\n`)
      return EXIT_FAIL
    }
    if (res.statusCode !== 200) {
      const e = body as { error?: string, code?: string, source?: string }
      io.stderr.write(`error: the gate answered ${res.statusCode}: ${e.error ?? text.slice(0, 200)}${e.code === undefined ? '' : ` (${e.code}${e.source === undefined ? '' : `, source ${e.source}`})`}\n`)
      return EXIT_FAIL
    }
    io.stdout.write(v.json === true ? `${JSON.stringify(body, null, 2)}\n` : renderJudgement(body as ScoreResponse, { colour: useColour(io) }))
    return EXIT_OK
  },
}
