import { writeFile } from 'node:fs/promises'
import type { ChainRecord } from '../evidence/record.js'
import type { DecisionSummary } from '../http/routes/decisions.js'
import { askGate } from './client.js'
import { EXIT_FAIL, EXIT_OK, GATE_OPTIONS, GATE_OPTIONS_USAGE, gateKey, gateUrl, parseOptions, TABLE_OPTIONS_USAGE, tableWidth, UsageError, useColour, type Command } from './command.js'
import { renderJudgement } from './render.js'
import { layout, pack, paragraph, table, visible } from './table.js'

const FILTERS = ['tenant', 'namespace', 'rollout', 'revision', 'stage', 'agent', 'canary', 'verdict', 'since', 'until', 'limit', 'order'] as const

function actionText (d: DecisionSummary): string {
  const parts: string[] = []
  if (d.approval !== undefined) parts.push(`approval ${d.approval.status}${d.approval.jobId === undefined ? '' : ` (${d.approval.jobId})`}`)
  const rb = d.actions?.rollback
  if (rb !== undefined) parts.push(rb.status === 'started' ? `rollback run ${rb.runId ?? '?'}` : `rollback ${rb.status}`)
  return parts.join(', ') || '-'
}

/** An RFC 3339 time as `2026-11-27 11:46:00`, UTC to the second: what a narrow table shows. */
function shortTime (time: string): string {
  return time.slice(0, 19).replace('T', ' ')
}

function rolloutText (d: DecisionSummary): string {
  return [d.namespace, d.rollout].filter((x) => x !== undefined).join('/') || '-'
}

/**
 * Decision summaries as a table. When every column fits `width`, one line per record; else a
 * narrower table (time, rollout, stage, verdict, score, why) with the id, canary, revision and
 * actions on an indented line below each record, so the id stays whole for `decisions get`.
 */
export function renderDecisions (items: DecisionSummary[], width: number): string {
  const rows = [['TIME', 'ID', 'TENANT', 'ROLLOUT', 'REVISION', 'STAGE', 'CANARY', 'VERDICT', 'SCORE', 'ACTIONS', 'WHY']]
  for (const d of items) {
    rows.push([d.time, d.id, d.tenant, rolloutText(d), d.revision ?? '-', d.stage, d.canary, d.verdict.toUpperCase(), String(d.score), actionText(d), d.reasonCodes.join(',')])
  }
  const full = table(rows, Number.POSITIVE_INFINITY)
  if (full.every((l) => visible(l) <= width)) return `${full.join('\n')}\n`
  const narrow = [['TIME (UTC)', 'ROLLOUT', 'STAGE', 'VERDICT', 'SCORE', 'WHY']]
  for (const d of items) narrow.push([shortTime(d.time), rolloutText(d), d.stage, d.verdict.toUpperCase(), String(d.score), d.reasonCodes.join(', ')])
  const [header, ...records] = layout(narrow, width)
  const lines = [...(header ?? [])]
  records.forEach((record, i) => {
    const d = items[i] as DecisionSummary
    const detail = [`id ${d.id}`, `canary ${d.canary}`, d.revision === undefined ? '' : `revision ${d.revision}`, d.tenant === 'default' ? '' : `tenant ${d.tenant}`, actionText(d) === '-' ? '' : actionText(d)]
    lines.push(...record, ...pack(detail.filter((x) => x !== ''), width - 4).map((l) => `    ${l}`))
  })
  return `${lines.join('\n')}\n`
}

export const decisions: Command = {
  name: 'decisions',
  summary: 'list, show and verify a gate\'s decision records',
  usage: `usage: agent-canary-gate decisions list [filters] [--all] [options]
       agent-canary-gate decisions get ID [--observations FILE] [options]
       agent-canary-gate decisions verify [--tenant T [--anchor SEQ:HASH]] [options]

  --tenant, --namespace, --rollout, --revision, --stage, --verdict
                     filters (list); --tenant also for verify
  --agent A          (list) the agent's canaries: agent_id A-<pod template hash>
  --canary ID        (list) one canary agent_id exactly
  --since S          (list) records at or after: RFC 3339, or a duration back from now (24h)
  --until U          (list) records at or before: RFC 3339
  --limit N          (list) records per page (default 50, at most 200); --all follows every page
  --order asc|desc   (list) oldest or newest first (default desc)
  --observations F   (get) write the record's observations to F, which
                     'agent-canary-gate judge --observations F' replays
  --anchor SEQ:HASH  (verify, with --tenant) a chain head kept outside the database (the
                     gate's 'chain heads' log line or its metrics): the record at SEQ
                     must still carry that hash
${GATE_OPTIONS_USAGE}
${TABLE_OPTIONS_USAGE}

Exit 0 on success; 1 when the gate answers an error, or when verify finds a broken chain;
2 for a usage mistake.`,
  async run (argv, io) {
    const { values, positionals } = parseOptions({
      args: argv,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(FILTERS.map((f) => [f, { type: 'string' as const }])),
        all: { type: 'boolean', default: false },
        observations: { type: 'string' },
        anchor: { type: 'string' },
        ...GATE_OPTIONS,
      },
    }, decisions)
    const v = values as Record<string, string | boolean | undefined>
    const [action, id, ...extra] = positionals
    const url = gateUrl(v, io, decisions)
    const key = gateKey(v, io)
    const width = tableWidth(io, v.wide === true)
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0] as string}'\n\n${decisions.usage}`)
    switch (action) {
      case 'list': {
        if (id !== undefined) throw new UsageError(`list takes no argument, got '${id}'`)
        const query: Record<string, string> = {}
        for (const f of FILTERS) if (typeof v[f] === 'string') query[f] = v[f] as string
        const items: DecisionSummary[] = []
        for (;;) {
          const body = await askGate(url, '/api/v1/decisions', query, key)
          items.push(...(body.items as DecisionSummary[]))
          if (v.all !== true || body.nextCursor === null) break
          query.cursor = body.nextCursor as string
        }
        io.stdout.write(v.json === true ? `${JSON.stringify(items, null, 2)}\n` : items.length === 0 ? 'no decision records match\n' : renderDecisions(items, width))
        return EXIT_OK
      }
      case 'get': {
        if (id === undefined) throw new UsageError(`get needs a decision id\n\n${decisions.usage}`)
        const record = await askGate(url, `/api/v1/decisions/${encodeURIComponent(id)}`, {}, key) as ChainRecord
        if (typeof v.observations === 'string') {
          if (record.kind !== 'decision') throw new UsageError(`record ${id} is a retention anchor, not a decision: it has no observations`)
          await writeFile(v.observations, `${JSON.stringify(record.observations, null, 2)}\n`)
          io.stderr.write(`wrote the observations of ${id} to ${v.observations}; replay: agent-canary-gate judge --stage ${record.stage} --observations ${v.observations}\n`)
        }
        if (v.json === true) io.stdout.write(`${JSON.stringify(record, null, 2)}\n`)
        else if (record.kind === 'decision') {
          const where = [record.namespace, record.rollout].filter((x) => x !== undefined).join('/')
          const head = [
            pack([`DECISION ${record.id}`, `seq ${record.seq}`, record.time, `tenant ${record.tenant}`, where, record.revision === undefined ? '' : `revision ${record.revision}`].filter((x) => x !== ''), width),
            pack([`policy ${record.policy.file} sha256 ${record.policy.sha256.slice(0, 12)}`, `sources ${Object.entries(record.sources).map(([n, s]) => `${n} ${s.version}`).join(', ')}`, `window rule ${record.request.windowRule}`], width),
          ]
          io.stdout.write(`${head.flat().join('\n')}\n\n`)
          io.stdout.write(renderJudgement({ ...record.judgement, decisionId: record.id }, { colour: useColour(io), width }))
          if (record.actions !== undefined) io.stdout.write(`\nACTIONS\n${Object.entries(record.actions).flatMap(([k, a]) => paragraph(`  ${k}: ${a.status} - ${a.reason}`, width, 2)).join('\n')}\n`)
        } else {
          io.stdout.write(`${paragraph(`ANCHOR ${record.id}  seq ${record.seq}  ${record.time}: retention (${record.retentionDays} days) pruned records 1..${record.prunedThrough.seq} of tenant ${record.tenant}`, width, 2).join('\n')}\n`)
        }
        return EXIT_OK
      }
      case 'verify': {
        const query: Record<string, string> = {}
        if (typeof v.tenant === 'string') query.tenant = v.tenant
        if (typeof v.anchor === 'string') query.anchor = v.anchor
        const body = await askGate(url, '/api/v1/decisions/verify', query, key)
        if (v.json === true) io.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
        else {
          const verifyRows = (time: (t: string) => string): string[][] => [['TENANT', 'RESULT', 'RECORDS', 'FIRST', 'LAST', 'DETAIL'], ...(body.tenants as any[]).map((r) => [
            r.tenant, r.ok ? 'ok' : 'BROKEN', String(r.records), r.first === undefined ? '-' : `${String(r.first.seq)} ${time(String(r.first.time))}`, r.last === undefined ? '-' : `${String(r.last.seq)} ${time(String(r.last.time))}`,
            r.broken !== undefined ? `record ${String(r.broken.seq)} (${String(r.broken.id)}): ${String(r.broken.reason)}` : r.prunedThrough !== undefined ? `records 1..${String(r.prunedThrough.seq)} pruned behind anchor ${String(r.prunedThrough.anchorSeq)}` : '',
          ])]
          const full = table(verifyRows((t) => t), Number.POSITIVE_INFINITY)
          // Narrow: times to the second (UTC), which wrap at their space rather than mid-number.
          const rows = full.every((l) => visible(l) <= width) ? verifyRows((t) => t) : verifyRows(shortTime)
          io.stdout.write(`${table(rows, width).join('\n')}\n`)
        }
        return body.ok === true ? EXIT_OK : EXIT_FAIL
      }
      default:
        throw new UsageError(`${action === undefined ? 'a subcommand is required' : `unknown subcommand '${action}'`}: list, get or verify\n\n${decisions.usage}`)
    }
  },
}
