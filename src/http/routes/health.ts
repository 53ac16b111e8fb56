/**
 * Probes. /healthz: the process serves requests (liveness; no upstream calls, so a Cordum
 * outage never restarts the gate). /readyz: the gates policy is loaded and every configured
 * source answers its health endpoint (Cordum: GET /api/v1/status); 503 otherwise. A ready gate
 * whose Cordum key may not read some endpoint the policy needs is still ready (it answers,
 * never with a pass it cannot back) and lists those reads under `degraded`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { PermissionCheck } from '../../service/permissions.js'
import type { ScoreService } from '../../service/score.js'
import { clientGone } from './score.js'
import { HealthSchema, ReadySchema } from '../schemas.js'

export const healthRoutes: FastifyPluginAsyncTypebox<{ service: ScoreService, permissions?: Pick<PermissionCheck, 'degraded'> }> = async (app, { service, permissions }) => {
  app.get('/healthz', { schema: { tags: ['probes'], summary: 'Liveness', response: { 200: HealthSchema } } }, async () => ({ status: 'ok' as const }))
  app.get('/readyz', { schema: { tags: ['probes'], summary: 'Readiness: gates policy and upstreams', response: { 200: ReadySchema, 503: ReadySchema } } }, async (_request, reply) => {
    const sources = await service.ready(clientGone(reply))
    const ok = sources.every((s) => s.ok)
    void reply.code(ok ? 200 : 503)
    const degraded = permissions?.degraded ?? []
    return { status: ok ? 'ready' as const : 'not_ready' as const, ...(degraded.length === 0 ? {} : { degraded }), gates: { ok: true, file: service.policy.file, sha256: service.policy.hash }, sources }
  })
}
