/**
 * The rules Argo Rollouts (v1.9.1) applies to analysis objects beyond the CRD schema, restated
 * from its sources (utils/analysis/factory.go ValidateMetric, utils/analysis/helpers.go,
 * pkg/apis/rollouts/validation/*.go, analysis/analysis.go). In a cluster these surface late:
 * as an AnalysisRun in phase Error when the run starts, or a Rollout condition InvalidSpec,
 * not when the manifest is applied. Checking them here moves those failures into the tests.
 *
 * A few project rules are stricter than Argo, each marked "(project rule)": they catch
 * mistakes Argo accepts silently (a Rollout arg no template declares is ignored; an unknown
 * podTemplateHashValue yields an empty hash; an analysis `weight` that differs from the
 * preceding setWeight defeats the gate's traffic-split check).
 */

import { effectiveCount, intOrStringValue, parseGoDuration } from '../../../src/simulate/analysis.js'

type Obj = Record<string, unknown>

function isObj (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
function objs (v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : []
}
function name (v: Obj): string {
  return typeof v.name === 'string' ? v.name : '(unnamed)'
}

// --- Go-compatible parsing: shared with the rollout simulator ---------------------------------

export { effectiveCount, intOrStringValue, parseGoDuration }

/** The `{{tag}}`s of a text, trimmed as fasttemplate + Argo's resolve do; throws if unclosed. */
export function templateTags (text: string): string[] {
  const tags: string[] = []
  let at = 0
  for (;;) {
    const open = text.indexOf('{{', at)
    if (open < 0) return tags
    const close = text.indexOf('}}', open + 2)
    if (close < 0) throw new Error(`unclosed "{{" in ${JSON.stringify(text.slice(open, open + 40))}`)
    tags.push(text.slice(open + 2, close).trim())
    at = close + 2
  }
}

// --- Metrics (factory.go ValidateMetric) -------------------------------------------------------

const PROVIDERS = ['prometheus', 'job', 'web', 'wavefront', 'kayenta', 'datadog', 'newRelic', 'cloudWatch', 'graphite', 'influxdb', 'skywalking']
const LIMITS = ['count', 'failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit', 'consecutiveSuccessLimit']

export function validateMetric (metric: Obj): string[] {
  const errors: string[] = []
  // (project rule) Limits must be plain integers in shipped templates: a templated limit is
  // only checked when a run starts, and the timing arithmetic in docs/argo.md needs numbers.
  for (const field of LIMITS) {
    const v = metric[field]
    if (v !== undefined && typeof v !== 'number') errors.push(`${field} must be a plain integer here, got ${JSON.stringify(v)} (project rule)`)
  }
  const count = intOrStringValue(metric.count) ?? 0
  const failureLimit = intOrStringValue(metric.failureLimit) ?? 0
  const consecutiveSuccessLimit = intOrStringValue(metric.consecutiveSuccessLimit) ?? 0
  const inconclusiveLimit = intOrStringValue(metric.inconclusiveLimit) ?? 0
  const consecutiveErrorLimit = intOrStringValue(metric.consecutiveErrorLimit)

  if (consecutiveSuccessLimit < 0) errors.push('consecutiveSuccessLimit must be >= 0')
  if (failureLimit < -1) errors.push('failureLimit must be >= 0, or -1 to be disabled')
  if (consecutiveSuccessLimit === 0 && failureLimit === -1) {
    errors.push('failureLimit and consecutiveSuccessLimit cannot both be disabled')
  }
  if (inconclusiveLimit < 0) errors.push('inconclusiveLimit must be >= 0')
  if (consecutiveErrorLimit !== undefined && consecutiveErrorLimit < 0) errors.push('consecutiveErrorLimit must be >= 0')
  if (count > 0) {
    if (consecutiveSuccessLimit >= 0 && failureLimit >= 0) {
      if (count < failureLimit + consecutiveSuccessLimit) {
        errors.push(`count (${count}) must be >= failureLimit + consecutiveSuccessLimit (${failureLimit} + ${consecutiveSuccessLimit}) if both >= 0`)
      }
    } else if (consecutiveSuccessLimit >= 0 && failureLimit < 0 && count < consecutiveSuccessLimit) {
      errors.push('count must be >= consecutiveSuccessLimit')
    }
    if (count < inconclusiveLimit) errors.push('count must be >= inconclusiveLimit')
  }
  const interval = typeof metric.interval === 'string' ? metric.interval : ''
  if (count > 1 && interval === '') errors.push('interval must be specified when count > 1')
  if (interval !== '' && parseGoDuration(interval) === null) errors.push(`invalid interval string: ${JSON.stringify(interval)}`)
  const initialDelay = typeof metric.initialDelay === 'string' ? metric.initialDelay : ''
  if (initialDelay !== '' && parseGoDuration(initialDelay) === null) errors.push(`invalid startDelay string: ${JSON.stringify(initialDelay)}`)

  const provider = isObj(metric.provider) ? metric.provider : {}
  let providers = PROVIDERS.filter((p) => provider[p] !== undefined && provider[p] !== null).length
  if (isObj(provider.plugin)) providers += Object.keys(provider.plugin).length
  if (providers === 0) errors.push('no provider specified')
  if (providers > 1) errors.push('multiple providers specified')
  if (isObj(provider.web)) errors.push(...validateWebProvider(provider.web))
  return errors
}

/** What webmetric.go refuses at measurement time (each becomes an Error measurement). */
function validateWebProvider (web: Obj): string[] {
  const errors: string[] = []
  const method = web.method ?? 'GET'
  if (!['GET', 'POST', 'PUT', ''].includes(method as string)) errors.push(`web.method must be GET, POST or PUT, got ${JSON.stringify(method)}`)
  const hasBody = typeof web.body === 'string' && web.body !== ''
  const hasJsonBody = web.jsonBody !== undefined && web.jsonBody !== null
  if (hasBody && hasJsonBody) errors.push('web: use either body or jsonBody; both cannot exist')
  if ((hasBody || hasJsonBody) && (method === 'GET' || method === '')) errors.push('web: body/jsonBody can only be used with POST or PUT')
  return errors
}

// --- Templates (helpers.go, validation_references.go) ---------------------------------------

export interface TemplateRef { templateName: string, clusterScope: boolean }

/** Dry-run and measurement-retention rules: unique names, and each must match some metric. */
function validateMetricRules (kind: 'dryRun' | 'measurementRetention', rules: Obj[], metricNames: string[]): string[] {
  const errors: string[] = []
  const seen = new Set<string>()
  rules.forEach((rule, i) => {
    const pattern = typeof rule.metricName === 'string' ? rule.metricName : ''
    if (seen.has(pattern)) {
      errors.push(kind === 'dryRun'
        ? `two Dry-Run metric rules have the same name '${pattern}'`
        : `two Measurement Retention metric rules have the same name '${pattern}'`)
    }
    seen.add(pattern)
    let re: RegExp | null = null
    try { re = new RegExp(pattern) } catch { /* Go ignores a bad pattern: it matches nothing */ }
    if (re === null || !metricNames.some((m) => re.test(m))) {
      errors.push(`${kind}[${i}]: Rule didn't match any metric name(s)`)
    }
  })
  return errors
}

/** Rules for one AnalysisTemplate / ClusterAnalysisTemplate spec on its own. */
export function validateTemplateSpec (spec: Obj): string[] {
  const errors: string[] = []
  if (spec.templates !== undefined) {
    errors.push('spec.templates (nested template references) is not supported by this validator; add support before shipping one')
  }
  const metrics = objs(spec.metrics)
  if (metrics.length === 0) errors.push('no metrics specified')
  const names = new Set<string>()
  metrics.forEach((metric, i) => {
    if (names.has(name(metric))) errors.push(`metrics[${i}]: duplicate name '${name(metric)}'`)
    names.add(name(metric))
    for (const e of validateMetric(metric)) errors.push(`metrics[${i}] (${name(metric)}): ${e}`)
  })

  const args = objs(spec.args)
  const declared = new Set<string>()
  for (const arg of args) {
    if (declared.has(name(arg))) errors.push(`args: '${name(arg)}' is declared twice (project rule: Argo uses the first)`)
    declared.add(name(arg))
    if (arg.value !== undefined && arg.valueFrom !== undefined) errors.push(`arg '${name(arg)}' has both Value and ValueFrom fields`)
    if (isObj(arg.valueFrom)) {
      const sources = ['secretKeyRef', 'fieldRef'].filter((k) => arg.valueFrom !== undefined && (arg.valueFrom as Obj)[k] !== undefined)
      if (sources.length !== 1) errors.push(`arg '${name(arg)}': valueFrom needs exactly one of secretKeyRef, fieldRef`)
    }
  }

  // ResolveMetricArgs marshals the whole metric to JSON and substitutes every {{tag}}; a tag
  // that is not a declared arg fails the run ("failed to resolve {{...}}").
  metrics.forEach((metric, i) => {
    let tags: string[] = []
    try {
      tags = templateTags(JSON.stringify(metric))
    } catch (err) {
      errors.push(`metrics[${i}] (${name(metric)}): ${(err as Error).message}`)
    }
    for (const tag of tags) {
      const argName = tag.startsWith('args.') ? tag.slice('args.'.length) : null
      if (argName === null || !declared.has(argName)) {
        errors.push(`metrics[${i}] (${name(metric)}): failed to resolve {{${tag}}}: ${argName === null ? 'not an args.<name> reference' : `no arg '${argName}' is declared`}`)
      }
    }
  })

  const metricNames = metrics.map(name)
  errors.push(...validateMetricRules('dryRun', objs(spec.dryRun), metricNames))
  errors.push(...validateMetricRules('measurementRetention', objs(spec.measurementRetention), metricNames))
  return errors
}

// --- Rollouts (validation.go, validation_references.go) --------------------------------------

export interface TemplateCatalog {
  /** Namespaced AnalysisTemplates by name (assumed applied in the Rollout's namespace). */
  namespaced: Map<string, Obj>
  cluster: Map<string, Obj>
}

const STEP_KINDS = ['setWeight', 'pause', 'experiment', 'analysis', 'setCanaryScale', 'setHeaderRoute', 'setMirrorRoute', 'plugin']
const HASH_VALUES = ['Latest', 'Stable']
const DOWNWARD_METADATA = /^metadata\.(name|namespace|uid|labels|annotations|labels\['[^']+'\]|annotations\['[^']+'\])$/

/** Seconds of a pause step as RolloutPause.DurationSeconds reads it; -1 when unparsable. */
export function pauseSeconds (duration: unknown): number {
  if (duration === undefined) return 0
  if (typeof duration === 'number') return duration
  if (typeof duration === 'string') {
    if (/^[+-]?\d+$/.test(duration)) return Number(duration)
    const d = parseGoDuration(duration)
    return d === null ? -1 : Math.trunc(d)
  }
  return -1
}

interface AnalysisUse {
  where: string
  refs: TemplateRef[]
  args: Obj[]
  dryRun: Obj[]
  measurementRetention: Obj[]
  /** step / experiment analyses block the Rollout, so they must end on their own. */
  mustEnd: boolean
  /** The weight the preceding setWeight set (live steps), for the project's weight rule. */
  weight?: number
  /** Experiment template names, for {{templates.<name>.*}} placeholders in arg values. */
  experimentTemplates?: string[]
}

export function validateRollout (rollout: Obj, catalog: TemplateCatalog): string[] {
  const errors: string[] = []
  const spec = isObj(rollout.spec) ? rollout.spec : {}
  const strategy = isObj(spec.strategy) ? spec.strategy : {}
  if (isObj(strategy.canary) && isObj(strategy.blueGreen)) errors.push('spec.strategy: Multiple Strategies can not be listed')
  errors.push(...validatePodTemplate(spec))

  const canary = isObj(strategy.canary) ? strategy.canary : undefined
  if (canary === undefined) return errors
  const routed = canary.trafficRouting !== undefined
  const uses: AnalysisUse[] = []
  let weight = 0
  const steps = objs(canary.steps)
  steps.forEach((step, i) => {
    const at = `spec.strategy.canary.steps[${i}]`
    const kinds = STEP_KINDS.filter((k) => step[k] !== undefined)
    if (kinds.length === 0) errors.push(`${at}: Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause`)
    if (kinds.length > 1) errors.push(`${at}: a step sets ${kinds.join(' and ')}; it must set exactly one`)
    if (typeof step.setWeight === 'number') {
      if (step.setWeight < 0 || step.setWeight > 100) errors.push(`${at}.setWeight: SetWeight needs to be between 0 and 100`)
      weight = step.setWeight
    }
    if (isObj(step.pause) && pauseSeconds(step.pause.duration) < 0) errors.push(`${at}.pause.duration: Duration needs to be greater than 0`)
    if (step.setCanaryScale !== undefined && !routed) errors.push(`${at}: SetCanaryScale requires TrafficRouting to be set`)
    if (step.setHeaderRoute !== undefined && !routed) errors.push(`${at}: SetHeaderRoute requires TrafficRouting`)
    if (step.setMirrorRoute !== undefined && !routed) errors.push(`${at}: SetMirrorRoute requires TrafficRouting, supports Istio only`)
    if (isObj(step.analysis)) {
      uses.push({ where: `${at}.analysis`, ...analysisOf(step.analysis), mustEnd: true, weight })
    }
    if (isObj(step.experiment)) {
      const experiment = step.experiment
      const templates = objs(experiment.templates)
      templates.forEach((t, j) => {
        if (t.weight !== undefined && !routed) errors.push(`${at}.experiment.templates[${j}].weight: Experiment template weight cannot be set unless TrafficRouting is enabled`)
        if (t.specRef !== 'canary' && t.specRef !== 'stable') errors.push(`${at}.experiment.templates[${j}].specRef must be canary or stable`)
      })
      const analyses = objs(experiment.analyses)
      if (experiment.duration === undefined && !analyses.some((a) => a.requiredForCompletion === true)) {
        errors.push(`${at}.experiment: no duration and no analysis with requiredForCompletion: the experiment would never end`)
      }
      if (typeof experiment.duration === 'string' && parseGoDuration(experiment.duration) === null) {
        errors.push(`${at}.experiment.duration: invalid duration ${JSON.stringify(experiment.duration)}`)
      }
      analyses.forEach((a, j) => {
        uses.push({
          where: `${at}.experiment.analyses[${j}]`,
          refs: [{ templateName: String(a.templateName), clusterScope: a.clusterScope === true }],
          args: objs(a.args),
          dryRun: objs(experiment.dryRun),
          measurementRetention: [],
          mustEnd: a.requiredForCompletion === true,
          experimentTemplates: templates.map(name),
        })
      })
    }
  })

  if (isObj(canary.analysis)) {
    const startingStep = typeof canary.analysis.startingStep === 'number' ? canary.analysis.startingStep : 0
    if (startingStep < 0 || startingStep > steps.length) {
      errors.push(`spec.strategy.canary.analysis.startingStep ${startingStep} is outside the ${steps.length} steps`)
    }
    uses.push({ where: 'spec.strategy.canary.analysis', ...analysisOf(canary.analysis), mustEnd: false })
  }
  for (const use of uses) errors.push(...validateAnalysisUse(use, catalog))
  return errors
}

function analysisOf (analysis: Obj): Pick<AnalysisUse, 'refs' | 'args' | 'dryRun' | 'measurementRetention'> {
  return {
    refs: objs(analysis.templates).map((t) => ({ templateName: String(t.templateName), clusterScope: t.clusterScope === true })),
    args: objs(analysis.args),
    dryRun: objs(analysis.dryRun),
    measurementRetention: objs(analysis.measurementRetention),
  }
}

function validatePodTemplate (spec: Obj): string[] {
  const errors: string[] = []
  if (spec.workloadRef !== undefined) return errors
  const selector = isObj(spec.selector) ? spec.selector : undefined
  const matchLabels = isObj(selector?.matchLabels) ? selector.matchLabels : {}
  if (selector === undefined) return ["spec.selector: Rollout has missing field '.spec.selector'"]
  if (Object.keys(matchLabels).length + objs(selector.matchExpressions).length === 0) errors.push('spec.selector: empty selector is invalid for deployment')
  const template = isObj(spec.template) ? spec.template : {}
  const labels = isObj(template.metadata) && isObj(template.metadata.labels) ? template.metadata.labels : {}
  for (const [k, v] of Object.entries(matchLabels)) {
    if (labels[k] !== v) errors.push(`spec.template.metadata.labels: selector does not match template labels (${k}=${String(v)})`)
  }
  return errors
}

function validateAnalysisUse (use: AnalysisUse, catalog: TemplateCatalog): string[] {
  const errors: string[] = []
  const at = use.where
  const templates: Obj[] = []
  if (use.refs.length === 0) errors.push(`${at}: no templates referenced`)
  for (const ref of use.refs) {
    const t = (ref.clusterScope ? catalog.cluster : catalog.namespaced).get(ref.templateName)
    if (t === undefined) errors.push(`${at}: ${ref.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate'} '${ref.templateName}' not found`)
    else templates.push(t)
  }
  if (templates.length !== use.refs.length) return errors

  // flattenMetrics / flattenArgs / MergeArgs (helpers.go).
  const specs = templates.map((t) => (isObj(t.spec) ? t.spec : {}))
  const metrics = specs.flatMap((s) => objs(s.metrics))
  const metricNames = metrics.map(name)
  const dup = metricNames.find((n, i) => metricNames.indexOf(n) !== i)
  if (dup !== undefined) errors.push(`${at}: two metrics have the same name '${dup}'`)
  const merged = new Map<string, Obj>()
  for (const arg of specs.flatMap((s) => objs(s.args))) {
    const prev = merged.get(name(arg))
    if (prev !== undefined && prev.value !== undefined && arg.value !== undefined && prev.value !== arg.value) {
      errors.push(`${at}: Argument \`${name(arg)}\` specified multiple times with different values: '${String(prev.value)}', '${String(arg.value)}'`)
    }
    if (prev === undefined || prev.value === undefined) merged.set(name(arg), arg)
  }
  const supplied = new Set<string>()
  for (const arg of use.args) {
    const n = name(arg)
    if (!merged.has(n)) errors.push(`${at}: arg '${n}' is declared by no referenced template; Argo ignores it silently (project rule)`)
    supplied.add(n)
    errors.push(...validateRolloutArg(arg, `${at}: arg '${n}'`, use.experimentTemplates))
    if (n === 'weight' && use.weight !== undefined && arg.value !== String(use.weight)) {
      errors.push(`${at}: arg 'weight' is ${JSON.stringify(arg.value)} but the preceding setWeight is ${use.weight}: the gate would check the traffic split against the wrong weight (project rule)`)
    }
  }
  for (const [n, arg] of merged) {
    if (arg.value === undefined && arg.valueFrom === undefined && !supplied.has(n)) {
      errors.push(`${at}: args.${n} was not resolved: the templates declare it without a value and the Rollout does not pass it`)
    }
  }
  if (use.mustEnd) {
    for (const metric of metrics) {
      if (effectiveCount(metric) === null) {
        errors.push(`${at}: metric '${name(metric)}' runs indefinitely (no count); only background analysis may do that`)
      }
    }
  }
  const templateDryRun = specs.flatMap((s) => objs(s.dryRun))
  const templateRetention = specs.flatMap((s) => objs(s.measurementRetention))
  errors.push(...validateMetricRules('dryRun', [...use.dryRun, ...templateDryRun], metricNames).map((e) => `${at}: ${e}`))
  errors.push(...validateMetricRules('measurementRetention', [...use.measurementRetention, ...templateRetention], metricNames).map((e) => `${at}: ${e}`))
  return errors
}

function validateRolloutArg (arg: Obj, at: string, experimentTemplates?: string[]): string[] {
  const errors: string[] = []
  if (arg.value !== undefined && arg.valueFrom !== undefined) errors.push(`${at} has both value and valueFrom`)
  if (isObj(arg.valueFrom)) {
    const { podTemplateHashValue, fieldRef } = arg.valueFrom
    if ((podTemplateHashValue === undefined) === (fieldRef === undefined)) errors.push(`${at}: valueFrom needs exactly one of podTemplateHashValue, fieldRef`)
    if (podTemplateHashValue !== undefined && !HASH_VALUES.includes(podTemplateHashValue as string)) {
      errors.push(`${at}: podTemplateHashValue must be Latest or Stable, got ${JSON.stringify(podTemplateHashValue)}; Argo would pass an empty value (project rule)`)
    }
    if (isObj(fieldRef)) {
      const path = String(fieldRef.fieldPath)
      if (path.startsWith('metadata') && !DOWNWARD_METADATA.test(path)) {
        errors.push(`${at}: Analyses arguments must refer to valid object metadata supported by downwardAPI (${path})`)
      }
      if (!path.startsWith('metadata') && !path.startsWith('spec.') && !path.startsWith('status.')) {
        errors.push(`${at}: fieldRef ${path} is not a path into the Rollout`)
      }
    }
  }
  if (typeof arg.value === 'string') {
    let tags: string[] = []
    try {
      tags = templateTags(arg.value)
    } catch (err) {
      errors.push(`${at}: ${(err as Error).message}`)
    }
    for (const tag of tags) {
      const m = /^templates\.([^.]+)\.(podTemplateHash|replicaset\.name)$/.exec(tag)
      const ok = experimentTemplates !== undefined &&
        ((m !== null && experimentTemplates.includes(m[1] as string)) || tag === 'experiment.availableAt' || tag === 'experiment.finishedAt')
      if (!ok) {
        errors.push(`${at}: {{${tag}}} is not resolved here${experimentTemplates === undefined ? ' (only experiment analysis args take {{templates.<name>.podTemplateHash}})' : ` (experiment templates: ${experimentTemplates.join(', ')})`}`)
      }
    }
  }
  return errors
}

// --- Label syntax (apimachinery validation) ---------------------------------------------------

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** A label key (optional DNS-subdomain prefix + "/" + name of at most 63 characters). */
export function labelKeyError (key: string): string | null {
  const slash = key.lastIndexOf('/')
  const prefix = slash >= 0 ? key.slice(0, slash) : null
  const local = slash >= 0 ? key.slice(slash + 1) : key
  if (prefix !== null && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `label key ${JSON.stringify(key)}: prefix must be a DNS subdomain`
  if (local.length > 63 || !LABEL_NAME.test(local)) return `label key ${JSON.stringify(key)}: name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric`
  return null
}

export function labelValueError (value: string): string | null {
  if (value === '') return null
  if (value.length > 63 || !LABEL_NAME.test(value)) return `label value ${JSON.stringify(value)}: must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric`
  return null
}

/** Label maps of an object: its own, a Rollout's selector and pod template, experiment pods. */
export function validateLabels (object: Obj): string[] {
  const errors: string[] = []
  const check = (labels: unknown, at: string): void => {
    if (!isObj(labels)) return
    for (const [k, v] of Object.entries(labels)) {
      const e = labelKeyError(k) ?? (typeof v === 'string' ? labelValueError(v) : null)
      if (e !== null) errors.push(`${at}: ${e}`)
    }
  }
  const meta = isObj(object.metadata) ? object.metadata : {}
  check(meta.labels, 'metadata.labels')
  const spec = isObj(object.spec) ? object.spec : {}
  if (isObj(spec.selector)) check(spec.selector.matchLabels, 'spec.selector.matchLabels')
  if (isObj(spec.template) && isObj(spec.template.metadata)) check(spec.template.metadata.labels, 'spec.template.metadata.labels')
  const canary = isObj(spec.strategy) && isObj(spec.strategy.canary) ? spec.strategy.canary : {}
  objs(canary.steps).forEach((step, i) => {
    if (!isObj(step.experiment)) return
    objs(step.experiment.templates).forEach((t, j) => {
      if (isObj(t.metadata)) check(t.metadata.labels, `spec.strategy.canary.steps[${i}].experiment.templates[${j}].metadata.labels`)
    })
  })
  return errors
}
