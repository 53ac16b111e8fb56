// Every Argo Rollouts object the project ships (analysis-templates/, deploy/, plugin-manifests/)
// validates against the v1.9.1 CRD schemas and Argo's own rules; the templates implement the
// verdict policy of docs/argo.md, and that document's timing table is what they compute to.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadGatesFile } from '../../src/config/load.js'
import { describe, loadManifests, parseManifest } from '../helpers/argo/manifests.js'
import { formatMinutes, metricTiming } from '../helpers/argo/timing.js'
import { PROJECT_ROOT, crdValidator, shippedManifests, templateCatalog, validateArgoObject } from '../helpers/argo/validate.js'

type Any = any
type Tap = Pick<typeof t, 'equal'>
const catalog = shippedManifests()
const templates = templateCatalog(catalog.argo)
const STAGES = ['shadow', 'canary-1', 'canary-2', 'full'] as const

t.test('the manifests load, and every expected object is found', async (t) => {
  t.same(catalog.errors, [], 'no unreadable or half-formed manifest')
  t.same([...templates.cluster.keys()], ['agent-canary-gate'])
  t.same([...templates.namespaced.keys()].sort(),
    ['agent-canary-gate-plugin', 'agent-gate-background', 'agent-gate-canary-1', 'agent-gate-canary-2', 'agent-gate-full', 'agent-gate-shadow'])
  const rollouts = catalog.argo.filter((d) => d.object.kind === 'Rollout').map((d) => d.file)
  t.same(rollouts.sort(), [
    'analysis-templates/examples/rollout-background.yaml',
    'analysis-templates/examples/rollout-cluster-template.yaml',
    'analysis-templates/examples/rollout.yaml',
  ])
})

t.test('rollout-gates.yaml is a ConfigMap holding the gates policy, so kubectl applies the whole folder', async (t) => {
  const inFolder = (d: { file: string }): boolean => d.file.startsWith('analysis-templates/') && !d.file.startsWith('analysis-templates/examples/')
  t.same(catalog.gatesPolicies.filter(inFolder), [], 'no bare gates policy where kubectl apply -f analysis-templates/ would read it')
  t.same(catalog.notKubernetes.filter(inFolder), [], 'every document in the folder is a Kubernetes object')
  const configMap = catalog.otherKubernetes.find((d) => d.file === 'analysis-templates/rollout-gates.yaml')
  t.match(configMap?.object, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'agent-canary-gate-gates' }, data: { 'rollout-gates.yaml': /^# Rates are fractions/ } })
  const loaded = await loadGatesFile('analysis-templates/rollout-gates.yaml')
  t.same(loaded.configMap, { name: 'agent-canary-gate-gates', key: 'rollout-gates.yaml' })
  t.same(Object.keys(loaded.policy.stages), [...STAGES], 'the embedded policy is the gates policy')
})

for (const doc of catalog.argo) {
  t.test(`${describe(doc)} validates against its CRD and Argo's rules`, async (t) => {
    t.same(validateArgoObject(doc.object, templates), [])
  })
}

// --- the verdict policy ---------------------------------------------------------------------

function gateMetric (tt: Tap, template: Any): Any {
  tt.equal(template.spec.metrics.length, 1, `${String(template.metadata.name)} has one metric`)
  return template.spec.metrics[0]
}

const stageTemplates: Array<[string, Any]> = [
  ...STAGES.map((s) => [`agent-gate-${s}`, templates.namespaced.get(`agent-gate-${s}`)] as [string, Any]),
  ['agent-canary-gate', templates.cluster.get('agent-canary-gate')],
]

for (const [name, template] of stageTemplates) {
  t.test(`${name} turns the gate's verdicts into the documented run results`, async (t) => {
    const m = gateMetric(t, template)
    // ?view=argo answers one line that starts with the verdict (src/report/argo-line.ts).
    t.equal(m.successCondition, 'result startsWith "pass:"')
    t.equal(m.failureCondition, 'result startsWith "fail:"')
    t.equal(m.failureLimit, 0, 'the first fail ends the run Failed')
    t.type(m.count, 'number')
    t.equal(m.inconclusiveLimit, m.count, 'inconclusive answers alone never end the run before its count')
    t.ok(m.consecutiveSuccessLimit > 0 && m.consecutiveSuccessLimit <= m.count, 'a pass streak can end the run Successful within the count')
    t.ok(m.consecutiveSuccessLimit > 1, 'one lucky pass does not promote')
    t.ok(m.consecutiveErrorLimit >= 6, 'a minute of gate errors does not abort')
    const web = m.provider.web
    t.equal(web.method, 'POST')
    t.equal(web.jsonPath, '{$}')
    t.equal(web.url, '{{args.gate-url}}/api/v1/score?view=argo', 'the one-line answer Argo shows')
    t.same(web.headers, [{ key: 'X-API-Key', value: '{{args.gate-api-key}}' }])
    const apiKey = template.spec.args.find((a: Any) => a.name === 'gate-api-key')
    t.same(apiKey.valueFrom, { secretKeyRef: { name: 'agent-canary-gate-client', key: 'GATE_API_KEY' } }, 'the key comes from the Secret agent-canary-gate-client, under the name the CLI reads it by')
    t.equal(web.jsonBody.canary, '{{args.agent}}-{{args.canary-hash}}')
    t.equal(web.jsonBody.baseline, '{{args.agent}}-{{args.stable-hash}}')
    const stage = name === 'agent-canary-gate' ? '{{args.stage}}' : name.replace('agent-gate-', '')
    t.equal(web.jsonBody.stage, stage)
    if (stage === 'shadow') t.notOk('weight' in web.jsonBody, 'no traffic weight in the shadow stage')
    else t.equal(web.jsonBody.weight, '{{args.weight}}')
    for (const field of ['tenant', 'topic', 'namespace', 'rollout', 'revision']) t.equal(web.jsonBody[field], `{{args.${field}}}`)
  })
}

t.test('agent-gate-background is a tripwire: no count, no pass streak, the first fail aborts', async (t) => {
  const m = gateMetric(t, templates.namespaced.get('agent-gate-background'))
  t.equal(m.count, undefined)
  t.equal(m.consecutiveSuccessLimit, undefined)
  t.equal(m.failureLimit, 0)
  t.ok(m.inconclusiveLimit > 0, 'early answers without data do not pause')
  t.equal(m.provider.web.jsonBody.stage, '{{args.stage}}')
  t.notOk('weight' in m.provider.web.jsonBody, 'a background run cannot follow the weight')
  t.same([m.provider.web.url, m.provider.web.jsonPath, m.successCondition, m.failureCondition], ['{{args.gate-url}}/api/v1/score?view=argo', '{$}', 'result startsWith "pass:"', 'result startsWith "fail:"'], 'the same one-line answer and conditions as the stage templates')
})

t.test('the example Rollout walks the brief: shadow, 10% / pause / analysis, 25%, 50%, 100%', async (t) => {
  const r = catalog.argo.find((d) => d.file.endsWith('examples/rollout.yaml'))?.object as Any
  const shape = r.spec.strategy.canary.steps.map((s: Any) => {
    if (s.experiment !== undefined) return `experiment:${String(s.experiment.analyses[0].templateName)}`
    if (s.setWeight !== undefined) return `setWeight:${String(s.setWeight)}`
    if (s.pause !== undefined) return 'pause'
    return `analysis:${String(s.analysis.templates[0].templateName)}`
  })
  t.same(shape, [
    'experiment:agent-gate-shadow',
    'setWeight:10', 'pause', 'analysis:agent-gate-canary-1',
    'setWeight:25', 'analysis:agent-gate-canary-2',
    'setWeight:50', 'analysis:agent-gate-canary-2',
    'setWeight:100', 'analysis:agent-gate-full',
  ])
  const env = r.spec.template.spec.containers[0].env
  const hash = env.find((e: Any) => e.name === 'POD_TEMPLATE_HASH')
  t.equal(hash.valueFrom.fieldRef.fieldPath, "metadata.labels['rollouts-pod-template-hash']", 'the hash comes from the pod label (downward API)')
  t.equal(env.find((e: Any) => e.name === 'CORDUM_AGENT_ID').value, '$(AGENT_NAME)-$(POD_TEMPLATE_HASH)')
  const names = env.map((e: Any) => e.name)
  t.ok(names.indexOf('CORDUM_AGENT_ID') > names.indexOf('POD_TEMPLATE_HASH'), 'Kubernetes expands $(VAR) only from variables defined before')
})

// --- docs/argo.md's timing table ------------------------------------------------------------

t.test('docs/argo.md states the timing the templates compute to', async (t) => {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs/argo.md'), 'utf8')
  const rows = new Map<string, string[]>()
  for (const line of doc.split('\n')) {
    const m = /^\| `([a-z0-9-]+)` \|(.*)\|$/.exec(line)
    if (m !== null && (templates.namespaced.has(m[1] as string) || templates.cluster.has(m[1] as string))) {
      rows.set(m[1] as string, (m[2] as string).split('|').map((c) => c.trim()))
    }
  }
  for (const [name, template] of stageTemplates) {
    const row = rows.get(name)
    if (row === undefined) {
      t.fail(`docs/argo.md has no timing row for ${name}`)
      continue
    }
    const timing = metricTiming(gateMetric(t, template))
    // | template | first answer | interval | count | passes in a row | earliest Successful | Inconclusive after |
    t.same(row.slice(0, 6), [
      formatMinutes(timing.initialDelay),
      formatMinutes(timing.interval),
      String(timing.count),
      String(timing.consecutiveSuccessLimit),
      formatMinutes(timing.earliestSuccess ?? NaN),
      formatMinutes(timing.latestEnd ?? NaN),
    ], `${name}: first answer, interval, count, pass streak, earliest Successful, Inconclusive after`)
  }
})

// --- the manifest loader's own guards ------------------------------------------------------

t.test('half-formed or unknown Argo documents are errors, other files are sorted out', async (t) => {
  const root = t.testdir({ deploy: {} })
  const write = (name: string, text: string): void => { writeFileSync(join(root, 'deploy', name), text) }
  write('a-no-kind.yaml', 'apiVersion: argoproj.io/v1alpha1\nmetadata: { name: x }\n')
  write('b-experiment.yaml', 'apiVersion: argoproj.io/v1alpha1\nkind: Experiment\nmetadata: { name: x }\n')
  write('c-wrong-group.yaml', 'apiVersion: apps/v1\nkind: Rollout\nmetadata: { name: x }\n')
  write('d-gates.yaml', 'rollout_gates:\n  min_data_points_per_metric: 50\n')
  write('e-service.yaml', 'apiVersion: v1\nkind: Service\nmetadata: { name: gate }\n---\n# only a comment\n')
  write('f-grafana-provisioning.yaml', 'apiVersion: 1\nproviders: []\n')
  write('g-dashboard.json', '{"title": "gate", "panels": []}')
  write('h-duplicate-key.yaml', 'apiVersion: v1\nkind: ConfigMap\nkind: Secret\n')
  const c = loadManifests(root, ['deploy', 'plugin-manifests'])
  t.match(c.errors.join('\n'), /a-no-kind.yaml:1: a Kubernetes object needs both apiVersion and kind/)
  t.match(c.errors.join('\n'), /b-experiment.yaml:1: Experiment \(argoproj.io\/v1alpha1\) has no CRD schema/)
  t.match(c.errors.join('\n'), /c-wrong-group.yaml:1: Rollout with apiVersion apps\/v1/)
  t.match(c.errors.join('\n'), /h-duplicate-key.yaml: document 0: Map keys must be unique/)
  t.equal(c.errors.length, 4)
  t.same(c.gatesPolicies.map((d) => d.file), ['deploy/d-gates.yaml'])
  t.same(c.otherKubernetes.map((d) => d.file), ['deploy/e-service.yaml'])
  t.same(c.notKubernetes.map((d) => d.file), ['deploy/f-grafana-provisioning.yaml'])
  t.same(c.argo, [])
})

t.test('manifests are read as kubectl reads them: YAML 1.1, so an unquoted `on` is a boolean', async (t) => {
  const { docs } = parseManifest([
    'apiVersion: argoproj.io/v1alpha1',
    'kind: AnalysisTemplate',
    'metadata: { name: x }',
    'spec:',
    '  args: [{ name: mode, value: on }]',
    '  metrics: [{ name: m, provider: { web: { url: "http://x" } } }]',
  ].join('\n'), 'x.yaml')
  t.equal((docs[0]?.object as Any).spec.args[0].value, true)
  t.match(crdValidator('AnalysisTemplate').validate(docs[0]?.object).join('\n'), /spec.args.0.value: must be string/)
})
