/**
 * Query roles: what each query of a Prometheus or Loki signal measures, per signal kind.
 *
 * A role's query runs once per arm with {{arm}} set to that arm's value (the request's canary
 * or baseline). `canary_<role>` or `baseline_<role>` replaces it for one arm, for deployments
 * where the arms are told apart by something other than one label value.
 *
 *   rate      events (n: independent events, e.g. jobs), hits (k: those that count against the
 *             canary, e.g. failed jobs), both whole counts over {{window}}
 *   quantile  seconds (e.g. p95 latency), events (optional: requests behind it)
 *   backlog   pending (approvals waiting), oldest_age_seconds
 */
import { closest } from '../names.js'
import type { SignalKind, SourceName } from '../policy.js'
import { parseTemplate, TemplateError, type Dialect, type QueryTemplate } from './template.js'

export type Role = 'events' | 'hits' | 'seconds' | 'pending' | 'oldest_age_seconds'
export type ArmName = 'canary' | 'baseline'

export const ROLES: Record<SignalKind, { required: Role[], optional: Role[] }> = {
  rate: { required: ['events', 'hits'], optional: [] },
  quantile: { required: ['seconds'], optional: ['events'] },
  backlog: { required: ['pending', 'oldest_age_seconds'], optional: [] },
  // Check signals come from the gate's own actions (policy simulation), never from a query.
  check: { required: [], optional: [] },
}

export const DIALECT: Record<Exclude<SourceName, 'cordum'>, Dialect> = { prometheus: 'promql', loki: 'logql' }

/** Longest query accepted; a gate's queries are a few lines. */
export const MAX_QUERY_LENGTH = 8 * 1024

/** The parsed queries of one signal: per role, the template each arm runs. */
export type SignalQueries = Partial<Record<Role, Record<ArmName, QueryTemplate>>>

export interface QueryProblem {
  /** The key under `query` at fault, or undefined for the map as a whole. */
  role?: string
  message: string
}

function known (kind: SignalKind): string[] {
  const { required, optional } = ROLES[kind]
  const base = [...required, ...optional]
  return [...base, ...base.map((r) => `canary_${r}`), ...base.map((r) => `baseline_${r}`)]
}

/**
 * Parses and checks a signal's query map. Returns the queries per role and arm, and the
 * problems found (unknown roles, missing roles, templates that do not lex, a shared query that
 * cannot tell the arms apart).
 */
export function compileQueries (kind: SignalKind, dialect: Dialect, query: Record<string, string>): { queries: SignalQueries, problems: QueryProblem[] } {
  const problems: QueryProblem[] = []
  const parsed = new Map<string, QueryTemplate>()
  const names = known(kind)
  for (const [role, text] of Object.entries(query)) {
    if (!names.includes(role)) {
      const hint = closest(role, names)
      problems.push({ role, message: `unknown query role '${role}'${hint === undefined ? '' : `; did you mean '${hint}'?`} (a ${kind} signal takes ${[...ROLES[kind].required, ...ROLES[kind].optional].join(', ')}, each optionally as canary_<role> / baseline_<role>)` })
      continue
    }
    if (text.length > MAX_QUERY_LENGTH) {
      problems.push({ role, message: `the query is ${text.length} characters long; at most ${MAX_QUERY_LENGTH} are accepted` })
      continue
    }
    try {
      parsed.set(role, parseTemplate(text, dialect))
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err
      problems.push({ role, message: `${err.message} (at character ${err.offset + 1}: ${excerpt(text, err.offset)})` })
    }
  }

  const queries: SignalQueries = {}
  const { required, optional } = ROLES[kind]
  for (const role of [...required, ...optional]) {
    const shared = parsed.get(role)
    const canary = parsed.get(`canary_${role}`) ?? shared
    const baseline = parsed.get(`baseline_${role}`) ?? shared
    const anyGiven = [role, `canary_${role}`, `baseline_${role}`].some((r) => r in query)
    if (canary === undefined || baseline === undefined) {
      if (required.includes(role) && !problems.some((p) => p.role !== undefined && [role, `canary_${role}`, `baseline_${role}`].includes(p.role))) {
        const missing = canary === undefined && baseline === undefined ? `'${role}'` : `'${role}' (or '${canary === undefined ? 'canary' : 'baseline'}_${role}')`
        problems.push({ message: `a ${kind} signal needs a ${missing} query${anyGiven ? ' for both arms' : ''}` })
      }
      continue
    }
    // A query both arms share must tell them apart, or the canary is compared with itself.
    // Backlog gauges may be global (Cordum's approval queue depth has no agent label).
    if (shared !== undefined && kind !== 'backlog' && (canary === shared || baseline === shared) && !shared.uses.has('arm')) {
      problems.push({ role, message: `the '${role}' query runs for both arms but does not use {{arm}}, so both arms would get the same number; select the arm with {{arm}} (e.g. agent_id="{{arm}}") or give canary_${role} and baseline_${role}` })
      continue
    }
    queries[role] = { canary, baseline }
  }
  return { queries, problems }
}

function excerpt (text: string, offset: number): string {
  const from = Math.max(0, offset - 20)
  const s = text.slice(from, offset + 20).replaceAll('\n', ' ')
  return `'${from > 0 ? '...' : ''}${s}${offset + 20 < text.length ? '...' : ''}'`
}
