import { writeFile } from 'node:fs/promises'
import { request } from 'undici'
import { GateError } from '../errors.js'
import type { ChainRecord } from '../evidence/record.js'
import type { DecisionSummary } from '../http/routes/decisions.js'
import { EXIT_FAIL, EXIT_OK, parseOptions, UsageError, useColour, type Command, type Io } from './command.js'
import { renderJudgement } from './render.js'

const FILTERS = ['tenant', 'namespace', 'rollout', 'revision', 'stage', 'verdict', 'since', 'until', 'limit', 'order'] as const

async function getJson (base: string, path: string, query: Record<string, string>, io: Io, apiKey: string | undefined): Promise<{ status: number, body: any }> {
  let url: URL
  try {
    url = new URL(path, base)
  } catch {
    throw new UsageError(`--url must be a URL such as http://localhost:8080, got '${base}'`)
  }
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
  const headers: Record<string, string> = { accept: 'application/json' }
  const key = apiKey ?? io.env.GATE_API_KEY
  if (key !== undefined && key !== '') headers['x-api-key'] = key
  let res
  try {
    res = await request(url, { headers, headersTimeout: 30_000, bodyTimeout: 30_000 })
  } catch (err) {
    throw new GateError('GATE_ERR_UPSTREAM_UNREACHABLE', `cannot reach the gate at ${url.origin}: ${(err as Error).message}`)
  }
  const text = await res.body.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    throw new GateError('GATE_ERR_UPSTREAM_RESPONSE', `the gate answered ${res.statusCode} with a body that is not JSON`)
  }
  if (res.statusCode !== 200) throw new GateError('GATE_ERR_UPSTREAM_STATUS', `the gate answered ${res.statusCode}: ${String(body?.error ?? text.slice(0, 200))}${body?.code === undefined ? '' : ` (${String(body.code)})`}`)
  return { status: res.statusCode, body }
}

function table (rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n'
}

function actionText (d: DecisionSummary): string {
  const parts: string[] = []
  if (d.approval !== undefined) parts.push(`approval ${d.approval.status}${d.approval.jobId === undefined ? '' : ` (${d.approval.jobId})`}`)
  const rb = d.actions?.rollback
  if (rb !== undefined) parts.push(rb.status === 'started' ? `rollback run ${rb.runId ?? '?'}` : `rollback ${rb.status}`)
  return parts.join(', ') || '-'
}

export function renderDecisions (items: DecisionSummary[]): string {
  const rows = [['TIME', 'ID', 'TENANT', 'ROLLOUT', 'REVISION', 'STAGE', 'CANARY', 'VERDICT', 'SCORE', 'ACTIONS', 'WHY']]
  for (const d of items) {
    rows.push([d.time, d.id, d.tenant, [d.namespace, d.rollout].filter((x) => x !== undefined).join('/') || '-', d.revision ?? '-', d.stage, d.canary, d.verdict.toUpperCase(), String(d.score), actionText(d), d.reasonCodes.join(',')])
  }
  return table(rows)
}

export const decisions: Command = {
  name: 'decisions',
  summary: 'list, show and verify a gate\'s decision records',
  usage: `usage: agent-canary-gate decisions list   --url URL [filters] [--all] [--json]
       agent-canary-gate decisions get ID  --url URL [--observations FILE] [--json]
       agent-canary-gate decisions verify  --url URL [--tenant T] [--json]

  --url URL            the gate, e.g. http://localhost:8080
  --tenant, --namespace, --rollout, --revision, --stage, --verdict
                       filters (list); --tenant also for verify
  --since S, --until U record time: RFC 3339, or a duration back from now for --since (24h)
  --limit N            records per page (default 50, at most 200); --all follows every page
  --order asc|desc     oldest or newest first (default desc)
  --observations FILE  (get) write the record's observations to FILE, which
                       'agent-canary-gate judge --observations FILE' replays
  --api-key K          the gate's API key (default $GATE_API_KEY)
  --json               print the gate's JSON

Exit 0 on success; 1 when the gate answers an error, or when verify finds a broken chain.`,
  async run (argv, io) {
    const { values, positionals } = parseOptions({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        ...Object.fromEntries(FILTERS.map((f) => [f, { type: 'string' as const }])),
        all: { type: 'boolean', default: false },
        observations: { type: 'string' },
        'api-key': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }, decisions)
    const v = values as Record<string, string | boolean | undefined>
    const [action, id, ...extra] = positionals
    if (typeof v.url !== 'string') throw new UsageError(`--url is required\n\n${decisions.usage}`)
    const url = v.url
    const key = v['api-key'] as string | undefined
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0] as string}'\n\n${decisions.usage}`)
    switch (action) {
      case 'list': {
        if (id !== undefined) throw new UsageError(`list takes no argument, got '${id}'`)
        const query: Record<string, string> = {}
        for (const f of FILTERS) if (typeof v[f] === 'string') query[f] = v[f] as string
        const items: DecisionSummary[] = []
        for (;;) {
          const { body } = await getJson(url, '/api/v1/decisions', query, io, key)
          items.push(...(body.items as DecisionSummary[]))
          if (v.all !== true || body.nextCursor === null) break
          query.cursor = body.nextCursor as string
        }
        io.stdout.write(v.json === true ? `${JSON.stringify(items, null, 2)}\n` : items.length === 0 ? 'no decision records match\n' : renderDecisions(items))
        return EXIT_OK
      }
      case 'get': {
        if (id === undefined) throw new UsageError(`get needs a decision id\n\n${decisions.usage}`)
        const { body } = await getJson(url, `/api/v1/decisions/${encodeURIComponent(id)}`, {}, io, key)
        const record = body as ChainRecord
        if (typeof v.observations === 'string') {
          if (record.kind !== 'decision') throw new UsageError(`record ${id} is a retention anchor, not a decision: it has no observations`)
          await writeFile(v.observations, `${JSON.stringify(record.observations, null, 2)}\n`)
          io.stderr.write(`wrote the observations of ${id} to ${v.observations}; replay: agent-canary-gate judge --stage ${record.stage} --observations ${v.observations}\n`)
        }
        if (v.json === true) io.stdout.write(`${JSON.stringify(record, null, 2)}\n`)
        else if (record.kind === 'decision') {
          io.stdout.write(`DECISION ${record.id}  seq ${record.seq}  ${record.time}  tenant ${record.tenant}  ${[record.namespace, record.rollout].filter((x) => x !== undefined).join('/')}${record.revision === undefined ? '' : ` revision ${record.revision}`}\n` +
            `policy ${record.policy.file} sha256 ${record.policy.sha256.slice(0, 12)}  sources ${Object.entries(record.sources).map(([n, s]) => `${n} ${s.version}`).join(', ')}  window rule ${record.request.windowRule}\n\n`)
          io.stdout.write(renderJudgement({ ...record.judgement, decisionId: record.id }, { colour: useColour(io) }))
          if (record.actions !== undefined) io.stdout.write(`\nACTIONS\n${Object.entries(record.actions).map(([k, a]) => `  ${k}: ${a.status} - ${a.reason}`).join('\n')}\n`)
        } else {
          io.stdout.write(`ANCHOR ${record.id}  seq ${record.seq}  ${record.time}: retention (${record.retentionDays} days) pruned records 1..${record.prunedThrough.seq} of tenant ${record.tenant}\n`)
        }
        return EXIT_OK
      }
      case 'verify': {
        const { body } = await getJson(url, '/api/v1/decisions/verify', typeof v.tenant === 'string' ? { tenant: v.tenant } : {}, io, key)
        if (v.json === true) io.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
        else {
          const rows = [['TENANT', 'RESULT', 'RECORDS', 'FIRST', 'LAST', 'DETAIL']]
          for (const r of body.tenants as any[]) {
            rows.push([r.tenant, r.ok ? 'ok' : 'BROKEN', String(r.records), r.first === undefined ? '-' : `${String(r.first.seq)} ${String(r.first.time)}`, r.last === undefined ? '-' : `${String(r.last.seq)} ${String(r.last.time)}`,
              r.broken !== undefined ? `record ${String(r.broken.seq)} (${String(r.broken.id)}): ${String(r.broken.reason)}` : r.prunedThrough !== undefined ? `records 1..${String(r.prunedThrough.seq)} pruned behind anchor ${String(r.prunedThrough.anchorSeq)}` : ''])
          }
          io.stdout.write(table(rows))
        }
        return body.ok === true ? EXIT_OK : EXIT_FAIL
      }
      default:
        throw new UsageError(`${action === undefined ? 'a subcommand is required' : `unknown subcommand '${action}'`}: list, get or verify\n\n${decisions.usage}`)
    }
  },
}
