// Argo's own rules for analysis objects (rules.ts): every rule is shown to catch its mistake,
// planted in an otherwise valid object that is first shown to pass.
import t from 'tap'
import {
  effectiveCount, labelKeyError, labelValueError, parseGoDuration, pauseSeconds, templateTags,
  validateMetric, validateRollout, validateTemplateSpec,
} from '../helpers/argo/rules.js'
import { shippedManifests, templateCatalog } from '../helpers/argo/validate.js'

type Any = any // planted mistakes reach deep into the objects

t.test('Go durations parse as time.ParseDuration does', async (t) => {
  t.equal(parseGoDuration('5m'), 300)
  t.equal(parseGoDuration('1h30m'), 5400)
  t.equal(parseGoDuration('1.5h'), 5400)
  t.equal(parseGoDuration('300ms'), 0.3)
  t.equal(parseGoDuration('0'), 0)
  t.equal(parseGoDuration('-1h'), -3600)
  t.equal(parseGoDuration(''), null)
  t.equal(parseGoDuration('5'), null, 'a bare number has no unit')
  t.equal(parseGoDuration('5 m'), null)
  t.equal(parseGoDuration('5min'), null)
  t.equal(parseGoDuration('1d'), null, 'Go has no day unit')
})

t.test('pause durations: bare numbers are seconds, units parse, garbage is -1', async (t) => {
  t.equal(pauseSeconds(30), 30)
  t.equal(pauseSeconds('30'), 30)
  t.equal(pauseSeconds('10m'), 600)
  t.equal(pauseSeconds('ten minutes'), -1)
  t.equal(pauseSeconds(undefined), 0)
})

t.test('effective count: count, or 1 without interval, or indefinite with an interval only', async (t) => {
  t.equal(effectiveCount({ count: 12, interval: '5m' }), 12)
  t.equal(effectiveCount({}), 1)
  t.equal(effectiveCount({ interval: '5m' }), null)
  t.equal(effectiveCount({ count: 0, interval: '5m' }), null)
})

t.test('template tags: trimmed, all of them, unclosed refused', async (t) => {
  t.same(templateTags('{{args.a}}-{{ args.b }}'), ['args.a', 'args.b'])
  t.same(templateTags('no tags'), [])
  t.throws(() => templateTags('x {{args.a'), /unclosed/)
})

// --- metric rules ---------------------------------------------------------------------------

const good = {
  name: 'gate-verdict',
  interval: '5m',
  count: 12,
  failureLimit: 0,
  inconclusiveLimit: 12,
  consecutiveSuccessLimit: 3,
  consecutiveErrorLimit: 12,
  provider: { web: { method: 'POST', url: 'http://gate/api/v1/score', jsonBody: { stage: 'canary-1' } } },
}

t.test('ValidateMetric: the good metric passes; each broken rule is caught', async (t) => {
  t.same(validateMetric(good), [])
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['count below failureLimit + consecutiveSuccessLimit', { count: 3, failureLimit: 1, inconclusiveLimit: 3 }, /count \(3\) must be >= failureLimit \+ consecutiveSuccessLimit \(1 \+ 3\)/],
    ['count below inconclusiveLimit', { inconclusiveLimit: 13 }, /count must be >= inconclusiveLimit/],
    ['count below consecutiveSuccessLimit with failureLimit disabled', { failureLimit: -1, consecutiveSuccessLimit: 13 }, /count must be >= consecutiveSuccessLimit/],
    ['count > 1 without interval', { interval: undefined }, /interval must be specified when count > 1/],
    ['failureLimit -1 with consecutiveSuccessLimit 0', { failureLimit: -1, consecutiveSuccessLimit: 0 }, /cannot both be disabled/],
    ['failureLimit -1 with consecutiveSuccessLimit absent', { failureLimit: -1, consecutiveSuccessLimit: undefined }, /cannot both be disabled/],
    ['failureLimit below -1', { failureLimit: -2 }, /failureLimit must be >= 0, or -1/],
    ['negative inconclusiveLimit', { inconclusiveLimit: -1 }, /inconclusiveLimit must be >= 0/],
    ['negative consecutiveErrorLimit', { consecutiveErrorLimit: -1 }, /consecutiveErrorLimit must be >= 0/],
    ['negative consecutiveSuccessLimit', { consecutiveSuccessLimit: -1 }, /consecutiveSuccessLimit must be >= 0/],
    ['unparsable interval', { interval: '5 minutes' }, /invalid interval string/],
    ['unparsable initialDelay', { initialDelay: '1 hour' }, /invalid startDelay string/],
    ['no provider', { provider: {} }, /no provider specified/],
    ['two providers', { provider: { ...good.provider, prometheus: { address: 'http://p', query: 'up' } } }, /multiple providers specified/],
    ['a provider and a plugin', { provider: { ...good.provider, plugin: { 'acme/x': {} } } }, /multiple providers specified/],
    ['a templated limit (project rule)', { count: '{{args.count}}' }, /count must be a plain integer here/],
    ['jsonBody with GET', { provider: { web: { url: 'http://gate', jsonBody: {} } } }, /body\/jsonBody can only be used with POST or PUT/],
    ['body and jsonBody', { provider: { web: { method: 'POST', url: 'http://gate', body: '{}', jsonBody: {} } } }, /use either body or jsonBody/],
    ['unknown method', { provider: { web: { method: 'PATCH', url: 'http://gate' } } }, /web.method must be GET, POST or PUT/],
  ]
  for (const [what, change, expected] of cases) {
    const metric: Record<string, unknown> = { ...good, ...change }
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete metric[k]
    t.match(validateMetric(metric).join('\n'), expected, what)
  }
  t.same(validateMetric({ ...good, count: 3, failureLimit: 0, consecutiveSuccessLimit: 3, inconclusiveLimit: 3 }), [],
    'count equal to failureLimit + consecutiveSuccessLimit is allowed')
  t.same(validateMetric({ name: 'once', provider: good.provider }), [], 'no count and no interval: one measurement')
  t.same(validateMetric({ ...good, count: undefined, consecutiveSuccessLimit: undefined, inconclusiveLimit: 6 }), [],
    'no count with an interval: indefinite, no count rules')
})

// --- template rules -------------------------------------------------------------------------

const catalog = shippedManifests()
const templates = templateCatalog(catalog.argo)
function shippedTemplate (name: string): Any {
  const tpl = templates.namespaced.get(name) ?? templates.cluster.get(name)
  if (tpl === undefined) throw new Error(`template ${name} not shipped`)
  return structuredClone(tpl)
}

t.test('template rules: the shipped template passes; each broken rule is caught', async (t) => {
  const base = shippedTemplate('agent-gate-canary-1')
  t.same(validateTemplateSpec(base.spec), [])
  const cases: Array<[string, (s: Any) => void, RegExp]> = [
    ['an undeclared {{args.x}}', (s) => { s.metrics[0].provider.web.url = '{{args.gate-uri}}/api/v1/score' }, /failed to resolve \{\{args.gate-uri\}\}: no arg 'gate-uri' is declared/],
    ['a tag that is not args.<name>', (s) => { s.metrics[0].provider.web.jsonBody.weight = '{{weight}}' }, /failed to resolve \{\{weight\}\}: not an args.<name> reference/],
    ['a tag in a jsonBody key', (s) => { s.metrics[0].provider.web.jsonBody['{{args.nope}}'] = 'x' }, /no arg 'nope' is declared/],
    // In the marshalled metric the next "}}" closes it, as in Argo: the tag swallows JSON text.
    ['an unclosed tag', (s) => { s.metrics[0].successCondition = 'result == "{{args.agent"' }, /failed to resolve \{\{args\.agent\\"/],
    ['an arg with value and valueFrom', (s) => { s.args[0].value = 'x'; s.args[0].valueFrom = { secretKeyRef: { name: 'a', key: 'b' } } }, /has both Value and ValueFrom/],
    ['an arg declared twice', (s) => { s.args.push({ name: 'agent', value: 'x' }) }, /'agent' is declared twice/],
    ['valueFrom with two sources', (s) => { s.args.at(-1).valueFrom.fieldRef = { fieldPath: 'metadata.name' } }, /exactly one of secretKeyRef, fieldRef/],
    ['two metrics of one name', (s) => { s.metrics.push(structuredClone(s.metrics[0])) }, /metrics\[1\]: duplicate name 'gate-verdict'/],
    ['no metrics', (s) => { s.metrics = [] }, /no metrics specified/],
    ['a broken metric', (s) => { s.metrics[0].count = 2 }, /metrics\[0\] \(gate-verdict\): count \(2\) must be >= failureLimit/],
    ['a dryRun rule matching no metric', (s) => { s.dryRun = [{ metricName: 'gate-verdikt' }] }, /dryRun\[0\]: Rule didn't match any metric name/],
    ['two dryRun rules of one name', (s) => { s.dryRun = [{ metricName: 'gate' }, { metricName: 'gate' }] }, /two Dry-Run metric rules have the same name 'gate'/],
    ['a measurementRetention rule matching no metric', (s) => { s.measurementRetention = [{ metricName: '^verdict$', limit: 20 }] }, /measurementRetention\[0\]: Rule didn't match/],
    ['two measurementRetention rules of one name', (s) => { s.measurementRetention = [{ metricName: '.*', limit: 5 }, { metricName: '.*', limit: 9 }] }, /two Measurement Retention metric rules/],
    ['nested template references', (s) => { s.templates = [{ templateName: 'x' }] }, /nested template references/],
  ]
  for (const [what, plant, expected] of cases) {
    const spec = structuredClone(base.spec)
    plant(spec)
    t.match(validateTemplateSpec(spec).join('\n'), expected, what)
  }
  const spec = structuredClone(base.spec)
  spec.metrics[0].provider.web.url = '{{ args.gate-url }}/api/v1/score'
  spec.dryRun = [{ metricName: 'gate' }] // unanchored regexp, as Go's MatchString
  spec.measurementRetention = [{ metricName: '.*', limit: 20 }]
  t.same(validateTemplateSpec(spec), [], 'spaces inside a tag and unanchored rule patterns are fine')
})

// --- Rollout rules --------------------------------------------------------------------------

function arg (args: Any[], name: string): Any {
  return args.find((a) => a.name === name)
}

function shippedRollout (file: string): Any {
  const doc = catalog.argo.find((d) => d.file.endsWith(file))
  if (doc === undefined) throw new Error(`${file} not shipped`)
  return structuredClone(doc.object)
}

t.test('Rollout rules: the shipped Rollouts pass; each broken rule is caught', async (t) => {
  const base = shippedRollout('examples/rollout.yaml')
  t.same(validateRollout(base, templates), [])
  // steps: 0 experiment, 1 setWeight 10, 2 pause, 3 analysis canary-1, 4 setWeight 25, 5 analysis, ...
  const cases: Array<[string, (r: Any) => void, RegExp]> = [
    ['a template that is not shipped', (r) => { r.spec.strategy.canary.steps[3].analysis.templates[0].templateName = 'agent-gate-canary-3' }, /AnalysisTemplate 'agent-gate-canary-3' not found/],
    ['a namespaced template referenced as cluster-scoped', (r) => { r.spec.strategy.canary.steps[3].analysis.templates[0].clusterScope = true }, /ClusterAnalysisTemplate 'agent-gate-canary-1' not found/],
    ['an arg no template declares (project rule)', (r) => { r.spec.strategy.canary.steps[3].analysis.args.push({ name: 'canary_hash', value: 'x' }) }, /arg 'canary_hash' is declared by no referenced template/],
    ['a required arg not passed', (r) => { r.spec.strategy.canary.steps[3].analysis.args = r.spec.strategy.canary.steps[3].analysis.args.filter((a: Any) => a.name !== 'stable-hash') }, /args.stable-hash was not resolved/],
    ['a weight that is not the preceding setWeight (project rule)', (r) => { arg(r.spec.strategy.canary.steps[5].analysis.args, 'weight').value = '10' }, /arg 'weight' is "10" but the preceding setWeight is 25/],
    ['an unknown podTemplateHashValue (project rule)', (r) => { arg(r.spec.strategy.canary.steps[3].analysis.args, 'canary-hash').valueFrom.podTemplateHashValue = 'latest' }, /podTemplateHashValue must be Latest or Stable/],
    ['a fieldRef the downward API does not have', (r) => { r.spec.strategy.canary.steps[3].analysis.args.at(-1).valueFrom.fieldRef.fieldPath = 'metadata.labels.app' }, /valid object metadata supported by downwardAPI/],
    ['an experiment placeholder in a step analysis arg', (r) => { Object.assign(arg(r.spec.strategy.canary.steps[3].analysis.args, 'canary-hash'), { value: '{{templates.shadow.podTemplateHash}}', valueFrom: undefined }) }, /only experiment analysis args take/],
    ['an experiment placeholder naming no template', (r) => { arg(r.spec.strategy.canary.steps[0].experiment.analyses[0].args, 'canary-hash').value = '{{templates.canary.podTemplateHash}}' }, /\{\{templates.canary.podTemplateHash\}\} is not resolved here \(experiment templates: shadow\)/],
    ['an experiment that never ends', (r) => { r.spec.strategy.canary.steps[0].experiment.analyses[0].requiredForCompletion = false }, /the experiment would never end/],
    ['an experiment template weight without traffic routing', (r) => { r.spec.strategy.canary.steps[0].experiment.templates[0].weight = 5 }, /Experiment template weight cannot be set unless TrafficRouting/],
    ['a step with two actions', (r) => { r.spec.strategy.canary.steps[1].pause = {} }, /sets setWeight and pause; it must set exactly one/],
    ['an empty step', (r) => { r.spec.strategy.canary.steps.push({}) }, /Step must have one of the following set/],
    ['setWeight over 100', (r) => { r.spec.strategy.canary.steps[1].setWeight = 110 }, /SetWeight needs to be between 0 and 100/],
    ['a negative pause', (r) => { r.spec.strategy.canary.steps[2].pause.duration = '-5m' }, /Duration needs to be greater than 0/],
    ['an unparsable pause', (r) => { r.spec.strategy.canary.steps[2].pause.duration = 'ten minutes' }, /Duration needs to be greater than 0/],
    ['setMirrorRoute without a traffic router', (r) => { r.spec.strategy.canary.steps.push({ setMirrorRoute: { name: 'm' } }) }, /SetMirrorRoute requires TrafficRouting/],
    ['setCanaryScale without a traffic router', (r) => { r.spec.strategy.canary.steps.push({ setCanaryScale: { replicas: 1 } }) }, /SetCanaryScale requires TrafficRouting/],
    ['a selector the pod labels do not match', (r) => { r.spec.selector.matchLabels['app.kubernetes.io/name'] = 'other' }, /selector does not match template labels/],
    ['no selector', (r) => { delete r.spec.selector }, /missing field '.spec.selector'/],
    ['a step analysis whose template runs indefinitely', (r) => { r.spec.strategy.canary.steps[3].analysis.templates[0].templateName = 'agent-gate-background'; r.spec.strategy.canary.steps[3].analysis.args.push({ name: 'stage', value: 'canary-1' }); r.spec.strategy.canary.steps[3].analysis.args = r.spec.strategy.canary.steps[3].analysis.args.filter((a: Any) => a.name !== 'weight') }, /metric 'gate-verdict' runs indefinitely/],
    ['a step dryRun rule matching no metric', (r) => { r.spec.strategy.canary.steps[3].analysis.dryRun = [{ metricName: 'latency' }] }, /dryRun\[0\]: Rule didn't match any metric name/],
    ['two templates with one metric name', (r) => { r.spec.strategy.canary.steps[3].analysis.templates.push({ templateName: 'agent-gate-canary-2' }) }, /two metrics have the same name 'gate-verdict'/],
    ['both strategies', (r) => { r.spec.strategy.blueGreen = { activeService: 'a' } }, /Multiple Strategies/],
  ]
  for (const [what, plant, expected] of cases) {
    const r = structuredClone(base)
    plant(r)
    t.match(validateRollout(r, templates).join('\n'), expected, what)
  }
})

t.test('background analysis: may run indefinitely, needs its args, starts within the steps', async (t) => {
  const base = shippedRollout('examples/rollout-background.yaml')
  t.same(validateRollout(base, templates), [])
  const missing = structuredClone(base)
  missing.spec.strategy.canary.analysis.args = missing.spec.strategy.canary.analysis.args.filter((a: Any) => a.name !== 'stage')
  t.match(validateRollout(missing, templates).join('\n'), /args.stage was not resolved/)
  const late = structuredClone(base)
  late.spec.strategy.canary.analysis.startingStep = 9
  t.match(validateRollout(late, templates).join('\n'), /startingStep 9 is outside the 6 steps/)
})

t.test('label syntax', async (t) => {
  t.equal(labelKeyError('agent-canary-gate/mode'), null)
  t.equal(labelKeyError('app.kubernetes.io/name'), null)
  t.match(labelKeyError('Agent_Canary/mode'), /prefix must be a DNS subdomain/)
  t.match(labelKeyError('mode!'), /name must be 1-63/)
  t.match(labelKeyError('x'.repeat(64)), /name must be 1-63/)
  t.equal(labelValueError(''), null)
  t.equal(labelValueError('shadow'), null)
  t.match(labelValueError('shadow mode'), /must be at most 63/)
})
