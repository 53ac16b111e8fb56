/**
 * The ScoreService's StageActions against a Cordum gateway: the shadow stage's policy checks,
 * a stage's approval, and its on_fail. Cordum's write routes (simulate, dry-run, runs, rerun)
 * need an admin key (research/cordum-api.md section 4); with a viewer key they answer 403,
 * which the gate reports (never a pass). Each call has its own deadline so the answer stays
 * inside Argo's 10 s.
 */
import type { PolicySimulation } from '../config/policy.js'
import { GateError } from '../errors.js'
import type { ApprovalObservation, SignalObservation } from '../gate/observations.js'
import type { Judgement } from '../gate/verdict.js'
import type { NormalizedQuery, StageActions } from '../service/score.js'
import type { CallContext, CordumClient } from '../sources/cordum/client.js'
import { askApproval } from './approval.js'
import { startRollback } from './rollback.js'
import { PolicySimulator } from './simulation.js'
import type { ApprovalTaken, RollbackTaken } from '../service/ports.js'

export interface CordumActionsOptions {
  client: CordumClient
  simulation?: PolicySimulation
  /** Budget of one action, retries included (default 4000 ms). */
  deadlineMs?: number
  now?: () => number
}

export class CordumActions implements StageActions {
  readonly #client: CordumClient
  readonly #simulation: PolicySimulation | undefined
  readonly #simulator: PolicySimulator
  readonly #deadlineMs: number

  constructor (opts: CordumActionsOptions) {
    this.#client = opts.client
    this.#simulation = opts.simulation
    this.#simulator = new PolicySimulator(opts.now === undefined ? {} : { now: opts.now })
    this.#deadlineMs = opts.deadlineMs ?? 4_000
  }

  async #within<T> (abort: AbortSignal, fn: (ctx: CallContext) => Promise<T>): Promise<T> {
    const signal = AbortSignal.any([abort, AbortSignal.timeout(this.#deadlineMs)])
    return await fn({ signal, deadline: Date.now() + this.#deadlineMs })
  }

  async check (q: NormalizedQuery, abort: AbortSignal): Promise<SignalObservation> {
    if (this.#simulation === undefined) throw new GateError('GATE_ERR_INTERNAL', 'a check signal was asked for, but the gates policy has no policy_simulation catalog')
    const sim = this.#simulation
    return await this.#within(abort, async (ctx) => await this.#simulator.check(this.#client, q, sim, ctx))
  }

  async approval (q: NormalizedQuery, judgement: Judgement, abort: AbortSignal): Promise<{ observation?: ApprovalObservation, taken: ApprovalTaken }> {
    const policy = q.stage.approval
    if (policy === undefined) return { taken: { status: 'skipped', reason: `stage ${q.stage.name} requires no approval` } }
    return await this.#within(abort, async (ctx) => await askApproval(this.#client, q, policy, judgement, ctx))
  }

  async rollback (q: NormalizedQuery, _judgement: Judgement, abort: AbortSignal): Promise<RollbackTaken> {
    const policy = q.stage.onFail
    if (policy === undefined) return { status: 'skipped', mode: 'run', dryRun: false, reason: `stage ${q.stage.name} has no on_fail` }
    return await this.#within(abort, async (ctx) => await startRollback(this.#client, q, policy, ctx))
  }
}
