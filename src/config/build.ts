/**
 * Builds the gates policy (policy.ts) from a schema-valid file: every default resolved
 * (defaults.ts), names checked, thresholds in one shape, and the cross-field problems the
 * schema cannot express reported with their key paths.
 */
import { DEFAULTS, ROLLBACK_TRIGGERS, STAGE_DEFAULTS, builtinSignals, builtinTriggers, type SeedValues } from './defaults.js'
import { unknownName } from './names.js'
import type { ApprovalPolicy, GatesPolicy, OnFailPolicy, PolicyProblem, PolicySimulation, ScoreThresholds, SignalKind, SignalSpec, SimulationScenario, Stage, StageSignal, Thresholds, TrafficSplitPolicy, Trigger } from './policy.js'
import { CORDUM_SIGNALS, POLICY_SIMULATION, STAGE_NAMES, TEMPLATE_FIELDS } from './policy.js'
import { compileQueries, DIALECT } from './query/roles.js'
import type { GatesFile, RawPolicySimulation, RawSignal, RawStage, RawStageSignal, RawTrigger } from './schema.js'

/** Why the keys of the old raw-count overload rule are refused. */
const RETIRED_SUSTAINED = 'counting overloaded sub-intervals is retired: it had no rate, no baseline and no error control. Overload is a rate rule against the baseline: use the overload_ratio trigger (max_ratio, floor; docs/judging.md)'

/**
 * Builds the policy from a schema-valid file. Problems the schema cannot see (pass under
 * marginal, unknown signal names, thresholds that do not fit a signal's kind) are pushed
 * onto `problems` with their key paths; the returned policy is only meaningful when none were.
 */
export function buildPolicy (file: GatesFile, problems: PolicyProblem[]): GatesPolicy {
  const g = file.rollout_gates
  const root = ['rollout_gates']
  const score = { pass: g.score?.pass ?? DEFAULTS.score.pass, marginal: g.score?.marginal ?? DEFAULTS.score.marginal }
  checkScore(score, [...root, 'score'], problems)

  const seed: SeedValues = {
    rollbackTriggers: {
      maxErrorRateDelta: g.rollback_triggers?.max_error_rate_delta ?? DEFAULTS.maxErrorRateDelta,
      maxPolicyDenyRate: g.rollback_triggers?.max_policy_deny_rate ?? DEFAULTS.maxPolicyDenyRate,
    },
    errorRateFloor: g.error_rate_floor ?? DEFAULTS.errorRateFloor,
    approvalBacklog: {
      maxPending: g.approval_backlog?.max_pending ?? DEFAULTS.approvalBacklog.maxPending,
      maxOldestAgeSeconds: g.approval_backlog?.max_oldest_age_seconds ?? DEFAULTS.approvalBacklog.maxOldestAgeSeconds,
    },
    overload: {
      reasonCodes: g.overload?.reason_codes ?? DEFAULTS.overload.reasonCodes,
      subIntervalMinutes: g.overload?.sub_interval_minutes ?? DEFAULTS.overload.subIntervalMinutes,
    },
  }
  for (const key of ['sustained_intervals', 'min_events_per_interval'] as const) {
    if (g.overload?.[key] !== undefined) problems.push({ path: [...root, 'overload', key], key: true, message: RETIRED_SUSTAINED })
  }

  // Null-prototype maps: a request naming a stage or signal such as `constructor` or
  // `__proto__` finds nothing, not Object.prototype's members (found by test/http/fuzz-score).
  const signals: Record<string, SignalSpec> = Object.create(null) as Record<string, SignalSpec>
  const rawSignals = { ...builtinSignals(seed) }
  const simulation = g.policy_simulation === undefined ? undefined : buildSimulation(g.policy_simulation, [...root, 'policy_simulation'], problems)
  if (simulation !== undefined) {
    rawSignals[POLICY_SIMULATION] = { kind: 'check', source: 'cordum', description: 'scenario catalog checked with Cordum policy simulation and workflow dry-runs' }
  }
  for (const [name, raw] of Object.entries(g.signals ?? {})) {
    // A file's entry for a built-in signal refines it; a new name defines a new signal.
    rawSignals[name] = { ...rawSignals[name], ...raw }
  }
  for (const [name, raw] of Object.entries(rawSignals)) {
    signals[name] = buildSignal(name, raw, [...root, 'signals', name], problems)
  }

  const trafficSplit: TrafficSplitPolicy = {
    enabled: g.traffic_split?.enabled ?? DEFAULTS.trafficSplit.enabled,
    tolerance: g.traffic_split?.tolerance ?? DEFAULTS.trafficSplit.tolerance,
    signal: g.traffic_split?.signal ?? DEFAULTS.trafficSplit.signal,
  }
  if (signals[trafficSplit.signal] === undefined) {
    problems.push({ path: [...root, 'traffic_split', 'signal'], message: unknownName('signal', trafficSplit.signal, Object.keys(signals)) })
  } else if (signals[trafficSplit.signal]?.kind !== 'rate') {
    problems.push({ path: [...root, 'traffic_split', 'signal'], message: `traffic_split.signal must name a rate signal (its events measure the split); '${trafficSplit.signal}' is a ${signals[trafficSplit.signal]?.kind} signal` })
  }

  const policy: GatesPolicy = {
    minDataPoints: g.min_data_points_per_metric ?? DEFAULTS.minDataPoints,
    canaryLifetimeHours: g.canary_lifetime_hours ?? DEFAULTS.canaryLifetimeHours,
    metricIntervalHours: g.metric_interval_hours ?? DEFAULTS.metricIntervalHours,
    score,
    rollbackTriggers: seed.rollbackTriggers,
    alpha: g.alpha ?? DEFAULTS.alpha,
    errorRateFloor: seed.errorRateFloor,
    onSourceError: g.on_source_error ?? 'error',
    approvalBacklog: seed.approvalBacklog,
    overload: seed.overload,
    trafficSplit,
    signals,
    stages: Object.create(null) as Record<string, Stage>,
  }
  if (simulation !== undefined) policy.policySimulation = simulation
  if (policy.metricIntervalHours > policy.canaryLifetimeHours) {
    problems.push({ path: [...root, 'metric_interval_hours'], message: `metric_interval_hours (${policy.metricIntervalHours}) must not exceed canary_lifetime_hours (${policy.canaryLifetimeHours}): there would be no measurement inside the lifetime` })
  }

  const triggerDefaults = builtinTriggers(seed)
  const stageNames = new Set<string>([...STAGE_NAMES, ...Object.keys(g.stages ?? {})])
  for (const name of stageNames) {
    policy.stages[name] = buildStage(name, g.stages?.[name], policy, triggerDefaults, [...root, 'stages', name], problems)
  }
  simulation?.stages.forEach((name, i) => {
    if (policy.stages[name] === undefined) problems.push({ path: [...root, 'policy_simulation', 'stages', i], message: unknownName('stage', name, Object.keys(policy.stages)) })
  })
  return policy
}

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/g

/** Problems with the placeholders of a templated value. */
function checkTemplate (value: string, path: (string | number)[], problems: PolicyProblem[]): void {
  for (const m of value.matchAll(PLACEHOLDER)) {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(m[1] as string)) problems.push({ path, message: unknownName('placeholder', `{{${m[1] as string}}}`, TEMPLATE_FIELDS.map((f) => `{{${f}}}`)) })
  }
}

function labelsOf (raw: Record<string, string> | undefined, path: (string | number)[], problems: PolicyProblem[]): Record<string, string> {
  for (const [k, v] of Object.entries(raw ?? {})) checkTemplate(v, [...path, k], problems)
  return { ...raw }
}

function buildSimulation (raw: RawPolicySimulation, path: (string | number)[], problems: PolicyProblem[]): PolicySimulation {
  const scenarios: SimulationScenario[] = (raw.scenarios ?? []).map((s, i) => {
    const request: SimulationScenario['request'] = { topic: s.request.topic, labels: labelsOf(s.request.labels, [...path, 'scenarios', i, 'request', 'labels'], problems), riskTags: [...(s.request.risk_tags ?? [])] }
    if (s.request.capability !== undefined) request.capability = s.request.capability
    if (s.request.principal_id !== undefined) {
      checkTemplate(s.request.principal_id, [...path, 'scenarios', i, 'request', 'principal_id'], problems)
      request.principalId = s.request.principal_id
    }
    return { name: s.name, request, expect: s.expect }
  })
  const seen = new Set<string>()
  scenarios.forEach((s, i) => {
    if (seen.has(s.name)) problems.push({ path: [...path, 'scenarios', i, 'name'], message: `scenario name '${s.name}' is used twice; names identify scenarios in the evidence` })
    seen.add(s.name)
  })
  const workflows = [...(raw.workflows ?? [])]
  if (scenarios.length === 0 && workflows.length === 0) problems.push({ path, key: true, message: 'policy_simulation needs scenarios or workflows to check' })
  const sim: PolicySimulation = { stages: [...(raw.stages ?? ['shadow'])], cacheSeconds: raw.cache_seconds ?? 300, scenarios, workflows }
  if (raw.bundle !== undefined) {
    checkTemplate(raw.bundle, [...path, 'bundle'], problems)
    sim.bundle = raw.bundle
  }
  return sim
}

function buildApproval (raw: NonNullable<RawStage['approval']>, path: (string | number)[], problems: PolicyProblem[]): ApprovalPolicy {
  const approval: ApprovalPolicy = { topic: raw.topic ?? 'job.gate.promotion', riskTags: [...(raw.risk_tags ?? ['promotion'])], labels: labelsOf(raw.labels, [...path, 'labels'], problems) }
  if (raw.capability !== undefined) approval.capability = raw.capability
  return approval
}

function buildOnFail (raw: NonNullable<RawStage['on_fail']>, path: (string | number)[], problems: PolicyProblem[]): OnFailPolicy | undefined {
  if ((raw.workflow === undefined) === (raw.rerun === undefined)) {
    problems.push({ path, key: true, message: 'on_fail needs exactly one of workflow (start a run) or rerun (rerun a run from a step)' })
    return undefined
  }
  if (raw.rerun !== undefined && raw.input !== undefined) problems.push({ path: [...path, 'input'], key: true, message: 'input applies to workflow runs; a rerun reuses its run\'s input' })
  for (const [k, v] of Object.entries(raw.input ?? {})) if (typeof v === 'string') checkTemplate(v, [...path, 'input', k], problems)
  if (raw.rerun !== undefined) {
    checkTemplate(raw.rerun.run, [...path, 'rerun', 'run'], problems)
    return { mode: 'rerun', run: raw.rerun.run, fromStep: raw.rerun.from_step, input: {}, dryRun: raw.dry_run ?? false }
  }
  return { mode: 'run', workflow: raw.workflow as string, input: { ...raw.input }, dryRun: raw.dry_run ?? false }
}

function checkScore (score: ScoreThresholds, path: (string | number)[], problems: PolicyProblem[]): void {
  if (score.pass < score.marginal) {
    problems.push({ path: [...path, 'pass'], message: `score.pass (${score.pass}) must be at least score.marginal (${score.marginal})` })
  }
}

function buildSignal (name: string, raw: RawSignal, path: (string | number)[], problems: PolicyProblem[]): SignalSpec {
  const kind = raw.kind ?? 'rate'
  const source = raw.source ?? 'cordum'
  // Check signals are measured by the gate's actions (policy simulation), not by a source.
  if (source === 'cordum' && kind !== 'check' && !(CORDUM_SIGNALS as readonly string[]).includes(name)) {
    problems.push({ path, key: true, message: `Cordum cannot measure a signal named '${name}' (it measures ${CORDUM_SIGNALS.join(', ')}); set source: prometheus or loki with a query` })
  }
  if (source !== 'cordum' && (raw.query === undefined || Object.keys(raw.query).length === 0)) {
    problems.push({ path: [...path, 'source'], message: `signal '${name}' reads from ${source} but has no query` })
  } else if (source !== 'cordum' && raw.query !== undefined) {
    // The queries are lexed here so `validate` locates a bad template; sources compile them again.
    for (const p of compileQueries(kind, DIALECT[source], raw.query).problems) {
      problems.push({ path: p.role === undefined ? [...path, 'query'] : [...path, 'query', p.role], key: p.message.startsWith('unknown query role'), message: `signal '${name}': ${p.message}` })
    }
  } else if (raw.query !== undefined) {
    problems.push({ path: [...path, 'query'], key: true, message: `signal '${name}' reads from cordum, which takes no query; set source: prometheus or loki to use one` })
  }
  const thresholds = thresholdsOf(raw, 0)
  checkThresholds(kind, thresholds, `signal '${name}' is a ${kind} signal`, path, problems, true)
  const spec: SignalSpec = { name, kind, source, description: raw.description ?? name.replaceAll('_', ' '), thresholds }
  if (raw.query !== undefined) spec.query = { ...raw.query }
  return spec
}

function thresholdsOf (raw: RawSignal | RawStageSignal | RawTrigger, floor: number): Thresholds {
  const t: Thresholds = { floor: raw.floor ?? floor }
  if (raw.max_rate !== undefined) t.maxRate = raw.max_rate
  if (raw.max_ratio !== undefined) t.maxRatio = raw.max_ratio
  if (raw.max_pending !== undefined) t.maxPending = raw.max_pending
  if (raw.max_oldest_age_seconds !== undefined) t.maxOldestAgeSeconds = raw.max_oldest_age_seconds
  if (raw.max_seconds !== undefined) t.maxSeconds = raw.max_seconds
  return t
}

/** Which threshold keys mean something for each kind of signal. */
const KIND_KEYS: Record<SignalKind, { keys: (keyof Thresholds)[], names: string }> = {
  rate: { keys: ['maxRate', 'maxRatio'], names: 'max_rate or max_ratio' },
  backlog: { keys: ['maxPending', 'maxOldestAgeSeconds'], names: 'max_pending or max_oldest_age_seconds' },
  quantile: { keys: ['maxRatio', 'maxSeconds'], names: 'max_ratio or max_seconds' },
  // A check fails when any of its checks fails: there is no threshold to set.
  check: { keys: [], names: 'no threshold' },
}
const ALL_KEYS: [keyof Thresholds, string][] = [
  ['maxRate', 'max_rate'], ['maxRatio', 'max_ratio'], ['maxPending', 'max_pending'],
  ['maxOldestAgeSeconds', 'max_oldest_age_seconds'], ['maxSeconds', 'max_seconds'],
]

function checkThresholds (kind: SignalKind, t: Thresholds, subject: string, path: (string | number)[], problems: PolicyProblem[], needOne: boolean): void {
  const allowed = KIND_KEYS[kind]
  for (const [key, yamlKey] of ALL_KEYS) {
    if (t[key] !== undefined && !allowed.keys.includes(key)) {
      problems.push({ path: [...path, yamlKey], key: true, message: `${subject}: ${yamlKey} does not apply (use ${allowed.names})` })
    }
  }
  if (needOne && allowed.keys.length > 0 && !allowed.keys.some((k) => t[k] !== undefined)) {
    problems.push({ path, key: true, message: `${subject}: it needs a threshold (${allowed.names})` })
  }
}

function buildStage (
  name: string,
  raw: RawStage | undefined,
  policy: GatesPolicy,
  triggerDefaults: Record<string, RawTrigger>,
  path: (string | number)[],
  problems: PolicyProblem[]
): Stage {
  const base = STAGE_DEFAULTS[name]
  const live = raw?.live ?? base?.live ?? true
  const score = { pass: raw?.score?.pass ?? policy.score.pass, marginal: raw?.score?.marginal ?? policy.score.marginal }
  // Inherited thresholds were checked at the root; only a stage's own score is its problem.
  if (raw?.score !== undefined) checkScore(score, [...path, 'score'], problems)

  // Signals: the stage's defaults, refined or extended by the file; `enabled: false` removes.
  const signalEntries: Record<string, RawStageSignal> = { ...base?.signals }
  const simulated = policy.policySimulation?.stages.includes(name) === true
  if (simulated) signalEntries[POLICY_SIMULATION] = { weight: 1, required: true }
  for (const [sig, entry] of Object.entries(raw?.signals ?? {})) signalEntries[sig] = { ...signalEntries[sig], ...entry }
  const signals: StageSignal[] = []
  for (const [sig, entry] of Object.entries(signalEntries)) {
    if (entry.enabled === false) continue
    const spec = policy.signals[sig]
    const at = [...path, 'signals', sig]
    if (spec === undefined) {
      problems.push({ path: at, key: true, message: unknownName('signal', sig, Object.keys(policy.signals)) })
      continue
    }
    const override = thresholdsOf(entry, spec.thresholds.floor)
    checkThresholds(spec.kind, override, `signal '${sig}' is a ${spec.kind} signal`, at, problems, false)
    signals.push({
      ...spec,
      thresholds: { ...spec.thresholds, ...definedOnly(override) },
      weight: entry.weight ?? 1,
      required: entry.required ?? true,
    })
  }
  if (signals.length === 0) problems.push({ path: [...path, 'signals'], message: `stage '${name}' judges no signal` })

  // Triggers: rollback triggers on live stages, the stage's defaults, then the file's entries.
  const triggerEntries: Record<string, RawTrigger> = {}
  const inherited = [...(live ? ROLLBACK_TRIGGERS : []), ...(base?.triggers ?? [])]
  for (const t of inherited) triggerEntries[t] = { ...triggerDefaults[t] }
  // Any scenario that disagrees with the catalog is a hard trigger.
  if (simulated) triggerEntries[POLICY_SIMULATION] = { signal: POLICY_SIMULATION }
  for (const [t, entry] of Object.entries(raw?.triggers ?? {})) {
    triggerEntries[t] = { ...triggerDefaults[t], ...triggerEntries[t], ...entry }
  }
  const triggers: Trigger[] = []
  for (const [t, entry] of Object.entries(triggerEntries)) {
    if (entry.enabled === false) continue
    const at = [...path, 'triggers', t]
    const trigger = buildTrigger(t, entry, policy, at, problems)
    if (trigger !== undefined) triggers.push(trigger)
  }

  const stage: Stage = {
    name,
    description: raw?.description ?? base?.description ?? name,
    live,
    onSourceError: raw?.on_source_error ?? policy.onSourceError,
    minDataPoints: raw?.min_data_points_per_metric ?? policy.minDataPoints,
    score,
    alpha: policy.alpha,
    subIntervalMinutes: policy.overload.subIntervalMinutes,
    trafficSplit: policy.trafficSplit,
    signals,
    triggers,
  }
  if (raw?.approval !== undefined) stage.approval = buildApproval(raw.approval, [...path, 'approval'], problems)
  if (raw?.on_fail !== undefined) {
    const onFail = buildOnFail(raw.on_fail, [...path, 'on_fail'], problems)
    if (onFail !== undefined) stage.onFail = onFail
  }
  return stage
}

function buildTrigger (name: string, entry: RawTrigger, policy: GatesPolicy, path: (string | number)[], problems: PolicyProblem[]): Trigger | undefined {
  if (entry.signal === undefined) {
    problems.push({ path, key: true, message: `trigger '${name}' is not a built-in trigger: name the signal it reads (signal: ...)` })
    return undefined
  }
  const spec = policy.signals[entry.signal]
  if (spec === undefined) {
    problems.push({ path: [...path, 'signal'], message: unknownName('signal', entry.signal, Object.keys(policy.signals)) })
    return undefined
  }
  const thresholds = thresholdsOf(entry, spec.thresholds.floor)
  const subject = `trigger '${name}' reads ${spec.kind} signal '${entry.signal}'`
  for (const key of ['sustained_intervals', 'min_events_per_interval'] as const) {
    if (entry[key] !== undefined) problems.push({ path: [...path, key], key: true, message: RETIRED_SUSTAINED })
  }
  // A trigger needs a rule: a threshold fitting its signal's kind.
  checkThresholds(spec.kind, thresholds, subject, path, problems, true)
  return { name, signal: entry.signal, kind: spec.kind, ...definedOnly(thresholds), floor: thresholds.floor }
}

function definedOnly<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
