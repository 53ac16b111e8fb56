/**
 * A decision in one line, for where Argo Rollouts shows a measurement: the web provider's value
 * (the Argo UI's analysis view, `kubectl get analysisrun`) and the plugin's message (the
 * Rollout's message in `kubectl argo rollouts get rollout`). It starts with the verdict and a
 * colon, so conditions can test it (`result startsWith "fail:"`), then the score and stage, the
 * top reason and the decision's page:
 *
 *   fail: score 0 at canary-1 | rollback trigger policy_deny_rate: policy deny rate 22.9% (22/96, ...) exceeds 3.0% | http://gate/decisions/01...
 *
 * A few hundred bytes at most: the reason is cut at MAX_REASON characters.
 */

export const MAX_REASON = 240

export interface LineSource {
  verdict: string
  score: number
  stage: string
  reasons: string[]
  reportUrl?: string
}

export function argoLine (a: LineSource): string {
  const reason = a.reasons[0] ?? 'no reason recorded'
  const cut = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason
  return [`${a.verdict}: score ${a.score} at ${a.stage}`, cut, ...(a.reportUrl === undefined ? [] : [a.reportUrl])].join(' | ')
}
