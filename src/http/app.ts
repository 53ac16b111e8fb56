/**
 * The gate's HTTP application as a plain Fastify plugin: everything registered explicitly (no
 * autoload; the plugin build bundles this file). server.ts builds the instance around it, and
 * tests register the same plugin and call `inject`.
 *
 * Later additions have their place here: the evidence store plugs into ScoreService as its
 * DecisionRecorder, which fills `decisionId`.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { GateMetrics } from '../metrics/gate-metrics.js'
import type { ChainAnchors } from '../evidence/anchors.js'
import type { EvidenceStore } from '../evidence/store.js'
import type { PermissionCheck } from '../service/permissions.js'
import type { ScoreService } from '../service/score.js'
import { GateError } from '../errors.js'
import { authenticate, findKey, presentedKey, type ApiKey } from './auth.js'
import { registerErrorHandlers } from './errors.js'
import { registerMetrics } from './plugins/metrics.js'
import { registerOpenApiRoute, registerSwagger } from './plugins/swagger.js'
import { InFlightLimit, registerUnderPressure, type PressureOptions } from './plugins/under-pressure.js'
import { decisionRoutes } from './routes/decisions.js'
import { healthRoutes } from './routes/health.js'
import { pageRoutes } from './routes/pages.js'
import { scoreRoutes } from './routes/score.js'
import { stagesRoutes } from './routes/stages.js'
import { useStrictValidation } from './validation.js'

export interface AppOptions {
  service: ScoreService
  /** Tenant assumed when a request names none (CORDUM_TENANT). */
  defaultTenant: string
  /** Gate API keys (GATE_API_KEYS); empty or absent: no auth. */
  apiKeys?: ApiKey[]
  /** Keys that may verify the chains (VERIFY_API_KEYS); empty or absent: any gate key may. */
  verifyKeys?: ApiKey[]
  /** The key /metrics asks for (METRICS_API_KEY); empty or absent: /metrics is open. */
  metricsKeys?: ApiKey[]
  /** Load-shedding limits; false turns load shedding off (tests). */
  underPressure?: PressureOptions | false
  /** Score requests answered at once before new ones are shed with 503 (MAX_SCORES_IN_FLIGHT); absent or 0: no cap. */
  maxScoresInFlight?: number
  /** Version shown in the OpenAPI document. */
  version?: string
  /** Prometheus metrics: serves GET /metrics and counts HTTP requests; absent: no /metrics route. */
  metrics?: GateMetrics
  /** The evidence store: serves /api/v1/decisions and the decision pages when present. */
  evidence?: EvidenceStore
  /** The chain heads kept outside the database, which verify checks the chains against. */
  anchors?: ChainAnchors
  /** What the Cordum key may read: /readyz lists the refused reads as `degraded`. */
  permissions?: Pick<PermissionCheck, 'degraded'>
  /** PUBLIC_URL: where people open the gate (report links); absent: the address each request used. */
  publicUrl?: string
}

/** Routes that never need a gate key: probes, the API description and the metrics Prometheus scrapes (METRICS_API_KEY guards those). */
const PUBLIC = new Set(['/healthz', '/readyz', '/openapi.json', '/metrics'])
const VERIFY = '/api/v1/decisions/verify'

export const gateApp: FastifyPluginAsync<AppOptions> = async (app, opts) => {
  const keys = opts.apiKeys ?? []
  useStrictValidation(app)
  registerErrorHandlers(app)
  if (opts.underPressure !== false) await registerUnderPressure(app, opts.underPressure)
  await registerSwagger(app, opts.version ?? '0.0.0')

  const verifyKeys = opts.verifyKeys ?? []
  const metricsKeys = opts.metricsKeys ?? []
  app.decorateRequest('gateKey', null)
  if (keys.length > 0 || verifyKeys.length > 0 || metricsKeys.length > 0) {
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? ''
      if (path === '/metrics') {
        // It names every tenant's rollouts and verdicts: with METRICS_API_KEY, only that key reads it.
        if (metricsKeys.length > 0) authenticate(metricsKeys, request.headers)
        return
      }
      if (PUBLIC.has(path)) return
      if (path === VERIFY && verifyKeys.length > 0) {
        // Verifying walks whole chains: its own permission, so a scoring key cannot load the store with it.
        const verifier = findKey(verifyKeys, presentedKey(request.headers))
        if (verifier !== undefined) { request.gateKey = verifier; return }
        const key = authenticate(keys.length > 0 ? keys : verifyKeys, request.headers)
        throw new GateError('GATE_ERR_FORBIDDEN', `this API key (GATE_API_KEYS entry ${key.index}) may not verify the chains: verify needs a key of VERIFY_API_KEYS`)
      }
      if (keys.length > 0) request.gateKey = authenticate(keys, request.headers)
    })
  }

  if (opts.metrics !== undefined) registerMetrics(app, opts.metrics)
  registerOpenApiRoute(app)
  await app.register(healthRoutes, { service: opts.service, ...(opts.permissions === undefined ? {} : { permissions: opts.permissions }) })
  await app.register(stagesRoutes, { service: opts.service })
  await app.register(scoreRoutes, {
    service: opts.service,
    defaultTenant: opts.defaultTenant,
    limit: new InFlightLimit(opts.maxScoresInFlight ?? 0),
    ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
  })
  if (opts.evidence !== undefined) {
    await app.register(decisionRoutes, { store: opts.evidence, ...(opts.anchors === undefined ? {} : { anchors: opts.anchors }) })
    await app.register(pageRoutes, { store: opts.evidence, policy: opts.service.policy })
  }
}
