/**
 * Loki as a SignalSource: the gates policy's LogQL metric queries (count_over_time over the
 * scheduler's logs, e.g. Cordum's `pool_overloaded` / `no_workers` reason codes, which appear
 * nowhere else), run through Loki's HTTP API (`/loki/api/v1/query` at the window's end,
 * `/loki/api/v1/query_range` for sub-interval buckets). With a tenant, every request carries
 * `X-Scope-OrgID` (multi-tenant Loki). The work is shared with Prometheus in ../query/source.ts.
 */
import { QuerySource, type QuerySourceOptions } from '../query/source.js'

export interface LokiSourceOptions extends QuerySourceOptions {
  /** Loki tenant, sent as X-Scope-OrgID (LOKI_TENANT). */
  tenant?: string
}

export class LokiSource extends QuerySource {
  constructor (opts: LokiSourceOptions) {
    const { tenant, ...rest } = opts
    const headers = { ...rest.headers, ...(tenant === undefined || tenant === '' ? {} : { 'x-scope-orgid': tenant }) }
    super('loki', 'Loki', {
      instantPath: '/loki/api/v1/query',
      rangePath: '/loki/api/v1/query_range',
      readyPath: '/ready',
      // Unix nanoseconds: Loki's native unit, read the same by every Loki 2.x and 3.x.
      time: (ms) => `${BigInt(Math.round(ms)) * 1_000_000n}`,
    }, { tokenVariable: 'LOKI_BEARER_TOKEN', ...rest, headers })
  }
}
