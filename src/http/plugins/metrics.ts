/**
 * GET /metrics (Prometheus text format) and the HTTP request metrics. Registered on the app's
 * own instance, not as an encapsulated plugin, so the onResponse hook sees every route. The
 * route label is the route template (`/api/v1/score`), never the raw URL with its query string.
 * /metrics needs no gate key; with METRICS_API_KEY set it needs that one (app.ts): it names
 * every tenant's rollouts and verdicts, never keys.
 */
import type { FastifyInstance } from 'fastify'
import type { GateMetrics } from '../../metrics/gate-metrics.js'

export function registerMetrics (app: FastifyInstance, metrics: GateMetrics): void {
  // Every route starts with a 0 count of 200s: rate() only sees increments after a series'
  // first scrape, so a lazily created series would hide the first requests from alerts.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') metrics.httpRequest(method, route.url, 200, undefined)
  })
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { contentType, body } = await metrics.exposition()
    return await reply.type(contentType).send(body)
  })
}
