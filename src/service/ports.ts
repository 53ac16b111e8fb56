/**
 * What the score service hands to, and gets back from, the parts wired in around it
 * (docs/architecture.md): here, what the gate did in Cordum because of a decision (src/actions/
 * does it), as the decision record (src/evidence/) keeps it. Declared beside the service, so that
 * the service imports neither folder; they import it. Every
 * action carries the Idempotency-Key it used: the same (tenant, namespace, rollout, revision,
 * stage) always gives the same key, so a repeated fail, an Argo retry or another replica asks
 * Cordum for the same run and gets the same run id back.
 */

export interface RollbackTaken {
  /** started: Cordum answered a run id (new or replayed); skipped: not started, and why; error: Cordum refused or failed. */
  status: 'started' | 'skipped' | 'error'
  /** run: POST /api/v1/workflows/{workflow}/runs; rerun: POST /api/v1/workflow-runs/{run}/rerun. */
  mode: 'run' | 'rerun'
  workflow?: string
  /** The run that was rerun (mode rerun). */
  rerunOf?: string
  fromStep?: string
  dryRun: boolean
  idempotencyKey?: string
  /** The run Cordum started (or had started for this key before). */
  runId?: string
  /** Times Cordum answered 409 RUN_IDEMPOTENCY_CONFLICT (another request held the key) before the run id came back. */
  conflicts?: number
  reason: string
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected'

export interface ApprovalTaken {
  status: ApprovalStatus | 'skipped' | 'error'
  /** The promotion job submitted to Cordum, which its policy routes to a human. */
  jobId?: string
  approvalRef?: string
  idempotencyKey?: string
  topic?: string
  reason: string
}

export interface ActionsTaken {
  rollback?: RollbackTaken
  approval?: ApprovalTaken
}

export interface StepStart {
  /** The `until` of the first record at this weight; absent: none yet (this is the step's first question). */
  at?: Date
  /** True when a record at another weight came first: the weight changed after the canary started. */
  afterOtherWeight: boolean
}

export interface AnalysisStart {
  since: Date
  /** How the first record's window was chosen (window.ts): `analysis`, `canary` or `default`. */
  rule: string
}
