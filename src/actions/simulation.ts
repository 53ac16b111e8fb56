/**
 * The shadow stage's policy check: every scenario of the gates policy's catalog is put to
 * Cordum's policy simulation (POST /api/v1/policy/simulate, or for a candidate bundle
 * POST /api/v1/policy/bundles/{id}/simulate), and every named workflow to a dry-run
 * (POST /api/v1/workflows/{id}/dry-run, no step may be DENY or ERROR). The result is a check
 * observation: the judge fires the policy_simulation trigger on any disagreement, with the
 * scenario, the expected and the actual decision as evidence. Results are reused per (tenant,
 * bundle, rendered catalog) for cache_seconds: simulation is admin-only and audited by Cordum.
 */
import { canonicalJson, sha256Hex } from '../canonical-json.js'
import type { PolicyDecision, PolicySimulation } from '../config/policy.js'
import type { CheckResult, SignalObservation } from '../gate/observations.js'
import type { NormalizedQuery } from '../service/score.js'
import type { CallContext, CordumClient } from '../sources/cordum/client.js'
import { render, templateVars } from './context.js'

/**
 * A Cordum decision as the gate's lower-case name. Cordum's simulate answers protojson
 * (`decision: "DECISION_TYPE_DENY"`, lowerCamelCase keys) while its spec and dry-run use bare
 * names (`DENY`, `REQUIRE_APPROVAL`); both are accepted, in any case.
 */
export function parseDecision (value: unknown): PolicyDecision | 'unknown' {
  if (typeof value !== 'string') return 'unknown'
  const name = value.trim().toUpperCase().replace(/^DECISION_TYPE_/, '')
  switch (name) {
    case 'ALLOW': return 'allow'
    case 'DENY': return 'deny'
    case 'REQUIRE_HUMAN':
    case 'REQUIRE_APPROVAL': return 'require_approval'
    case 'THROTTLE': return 'throttle'
    case 'ALLOW_WITH_CONSTRAINTS':
    case 'CONSTRAIN': return 'allow_with_constraints'
    default: return 'unknown'
  }
}

/** A field under either casing: `ruleId` or `rule_id`. */
export function field (body: Record<string, unknown>, camel: string): unknown {
  if (body[camel] !== undefined) return body[camel]
  return body[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]
}

interface Cached { expires: number, observation: SignalObservation }

export class PolicySimulator {
  readonly #cache = new Map<string, Cached>()
  readonly #now: () => number

  constructor (opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now
  }

  async check (client: CordumClient, q: NormalizedQuery, sim: PolicySimulation, ctx: CallContext): Promise<SignalObservation> {
    const vars = templateVars(q)
    const bundle = sim.bundle === undefined ? undefined : render(sim.bundle, vars)
    const scenarios = sim.scenarios.map((s) => ({
      ...s,
      request: {
        ...s.request,
        labels: Object.fromEntries(Object.entries(s.request.labels).map(([k, v]) => [k, render(v, vars)])),
        ...(s.request.principalId === undefined ? {} : { principalId: render(s.request.principalId, vars) }),
      },
    }))
    const catalog = sha256Hex(canonicalJson({ scenarios, workflows: sim.workflows }))
    const key = `${q.tenant}\n${bundle ?? ''}\n${catalog}`
    const hit = this.#cache.get(key)
    if (hit !== undefined && hit.expires > this.#now()) return hit.observation

    const checks: CheckResult[] = await Promise.all([
      ...scenarios.map(async (s): Promise<CheckResult> => {
        const request: Record<string, unknown> = {
          topic: s.request.topic,
          tenant: q.tenant,
          labels: s.request.labels,
          meta: { tenant_id: q.tenant, capability: s.request.capability, risk_tags: s.request.riskTags, actor_type: 'agent', actor_id: q.canary },
        }
        if (s.request.principalId !== undefined) request.principal_id = s.request.principalId
        const res = bundle === undefined
          ? await client.postJson('/api/v1/policy/simulate', {}, request, q.tenant, ctx, { idempotent: true })
          : await client.postJson(`/api/v1/policy/bundles/${encodeURIComponent(bundle)}/simulate`, {}, { request }, q.tenant, ctx, { idempotent: true })
        const body = (res.body ?? {}) as Record<string, unknown>
        const actual = parseDecision(field(body, 'decision'))
        const rule = field(body, 'ruleId')
        const reason = field(body, 'reason')
        const detail = [typeof rule === 'string' && rule !== '' ? `rule ${rule}` : '', typeof reason === 'string' && reason !== '' ? reason : ''].filter((x) => x !== '').join(': ')
        const result: CheckResult = { name: s.name, ok: actual === s.expect, expected: s.expect, actual }
        if (detail !== '') result.detail = detail
        return result
      }),
      ...sim.workflows.map(async (id): Promise<CheckResult> => {
        const res = await client.postJson(`/api/v1/workflows/${encodeURIComponent(id)}/dry-run`, {}, { input: {}, environment: q.stage.name }, q.tenant, ctx, { idempotent: true })
        const steps = Array.isArray((res.body as { steps?: unknown }).steps) ? (res.body as { steps: Record<string, unknown>[] }).steps : []
        const bad = steps.filter((st) => {
          const d = String(field(st, 'decision') ?? '').toUpperCase().replace(/^DECISION_TYPE_/, '')
          return d === 'DENY' || d === 'ERROR'
        })
        const name = `workflow ${id} dry-run`
        if (bad.length === 0) return { name, ok: true, expected: 'no DENY or ERROR step', actual: `${steps.length} steps, none DENY or ERROR` }
        return {
          name,
          ok: false,
          expected: 'no DENY or ERROR step',
          actual: bad.map((st) => `${String(field(st, 'stepName') ?? field(st, 'stepId') ?? '?')}: ${String(field(st, 'decision'))}`).join(', '),
          detail: bad.map((st) => String(field(st, 'reason') ?? '')).filter((r) => r !== '').join('; ') || undefined,
        } as CheckResult
      }),
    ])
    const observation: SignalObservation = {
      canary: { total: checks.length, failed: checks.filter((c) => !c.ok).length, checks },
      notes: [`policy simulation against ${bundle === undefined ? 'the live policy' : `bundle ${bundle}`} (catalog ${catalog.slice(0, 12)})`],
    }
    if (sim.cacheSeconds > 0) {
      this.#cache.set(key, { expires: this.#now() + sim.cacheSeconds * 1000, observation })
      if (this.#cache.size > 256) this.#cache.delete(this.#cache.keys().next().value as string)
    }
    return observation
  }
}
