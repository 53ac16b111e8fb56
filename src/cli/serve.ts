import { readConfig } from '../config/env.js'
import { runServer } from '../http/server.js'
import { EXIT_OK, parseOptions, type Command } from './command.js'

export const serve: Command = {
  name: 'serve',
  summary: 'run the score service (HTTP API for Argo and curl)',
  usage: `usage: agent-canary-gate serve

Configured by environment variables:
  PORT              listen port (default 8080; 0 picks a free port)
  HOST              listen address (default 0.0.0.0)
  LOG_LEVEL         fatal, error, warn, info (default), debug, trace, silent
  GATES_FILE        gates policy file (default: the built-in policy)
  CORDUM_URL        Cordum gateway, e.g. https://cordum.example:8081; unset: demo mode
                    against the built-in sandbox
  CORDUM_API_KEY    key sent as X-API-Key (an admin key reads every signal; a viewer key
                    leaves approval backlog, overload and schema signals unavailable)
  CORDUM_TENANT     tenant sent as X-Tenant-ID when a request names none (default 'default')
  CORDUM_DEADLINE_MS  budget for all Cordum reads of one score request (default 8000)
  CORDUM_MAX_CONCURRENCY  requests open against Cordum at once, over all score requests
                    (default 8)
  CORDUM_SLICE_MARGIN_SECONDS  a time slice of the decision log that ended this long ago is
                    closed and its counts are cached (default 120)
  CORDUM_SLICE_CACHE_ENTRIES, CORDUM_SLICE_CACHE_MB  bounds of that cache (default 100000
                    entries, 32 MB; 0 entries: no cache)
  PUBLIC_URL        the address people open the gate at (report links in answers, e.g.
                    https://canary-gate.example.com); unset: the address each request used
  GATE_API_KEYS     keys for the gate itself: KEY or KEY:tenant1|tenant2, comma-separated
                    (unset: no auth)
  PROMETHEUS_URL    Prometheus for signals with source: prometheus (docs/sources.md)
  PROMETHEUS_BEARER_TOKEN, PROMETHEUS_BEARER_TOKEN_FILE, PROMETHEUS_DEADLINE_MS
  LOKI_URL          Loki for signals with source: loki
  LOKI_BEARER_TOKEN, LOKI_BEARER_TOKEN_FILE, LOKI_TENANT (X-Scope-OrgID), LOKI_DEADLINE_MS
  METRICS_ROLLOUT_TTL_SECONDS  a rollout's metric series go this long after it was last
                    scored (default 3600)
  METRICS_MAX_ROLLOUT_STAGES   at most this many rollout/stage pairs keep metric series
                    (default 500; the least recently scored go first)
  DATA_DIR          where the embedded evidence store (SQLite) keeps decision records
                    (default ./data)
  EVIDENCE_URL      postgres://... : decision records in PostgreSQL (several replicas share
                    one chain); none: keep no records
  EVIDENCE_RETENTION_DAYS  decision records older than this are pruned (default 90)
  SCORE_REUSE_SECONDS      an identical question asked again within this many seconds gets
                    the answer and decision record of one evaluation (default 10; 0: off)
  MAX_SCORES_IN_FLIGHT     score evaluations under way at once; more get 503 with Retry-After
                    (default 64; 0: no cap)
  SHED_EVENT_LOOP_DELAY_MS, SHED_EVENT_LOOP_UTILIZATION  shed requests (503) past this mean
                    event-loop delay (default 1000 ms) or utilization (default 0: off)

Logs are JSON lines on stdout; the line "Server listening at http://HOST:PORT" gives the address.`,
  async run (argv, io) {
    parseOptions({ args: argv, options: {} }, serve)
    await runServer(readConfig(io.env))
    return EXIT_OK
  },
}
