/**
 * Every environment variable of `serve`, declared once: its default, the values it may take
 * and what it means. Three things come from this table and a test keeps them in step:
 * `serve --help` (src/cli/serve.ts), docs/configuration.md (`npm run docs:settings` writes its
 * table) and the validation at start (src/config/env.ts reads every value through it).
 * Meanings are Markdown, with links relative to docs/; `--help` prints them as plain text.
 */

interface Base {
  name: string
  meaning: string
  /** Read only when this other variable is set (the deadline of an upstream that is configured). */
  requires?: string
  /** Never printed back: not in errors, logs or answers. */
  secret?: true
}

/** A whole number from `min` to `max`. */
export interface IntegerSetting extends Base { kind: 'integer', default: number, min: number, max: number, unit?: string, off?: string }
/** A decimal number from 0 to 1. */
export interface FractionSetting extends Base { kind: 'fraction', default: number, off?: string }
/** Text: a URL, a name, a path, a list. `default` is the value used when unset, if there is one. */
export interface TextSetting extends Base { kind: 'text', default?: string, unset?: string, values?: readonly string[], range: string, example: string }

export type Setting = IntegerSetting | FractionSetting | TextSetting

/** The budget of one score request's reads of an upstream, inside Argo's 10 s web timeout. */
export const DEFAULT_DEADLINE_MS = 8_000
/** Requests open against one Cordum gateway at once, over every score request. */
export const DEFAULT_CORDUM_MAX_CONCURRENCY = 8
/** A time slice of Cordum's decision log that ended this long ago is closed and its counts cached. */
export const DEFAULT_SLICE_MARGIN_SECONDS = 120
/** Bounds of the closed-slice cache: entries, and estimated memory. */
export const DEFAULT_SLICE_CACHE_ENTRIES = 100_000
export const DEFAULT_SLICE_CACHE_MB = 32
/** Pages (of 500) one walk of Cordum's jobs list or DLQ may take (real Cordum's takes at most 3). */
export const DEFAULT_MAX_PAGES = 200
/** A rollout's metric series go this long after it was last scored. */
export const DEFAULT_ROLLOUT_TTL_SECONDS = 3600
/** Rollout/stage pairs that keep metric series at most. */
export const DEFAULT_MAX_ROLLOUT_STAGES = 500
/**
 * Score evaluations under way at once. Each waits mostly on Cordum; past this many, new
 * requests are shed (503) instead of queueing behind the rest towards Argo's 10 s timeout.
 */
export const DEFAULT_MAX_SCORES_IN_FLIGHT = 64

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const deadline = (upstream: string, requires: string): IntegerSetting => ({
  name: `${requires.replace(/_URL$/, '')}_DEADLINE_MS`,
  kind: 'integer',
  default: DEFAULT_DEADLINE_MS,
  min: 500,
  max: 60_000,
  unit: 'ms',
  requires,
  meaning: `budget for all ${upstream} reads of one score request, retries included (inside Argo's 10 s)`,
})

const bearer = (upstream: string, prefix: string): Setting[] => [
  { name: `${prefix}_BEARER_TOKEN`, kind: 'text', unset: 'none', range: 'a token', example: 'token-for-tests', secret: true, requires: `${prefix}_URL`, meaning: `sent to ${upstream} as \`Authorization: Bearer\`` },
  { name: `${prefix}_BEARER_TOKEN_FILE`, kind: 'text', unset: 'none', range: 'a file holding one token', example: '/var/run/secrets/token', requires: `${prefix}_URL`, meaning: 'a file holding that token instead, read once at start (not both)' },
]

export const SETTINGS: readonly Setting[] = [
  { name: 'PORT', kind: 'integer', default: 8080, min: 0, max: 65535, meaning: 'listen port; `0` picks a free one' },
  { name: 'HOST', kind: 'text', default: '0.0.0.0', range: 'an address', example: '127.0.0.1', meaning: 'listen address (Kubernetes probes need a non-loopback one)' },
  { name: 'LOG_LEVEL', kind: 'text', default: 'info', values: LOG_LEVELS, range: LOG_LEVELS.join(', '), example: 'debug', meaning: 'how much the JSON log lines on stdout say' },
  { name: 'GATES_FILE', kind: 'text', unset: 'the built-in policy', range: 'a gates file or ConfigMap', example: 'gates.yaml', meaning: 'the gates policy, checked by [`validate`](cli.md#validate-check-a-gates-policy)' },
  {
    name: 'CORDUM_URL',
    kind: 'text',
    unset: 'demo mode',
    range: 'an http(s) URL',
    example: 'https://cordum.example:8081',
    meaning: 'Cordum gateway; unset, the gate runs against a built-in sandbox (not when the gates policy reads only Prometheus and Loki)',
  },
  { name: 'CORDUM_API_KEY', kind: 'text', unset: 'none', range: 'a key', example: 'cordum-key-for-tests', secret: true, requires: 'CORDUM_URL', meaning: 'sent as `X-API-Key`; see [which key](cordum.md#which-cordum-key)' },
  { name: 'CORDUM_TENANT', kind: 'text', default: 'default', range: 'a tenant', example: 'acme', meaning: 'sent as `X-Tenant-ID` when a request names no tenant' },
  deadline('Cordum', 'CORDUM_URL'),
  {
    name: 'CORDUM_MAX_CONCURRENCY',
    kind: 'integer',
    default: DEFAULT_CORDUM_MAX_CONCURRENCY,
    min: 1,
    max: 256,
    meaning: 'requests open against Cordum at once, shared by every score request (parallel time slices, many rollouts); more wait for a slot within their deadline',
  },
  {
    name: 'CORDUM_SLICE_MARGIN_SECONDS',
    kind: 'integer',
    default: DEFAULT_SLICE_MARGIN_SECONDS,
    min: 0,
    max: 86_400,
    unit: 's',
    meaning: 'a time slice of the decision log that ended this long ago is closed: its counts are cached and not read again ([reads at scale](cordum.md#reads-at-scale))',
  },
  { name: 'CORDUM_SLICE_CACHE_ENTRIES', kind: 'integer', default: DEFAULT_SLICE_CACHE_ENTRIES, min: 0, max: 10_000_000, off: 'no slice cache', meaning: 'closed slices kept at most, least recently used first out' },
  { name: 'CORDUM_SLICE_CACHE_MB', kind: 'integer', default: DEFAULT_SLICE_CACHE_MB, min: 0, max: 4_096, unit: 'MB', meaning: 'memory the closed slices may take (estimated), the second bound of that cache' },
  {
    name: 'CORDUM_LEDGER_MAX_INTERVAL_SECONDS',
    kind: 'integer',
    default: 60,
    min: 0,
    max: 3_600,
    unit: 's',
    off: 'no ledger, job signals count what the list still holds',
    meaning: 'the job ledger reads Cordum\'s jobs list at least this often (more often when jobs come faster than the 1000-job list can hold; [the job ledger](cordum.md#the-job-ledger))',
  },
  {
    name: 'CORDUM_LEDGER_RETENTION_HOURS',
    kind: 'integer',
    default: 72,
    min: 1,
    max: 24 * 30,
    unit: 'h',
    meaning: 'job outcomes the ledger keeps, by age',
  },
  {
    name: 'CORDUM_WARM_SECONDS',
    kind: 'integer',
    default: 120,
    min: 0,
    max: 3_600,
    unit: 's',
    off: 'off',
    meaning: 'a cold window too large for one request\'s deadline: its decision-log slices keep being read this long, the answer is `inconclusive` (`warming`, with progress) and a later question gets the verdict ([warm answers](cordum.md#warm-answers))',
  },
  {
    name: 'CORDUM_MAX_PAGES',
    kind: 'integer',
    default: DEFAULT_MAX_PAGES,
    min: 1,
    max: 1_000_000,
    meaning: 'pages (of 500) one walk of Cordum\'s jobs list or DLQ may take; a longer walk is refused (503 `GATE_ERR_UPSTREAM_RESPONSE` naming this setting) as an upstream that pages without end. ' +
      'Real Cordum\'s jobs list takes at most 3; raise it only for an uncapped jobs list ([reads at scale](cordum.md#reads-at-scale))',
  },
  {
    name: 'GATE_API_KEYS',
    kind: 'text',
    unset: 'no auth',
    range: '`KEY` or `KEY:tenant1|tenant2`, comma-separated',
    example: 'argo-prod-8f3a9c1e2b7d4a60',
    secret: true,
    meaning: 'keys for the gate itself ([format](http-api.md#authentication))',
  },
  {
    name: 'VERIFY_API_KEYS',
    kind: 'text',
    unset: 'any gate key',
    range: 'as `GATE_API_KEYS`',
    example: 'verify-only-key-5d1e77c2a9f04b13',
    secret: true,
    meaning: 'keys that may call `GET /api/v1/decisions/verify`; set, no other key may (403 naming this setting)',
  },
  {
    name: 'METRICS_API_KEY',
    kind: 'text',
    unset: '`/metrics` open',
    range: 'one key, without tenants',
    example: 'metrics-scraper-key-8f3a9c1e2b7d',
    secret: true,
    meaning: 'the one key `GET /metrics` then asks for (`Authorization: Bearer` or `X-API-Key`); no other key opens it',
  },
  { name: 'PROMETHEUS_URL', kind: 'text', unset: 'no Prometheus', range: 'an http(s) URL', example: 'http://prometheus.monitoring:9090', meaning: 'Prometheus for `source: prometheus` signals ([sources](sources.md))' },
  ...bearer('Prometheus', 'PROMETHEUS'),
  deadline('Prometheus', 'PROMETHEUS_URL'),
  { name: 'LOKI_URL', kind: 'text', unset: 'no Loki', range: 'an http(s) URL', example: 'http://loki.monitoring:3100', meaning: 'Loki for `source: loki` signals' },
  ...bearer('Loki', 'LOKI'),
  { name: 'LOKI_TENANT', kind: 'text', unset: 'none', range: 'a tenant', example: 'team-a', requires: 'LOKI_URL', meaning: 'sent as `X-Scope-OrgID` (multi-tenant Loki)' },
  deadline('Loki', 'LOKI_URL'),
  {
    name: 'PUBLIC_URL',
    kind: 'text',
    unset: 'the address asked',
    range: 'an http(s) URL',
    example: 'https://canary-gate.example.com',
    meaning: 'where people open the gate: the base of every answer\'s `reportUrl` (the decision\'s page, [observability](observability.md))',
  },
  {
    name: 'METRICS_ROLLOUT_TTL_SECONDS',
    kind: 'integer',
    default: DEFAULT_ROLLOUT_TTL_SECONDS,
    min: 60,
    max: 30 * 86_400,
    unit: 's',
    meaning: 'a rollout\'s metric series go this long after it was last scored ([observability](observability.md#bounded-cardinality))',
  },
  {
    name: 'METRICS_MAX_ROLLOUT_STAGES',
    kind: 'integer',
    default: DEFAULT_MAX_ROLLOUT_STAGES,
    min: 1,
    max: 100_000,
    meaning: 'at most this many rollout/stage pairs keep metric series; the least recently scored go first',
  },
  {
    name: 'DATA_DIR',
    kind: 'text',
    default: 'data',
    range: 'a directory',
    example: '/var/lib/gate',
    meaning: 'where the embedded evidence store keeps decision records (`evidence.sqlite`), see [evidence](evidence.md)',
  },
  {
    name: 'EVIDENCE_URL',
    kind: 'text',
    unset: 'SQLite in `DATA_DIR`',
    range: '`postgres://user:password@host:5432/db` or `none`',
    example: 'postgres://gate@db.example:5432/evidence',
    secret: true,
    meaning: 'decision records in PostgreSQL, shared by several gate replicas; `none`: keep no records',
  },
  {
    name: 'EVIDENCE_HMAC_KEY',
    kind: 'text',
    unset: 'plain sha256',
    range: 'at least 32 characters',
    example: '5d1e77c2a9f04b133f9a0c2e7b5d4e1f',
    secret: true,
    meaning: 'decision records are sealed with HMAC-SHA256 under it, so someone who can write the database cannot rehash an edit ([evidence](evidence.md)); set this or `EVIDENCE_HMAC_KEY_FILE`, not both',
  },
  {
    name: 'EVIDENCE_HMAC_KEY_FILE',
    kind: 'text',
    unset: 'none',
    range: 'a file path',
    example: '/etc/agent-canary-gate/evidence-hmac-key',
    meaning: 'a file holding `EVIDENCE_HMAC_KEY` (e.g. a mounted Secret), read once at start',
  },
  {
    name: 'EVIDENCE_ANCHOR_SECONDS',
    kind: 'integer',
    default: 300,
    min: 10,
    max: 86_400,
    unit: 's',
    meaning: 'every this many seconds each tenant\'s chain head is logged (`chain heads`) and exported as a metric: an anchor outside the database ([evidence](evidence.md))',
  },
  {
    name: 'EVIDENCE_RETENTION_DAYS',
    kind: 'integer',
    default: 90,
    min: 1,
    max: 36_500,
    unit: 'days',
    meaning: 'decision records older than this are pruned (behind an anchor record, so the chain still verifies)',
  },
  {
    name: 'SCORE_REUSE_SECONDS',
    kind: 'integer',
    default: 10,
    min: 0,
    max: 60,
    unit: 's',
    meaning: 'an identical question (the same request once resolved; the default `until` is rounded to 10 s) asked again within this many seconds gets the answer and decision record of one evaluation, ' +
      'and a `GET` of the very same URL gets it before its query is parsed again (never past the answer\'s time, nor past the 10 s step of a defaulted `until`); ' +
      'one `scored` log line per evaluation, repeats at `debug` ([evidence](evidence.md)); `0`: every request is judged and recorded, ' +
      'but identical questions within 10 s still share one read of the sources (the observation cache, which this setting does not turn off)',
  },
  {
    name: 'MAX_SCORES_IN_FLIGHT',
    kind: 'integer',
    default: DEFAULT_MAX_SCORES_IN_FLIGHT,
    min: 0,
    max: 100_000,
    off: 'no cap',
    meaning: 'score evaluations under way at once (a request answered by an identical evaluation in flight, or reused, takes no place; a repeated `GET` whose answer is reused is never shed by it); ' +
      'past it a score request gets 503 `GATE_ERR_UNAVAILABLE` with `Retry-After` at once instead of queueing; see [reliability](reliability.md#overload-and-lifecycle)',
  },
  { name: 'SHED_EVENT_LOOP_DELAY_MS', kind: 'integer', default: 1_000, min: 0, max: 60_000, unit: 'ms', off: 'off', meaning: 'mean event-loop delay past which requests are shed' },
  {
    name: 'SHED_EVENT_LOOP_UTILIZATION',
    kind: 'fraction',
    default: 0,
    off: 'off',
    meaning: 'event-loop utilization past which requests are shed; off by default: a gate answering as fast as it can sits near 1 while each answer still takes milliseconds, ' +
      'so the in-flight cap and the delay are the signals',
  },
]

const BY_NAME = new Map(SETTINGS.map((s) => [s.name, s]))

/** The setting of that name; a name not in the table is a mistake in the code, found by the tests. */
export function setting<K extends Setting['kind']> (name: string, kind: K): Extract<Setting, { kind: K }> {
  const s = BY_NAME.get(name)
  if (s === undefined || s.kind !== kind) throw new Error(`${name} is not a ${kind} setting of src/config/settings.ts`)
  return s as Extract<Setting, { kind: K }>
}

/** The default column: the value, or what unset means. */
export function shownDefault (s: Setting): string {
  if (s.kind === 'text') return s.default !== undefined ? `\`${s.default}\`` : `unset: ${s.unset ?? 'none'}`
  const unit = s.kind === 'integer' && s.unit !== undefined ? ` ${s.unit}` : ''
  return `\`${s.default}\`${unit}${s.default === 0 && s.off !== undefined ? ` (${s.off})` : ''}`
}

/** The range column. */
export function shownRange (s: Setting): string {
  if (s.kind === 'text') return s.range
  const [min, max] = s.kind === 'integer' ? [s.min, s.max] : [0, 1]
  const whole = s.kind === 'integer' ? 'whole number ' : ''
  return `${whole}${min}-${max}${s.off !== undefined && min === 0 && s.default !== 0 ? `; \`0\`: ${s.off}` : ''}`
}
