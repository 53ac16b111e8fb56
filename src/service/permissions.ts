/**
 * The check of what the gate's Cordum key may read (docs/cordum.md, "Which Cordum key"). At start the
 * gate asks Cordum for every read its gates policy needs and logs one warning per refused read:
 * the endpoint, the role and permission it needs, the signals it leaves unavailable and the
 * stages that can then never pass. /readyz stays ready (the gate answers) and lists the same
 * reads under `degraded`.
 *
 * A key that may read everything is not asked again. While something is refused, the check
 * runs again every 5 minutes, so a role granted in Cordum clears the warning without a restart;
 * while Cordum cannot be asked at all (down at start), every 30 seconds until it can.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { GatesPolicy } from '../config/policy.js'
import { signalsNeeded } from '../gate/verdict.js'
import { isGateError } from '../errors.js'
import type { Refusal } from '../sources/cordum/permissions.js'

export interface Degradation {
  source: 'cordum'
  /** `GET /api/v1/approvals` */
  endpoint: string
  role: string
  permission: string
  /** The signals of the policy this read leaves unavailable. */
  signals: string[]
  /** Stages that can never pass while it is refused: a required signal or a trigger reads it. */
  blockedStages: string[]
  /** Stages that only lose an optional signal (left out of their score). */
  weakenedStages: string[]
  /** What Cordum answered. */
  reason: string
}

export type ReadProbe = (signals: string[], abort: AbortSignal) => Promise<Refusal[]>

export const RECHECK_MS = 5 * 60_000
export const RETRY_MS = 30_000
/** One check's budget: at start it runs before the gate listens. */
const CHECK_TIMEOUT_MS = 5_000

/** The Cordum signals some stage of the policy reads (scored, by a trigger, or for the traffic split). */
export function cordumSignals (policy: GatesPolicy): string[] {
  const names = new Set<string>()
  for (const stage of Object.values(policy.stages)) {
    for (const name of signalsNeeded(stage)) if (policy.signals[name]?.source === 'cordum') names.add(name)
  }
  return [...names].sort()
}

/** What a refused read costs each stage of the policy. Pure. */
export function degradation (policy: GatesPolicy, refusal: Refusal): Degradation {
  const lost = new Set(refusal.read.signals)
  const blocked: string[] = []
  const weakened: string[] = []
  const signals = new Set<string>()
  for (const stage of Object.values(policy.stages)) {
    const needed = signalsNeeded(stage).filter((s) => lost.has(s) && policy.signals[s]?.source === 'cordum')
    if (needed.length === 0) continue
    for (const s of needed) signals.add(s)
    const blocking = needed.some((s) => stage.signals.some((x) => x.name === s && x.required) || stage.triggers.some((t) => t.signal === s))
    ;(blocking ? blocked : weakened).push(stage.name)
  }
  return {
    source: 'cordum',
    endpoint: `GET ${refusal.read.endpoint}`,
    role: refusal.read.role,
    permission: refusal.read.permission,
    signals: [...signals].sort(),
    blockedStages: blocked,
    weakenedStages: weakened,
    reason: refusal.reason,
  }
}

/** The warning a person reads: what is refused, what it needs, what the verdicts lose. */
export function describe (d: Degradation): string {
  const list = (xs: string[]): string => xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1) as string}`
  const plural = d.signals.length > 1
  const effects = [
    d.blockedStages.length > 0 ? `stage${d.blockedStages.length === 1 ? '' : 's'} ${list(d.blockedStages)} cannot pass (inconclusive at best)` : '',
    d.weakenedStages.length > 0 ? `stage${d.weakenedStages.length === 1 ? '' : 's'} ${list(d.weakenedStages)} score${d.weakenedStages.length === 1 ? 's' : ''} without ${plural ? 'them' : 'it'}` : '',
  ].filter((e) => e !== '').join(' and ')
  return `Cordum refuses the gate's key ${d.endpoint}, which needs role ${d.role} (permission ${d.permission}): ` +
    `${list(d.signals)} ${plural ? 'are' : 'is'} unavailable${effects === '' ? '' : `, so ${effects}`}. ` +
    `Give CORDUM_API_KEY role ${d.role} in Cordum, or read ${plural ? 'these signals' : 'this signal'} from Prometheus (docs/sources.md)`
}

export class PermissionCheck {
  readonly #policy: GatesPolicy
  readonly #probe: ReadProbe
  readonly #log: FastifyBaseLogger
  readonly #signals: string[]
  #degraded: Degradation[] | undefined
  #unreachable = false
  #timer: NodeJS.Timeout | undefined
  readonly #stopped = new AbortController()

  constructor (opts: { policy: GatesPolicy, probe: ReadProbe, log: FastifyBaseLogger }) {
    this.#policy = opts.policy
    this.#probe = opts.probe
    this.#log = opts.log
    this.#signals = cordumSignals(opts.policy)
  }

  /** The refused reads as last checked; undefined before the first check that reached Cordum. */
  get degraded (): Degradation[] | undefined {
    return this.#degraded
  }

  /** Checks once (logging what changed) and schedules the next check when one is due. */
  async run (): Promise<void> {
    if (this.#signals.length === 0 || this.#stopped.signal.aborted) return
    let next: number | undefined
    try {
      const refused = await this.#probe(this.#signals, AbortSignal.any([this.#stopped.signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]))
      this.#record(refused.map((r) => degradation(this.#policy, r)))
      next = refused.length > 0 ? RECHECK_MS : undefined
    } catch (err) {
      if (this.#stopped.signal.aborted) return
      const level = this.#unreachable ? 'debug' : 'warn'
      this.#unreachable = true
      this.#log[level]({ source: 'cordum', reason: isGateError(err) ? err.message : String(err) }, `could not check what the Cordum key may read; trying again every ${RETRY_MS / 1000} s`)
      next = RETRY_MS
    }
    if (next !== undefined && !this.#stopped.signal.aborted) {
      this.#timer = setTimeout(() => { void this.run() }, next)
      this.#timer.unref()
    }
  }

  stop (): void {
    this.#stopped.abort()
    clearTimeout(this.#timer)
  }

  #record (now: Degradation[]): void {
    const before = new Map((this.#degraded ?? []).map((d) => [d.endpoint, d]))
    const after = new Set(now.map((d) => d.endpoint))
    for (const d of now) {
      if (!before.has(d.endpoint)) this.#log.warn({ source: 'cordum', endpoint: d.endpoint, role: d.role, permission: d.permission, signals: d.signals, blockedStages: d.blockedStages, weakenedStages: d.weakenedStages }, describe(d))
    }
    for (const d of before.values()) {
      if (!after.has(d.endpoint)) this.#log.info({ source: 'cordum', endpoint: d.endpoint, signals: d.signals }, `Cordum now lets the gate's key read ${d.endpoint}: ${d.signals.join(', ')} can be measured again`)
    }
    if (this.#degraded === undefined && now.length === 0) {
      this.#log.info({ source: 'cordum', signals: this.#signals }, 'the Cordum key may read everything the gates policy needs')
    }
    this.#degraded = now
    this.#unreachable = false
  }
}
