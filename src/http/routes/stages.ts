/** GET /api/v1/stages: what each stage of the loaded gates policy judges, for people and tooling. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { thresholdText } from '../../gate/signals.js'
import type { ScoreService } from '../../service/score.js'
import { ErrorSchema, StagesResponseSchema } from '../schemas.js'
import { SECURITY } from './score.js'

export const stagesRoutes: FastifyPluginAsyncTypebox<{ service: ScoreService }> = async (app, { service }) => {
  app.get('/api/v1/stages', {
    schema: { tags: ['policy'], summary: 'Stages of the gates policy', response: { 200: StagesResponseSchema, 401: ErrorSchema }, security: SECURITY },
  }, async () => {
    const { policy, file, hash } = service.policy
    return {
      policy: { file, sha256: hash, canaryLifetimeHours: policy.canaryLifetimeHours, metricIntervalHours: policy.metricIntervalHours, alpha: policy.alpha },
      stages: Object.values(policy.stages).map((s) => ({
        name: s.name,
        description: s.description,
        live: s.live,
        onSourceError: s.onSourceError,
        minDataPoints: s.minDataPoints,
        score: s.score,
        signals: s.signals.map((sig) => ({ name: sig.name, source: sig.source, kind: sig.kind, weight: sig.weight, required: sig.required, threshold: thresholdText(sig.thresholds) })),
        triggers: s.triggers.map((t) => ({ name: t.name, signal: t.signal, rule: thresholdText(t) })),
      })),
    }
  })
}
