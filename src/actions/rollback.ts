/**
 * A stage's on_fail: start a Cordum workflow run (POST /api/v1/workflows/{id}/runs, optional
 * dry_run) or rerun a run from a step (POST /api/v1/workflow-runs/{id}/rerun), with the
 * analysis's Idempotency-Key. Cordum answers a repeated key with the run it already started
 * (200 {run_id}), and 409 RUN_IDEMPOTENCY_CONFLICT while another request holds the key but its
 * run is not created yet: the gate then waits briefly and asks again, so concurrent fails from
 * several replicas all end with the one run id (research/cordum-api.md 1.7).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { OnFailPolicy } from '../config/policy.js'
import { isGateError } from '../errors.js'
import type { NormalizedQuery } from '../service/score.js'
import type { CallContext, CordumClient } from '../sources/cordum/client.js'
import { actionKey, NO_ROLLOUT, render, renderInput, templateVars } from './context.js'
import type { RollbackTaken } from '../service/ports.js'

const CONFLICT_BACKOFF_MS = [25, 50, 100, 200, 400]

export async function startRollback (client: CordumClient, q: NormalizedQuery, policy: OnFailPolicy, ctx: CallContext): Promise<RollbackTaken> {
  const vars = templateVars(q)
  const taken: RollbackTaken = { status: 'skipped', mode: policy.mode, dryRun: policy.dryRun, reason: '' }
  if (policy.mode === 'run') taken.workflow = policy.workflow as string
  else {
    taken.rerunOf = render(policy.run as string, vars)
    taken.fromStep = policy.fromStep as string
  }
  const key = actionKey('rollback', q)
  if (key === undefined) return { ...taken, reason: NO_ROLLOUT }
  taken.idempotencyKey = key
  if (taken.rerunOf === '') return { ...taken, reason: `on_fail.rerun.run '${policy.run as string}' is empty for this request` }

  const [path, query, body] = policy.mode === 'run'
    ? [`/api/v1/workflows/${encodeURIComponent(policy.workflow as string)}/runs`, policy.dryRun ? { dry_run: 'true' } : {}, { ...renderInput(policy.input, vars), gate: { ...vars, verdict: 'fail' } }]
    : [`/api/v1/workflow-runs/${encodeURIComponent(taken.rerunOf as string)}/rerun`, {}, { from_step: policy.fromStep, dry_run: policy.dryRun }]
  let conflicts = 0
  try {
    for (let attempt = 0; ; attempt++) {
      const res = await client.postJson(path, query, body, q.tenant, ctx, { idempotent: true, headers: { 'idempotency-key': key }, accept: [409] })
      const answer = res.body as { run_id?: unknown, code?: unknown, error?: unknown }
      if (res.status === 409) {
        const wait = CONFLICT_BACKOFF_MS[Math.min(attempt, CONFLICT_BACKOFF_MS.length - 1)] as number
        conflicts++
        if (answer.code !== 'RUN_IDEMPOTENCY_CONFLICT' || Date.now() + wait >= ctx.deadline) {
          return { ...taken, status: 'error', conflicts, reason: `Cordum answered 409 ${typeof answer.code === 'string' ? answer.code : ''} for ${path}${conflicts > 1 ? ` ${conflicts} times` : ''}: the run for this key was not created in time; the next fail retries with the same key` }
        }
        await sleep(wait, undefined, { signal: ctx.signal })
        continue
      }
      if (typeof answer.run_id !== 'string' || answer.run_id === '') {
        return { ...taken, status: 'error', reason: `Cordum answered ${res.status} for ${path} without a run_id` }
      }
      const out: RollbackTaken = { ...taken, status: 'started', runId: answer.run_id, reason: policy.mode === 'run' ? `started workflow ${policy.workflow as string}${policy.dryRun ? ' (dry run)' : ''}: run ${answer.run_id}` : `reran run ${taken.rerunOf as string} from step ${policy.fromStep as string}: run ${answer.run_id}` }
      if (conflicts > 0) out.conflicts = conflicts
      return out
    }
  } catch (err) {
    // A wait between 409s cut short by the deadline or a departed caller is not a GateError.
    if (!isGateError(err) && !ctx.signal.aborted) throw err
    const why = isGateError(err) ? err.message : 'the request ended while waiting for Cordum to finish creating the run'
    return { ...taken, status: 'error', ...(conflicts > 0 ? { conflicts } : {}), reason: `the rollback could not be started: ${why}` }
  }
}
