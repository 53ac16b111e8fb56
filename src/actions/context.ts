/**
 * What every action needs from a score request: the values templates may use, and the
 * idempotency key of the analysis. The key is derived from (tenant, namespace, rollout,
 * revision, stage) and a purpose, so a repeated fail, an Argo retry and another replica all
 * present the same key to Cordum, and a new revision or stage gets a new one.
 */
import { sha256Hex } from '../canonical-json.js'
import type { TEMPLATE_FIELDS } from '../config/policy.js'
import { derivedKey } from '../evidence/ids.js'
import type { NormalizedQuery } from '../service/score.js'

export type TemplateVars = Record<(typeof TEMPLATE_FIELDS)[number], string>

export function templateVars (q: NormalizedQuery): TemplateVars {
  return {
    canary: q.canary,
    baseline: q.baseline ?? '',
    tenant: q.tenant,
    namespace: q.rollout.namespace ?? '',
    rollout: q.rollout.rollout ?? '',
    revision: q.rollout.revision ?? '',
    stage: q.stage.name,
  }
}

/** Replaces {{name}} placeholders (the gates policy refuses unknown names at load). */
export function render (template: string, vars: TemplateVars): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => vars[name as keyof TemplateVars] ?? '')
}

/** String values of a JSON object templated, one level deep (workflow input). */
export function renderInput (input: Record<string, unknown>, vars: TemplateVars): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, typeof v === 'string' ? render(v, vars) : v]))
}

/**
 * The idempotency key of an action for this analysis, or undefined when the request names no
 * rollout: without it, unrelated requests (a person's curl) would share one key.
 */
export function actionKey (purpose: 'rollback' | 'approval', q: NormalizedQuery): string | undefined {
  if (q.rollout.rollout === undefined) return undefined
  return derivedKey(`agent-canary-gate/${purpose}`, {
    tenant: q.tenant,
    namespace: q.rollout.namespace ?? '',
    rollout: q.rollout.rollout,
    revision: q.rollout.revision ?? '',
    stage: q.stage.name,
  }, sha256Hex)
}

export const NO_ROLLOUT = 'the request names no rollout: actions are keyed by (tenant, namespace, rollout, revision, stage), so none is taken for an anonymous request (Argo\'s AnalysisTemplate passes rollout and revision)'
