/**
 * Prometheus as a SignalSource: the gates policy's PromQL, run through Prometheus' HTTP API
 * (`/api/v1/query` at the window's end, `/api/v1/query_range` for sub-interval buckets).
 * The work is shared with Loki in ../query/source.ts; this file says what differs.
 */
import { QuerySource, type QuerySourceOptions } from '../query/source.js'

export class PrometheusSource extends QuerySource {
  constructor (opts: QuerySourceOptions) {
    super('prometheus', 'Prometheus', {
      instantPath: '/api/v1/query',
      rangePath: '/api/v1/query_range',
      readyPath: '/-/ready',
      // Unix seconds; millisecond precision is all the gate's windows carry.
      time: (ms) => (ms / 1000).toFixed(3),
    }, { tokenVariable: 'PROMETHEUS_BEARER_TOKEN', ...opts })
  }
}
