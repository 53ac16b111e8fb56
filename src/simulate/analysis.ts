/**
 * Argo Rollouts' analysis rules for one metric, as its controller applies them (v1.9.1,
 * analysis/analysis.go and utils/evaluate/evaluate.go; test/argo-web/run.go runs the same rules
 * against a real web metric): when the measurements are taken, what phase each answer gets, and
 * when the run ends with which phase. Pure and small: the rollout simulator (src/simulate/) and
 * the tests of the shipped templates (test/helpers/argo/) share it.
 *
 * Schedule: the first measurement `initialDelay` after the run starts, each next one `interval`
 * later (the gate's answer time is left out). An Error is retried after 10 s and does not count.
 *
 * Measurement phase from the result (evaluate.go): failureCondition true -> Failed (failure
 * wins), else successCondition true -> Successful, else Inconclusive; with only one condition
 * set, the other is its negation; with neither, Successful.
 *
 * Run phase after each measurement, first rule that applies (assessMetric):
 *   1. failed > failureLimit (-1 disables) -> Failed; then inconclusive > inconclusiveLimit ->
 *      Inconclusive; then consecutive errors > consecutiveErrorLimit -> Error (the later wins);
 *   2. consecutiveSuccessLimit > 0 and that many Successful in a row -> Successful;
 *   3. count reached -> Inconclusive when failureLimit and consecutiveSuccessLimit both apply,
 *      Failed when only consecutiveSuccessLimit does, Successful otherwise;
 *   4. otherwise Running.
 * For a step analysis: Successful promotes, Failed and Error abort (roll back), Inconclusive
 * pauses the Rollout for a person (held).
 */
import { parseAllDocuments } from 'yaml'

/** DefaultErrorRetryInterval in Argo's analysis controller. */
export const ERROR_RETRY_SECONDS = 10
/** DefaultConsecutiveErrorLimit. */
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4

export type MeasurementPhase = 'Successful' | 'Failed' | 'Inconclusive' | 'Error'
export type RunPhase = MeasurementPhase | 'Running'

// --- Go-compatible parsing --------------------------------------------------------------------

const GO_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }

/** Go's time.ParseDuration, in seconds; null when Go would refuse the string. */
export function parseGoDuration (text: string): number | null {
  let s = text
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') return null
  let total = 0
  const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/
  while (s.length > 0) {
    const m = part.exec(s)
    if (m === null) return null
    total += Number(m[1]) * (GO_UNITS[m[2] as string] as number)
    s = s.slice(m[0].length)
  }
  return sign * total
}

/**
 * An IntOrString limit as Argo reads it (intstr.IntValue: a string goes through Atoi, and
 * anything unparsable counts as 0). `undefined` when the field is absent.
 */
export function intOrStringValue (v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'number') return v
  if (typeof v === 'string') return /^[+-]?\d+$/.test(v) ? Number(v) : 0
  return 0
}

/** Argo's Metric.EffectiveCount: null means the metric runs until the run is terminated. */
export function effectiveCount (metric: Record<string, unknown>): number | null {
  const count = intOrStringValue(metric.count) ?? 0
  if (count === 0) return typeof metric.interval === 'string' && metric.interval !== '' ? null : 1
  return count
}

// --- One metric's rules ----------------------------------------------------------------------

/** The fields of an Argo metric that decide its schedule and its phases, resolved. */
export interface MetricRules {
  name: string
  initialDelaySeconds: number
  intervalSeconds: number
  /** null: no count, the metric runs until the Rollout ends the run. */
  count: number | null
  failureLimit: number
  inconclusiveLimit: number
  consecutiveSuccessLimit: number
  consecutiveErrorLimit: number
  successCondition: string
  failureCondition: string
}

/**
 * The rules of an Argo metric object (as written in a template). Throws with the field's name
 * when a duration does not parse or a condition is one this module cannot evaluate.
 */
export function metricRules (metric: Record<string, unknown>): MetricRules {
  const seconds = (field: string): number => {
    const v = metric[field]
    if (v === undefined || v === '') return 0
    const s = typeof v === 'string' ? parseGoDuration(v) : null
    if (s === null || s < 0) throw new Error(`metric ${String(metric.name)}: ${field} ${JSON.stringify(v)} is not a Go duration such as 5m`)
    return s
  }
  const rules: MetricRules = {
    name: typeof metric.name === 'string' ? metric.name : '(unnamed)',
    initialDelaySeconds: seconds('initialDelay'),
    intervalSeconds: seconds('interval'),
    count: effectiveCount(metric),
    failureLimit: intOrStringValue(metric.failureLimit) ?? 0,
    inconclusiveLimit: intOrStringValue(metric.inconclusiveLimit) ?? 0,
    consecutiveSuccessLimit: intOrStringValue(metric.consecutiveSuccessLimit) ?? 0,
    consecutiveErrorLimit: intOrStringValue(metric.consecutiveErrorLimit) ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    successCondition: typeof metric.successCondition === 'string' ? metric.successCondition.trim() : '',
    failureCondition: typeof metric.failureCondition === 'string' ? metric.failureCondition.trim() : '',
  }
  for (const field of ['successCondition', 'failureCondition'] as const) {
    if (rules[field] !== '') compileCondition(rules[field], `metric ${rules.name}: ${field}`)
  }
  return rules
}

/**
 * The metric named `metricName` of an (Cluster)AnalysisTemplate manifest. `text` is the YAML of
 * the file (it may hold several documents: the first template with such a metric is taken).
 */
export function templateMetric (text: string, file: string, metricName = 'gate-verdict'): MetricRules {
  for (const doc of parseAllDocuments(text).map((d) => d.toJS() as unknown)) {
    if (doc === null || typeof doc !== 'object') continue
    const d = doc as { kind?: unknown, spec?: { metrics?: unknown } }
    if (d.kind !== 'AnalysisTemplate' && d.kind !== 'ClusterAnalysisTemplate') continue
    const metrics = Array.isArray(d.spec?.metrics) ? d.spec.metrics as Record<string, unknown>[] : []
    const metric = metrics.find((m) => m.name === metricName)
    if (metric !== undefined) return metricRules(metric)
  }
  throw new Error(`${file}: no AnalysisTemplate or ClusterAnalysisTemplate with a metric named ${metricName}`)
}

/** Seconds from the start of the run to the n-th measurement (1-based), when none was an Error. */
export function measurementAt (rules: MetricRules, n: number): number {
  return rules.initialDelaySeconds + (n - 1) * rules.intervalSeconds
}

// --- Conditions ------------------------------------------------------------------------------

type Condition = (result: string) => boolean

const STRING = '"((?:[^"\\\\]|\\\\.)*)"'
const FORMS: Array<[RegExp, (literal: string) => Condition]> = [
  [new RegExp(`^result\\s+startsWith\\s+${STRING}$`), (lit) => (r) => r.startsWith(lit)],
  [new RegExp(`^result\\s+endsWith\\s+${STRING}$`), (lit) => (r) => r.endsWith(lit)],
  [new RegExp(`^result\\s+contains\\s+${STRING}$`), (lit) => (r) => r.includes(lit)],
  [new RegExp(`^result\\s*==\\s*${STRING}$`), (lit) => (r) => r === lit],
  [new RegExp(`^result\\s*!=\\s*${STRING}$`), (lit) => (r) => r !== lit],
]

/**
 * The conditions on a string result that the shipped templates use (`result startsWith
 * "pass:"`) and their next of kin; Argo's expr language is larger, and anything else is refused
 * rather than guessed.
 */
function compileCondition (text: string, what: string): Condition {
  for (const [form, make] of FORMS) {
    const m = form.exec(text)
    if (m !== null) return make(JSON.parse(`"${m[1] as string}"`) as string)
  }
  throw new Error(`${what}: the simulator evaluates only result startsWith/endsWith/contains/==/!= "text", got ${JSON.stringify(text)}`)
}

/** The phase Argo gives one measurement whose result is `result` (evaluate.go). */
export function measurementPhase (rules: MetricRules, result: string): MeasurementPhase {
  const hasSuccess = rules.successCondition !== ''
  const hasFailure = rules.failureCondition !== ''
  if (!hasSuccess && !hasFailure) return 'Successful'
  let success = hasSuccess && compileCondition(rules.successCondition, 'successCondition')(result)
  let failure = hasFailure && compileCondition(rules.failureCondition, 'failureCondition')(result)
  if (!hasFailure) failure = !success
  if (!hasSuccess) success = !failure
  if (failure) return 'Failed'
  return success ? 'Successful' : 'Inconclusive'
}

// --- The run ---------------------------------------------------------------------------------

/** A metric's counters (MetricResult in Argo's status). */
export interface MetricState {
  count: number
  successful: number
  failed: number
  inconclusive: number
  error: number
  consecutiveSuccess: number
  consecutiveError: number
  measurements: number
}

export function newMetricState (): MetricState {
  return { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0, consecutiveSuccess: 0, consecutiveError: 0, measurements: 0 }
}

/** The counters after one more measurement of the given phase (Successful, Failed, Inconclusive count; Error does not). */
export function record (state: MetricState, phase: MeasurementPhase): MetricState {
  const s = { ...state, measurements: state.measurements + 1 }
  if (phase === 'Error') {
    s.error++
    s.consecutiveError++
    s.consecutiveSuccess = 0
    return s
  }
  s.count++
  s.consecutiveError = 0
  if (phase === 'Successful') {
    s.successful++
    s.consecutiveSuccess++
  } else {
    s.consecutiveSuccess = 0
    if (phase === 'Failed') s.failed++
    else s.inconclusive++
  }
  return s
}

/** The metric's phase after its latest measurement: Running while it goes on. */
export function assess (rules: MetricRules, state: MetricState): RunPhase {
  if (state.measurements === 0) return 'Running'
  let breach: RunPhase | undefined
  if (rules.failureLimit >= 0 && state.failed > rules.failureLimit) breach = 'Failed'
  if (state.inconclusive > rules.inconclusiveLimit) breach = 'Inconclusive'
  if (state.consecutiveError > rules.consecutiveErrorLimit) breach = 'Error'
  if (breach !== undefined) return breach
  if (rules.consecutiveSuccessLimit > 0 && state.consecutiveSuccess >= rules.consecutiveSuccessLimit) return 'Successful'
  if (rules.count !== null && state.count >= rules.count) {
    const failureApplies = rules.failureLimit >= 0
    const successApplies = rules.consecutiveSuccessLimit > 0
    if (failureApplies && successApplies) return 'Inconclusive'
    return successApplies ? 'Failed' : 'Successful'
  }
  return 'Running'
}

/** What a step analysis's end does to the Rollout. */
export type StageOutcome = 'promoted' | 'held' | 'rolled_back'

export function outcomeOf (phase: Exclude<RunPhase, 'Running'>): StageOutcome {
  if (phase === 'Successful') return 'promoted'
  if (phase === 'Inconclusive') return 'held'
  return 'rolled_back'
}
