// The CRD-to-Ajv translation: each Kubernetes structural-schema rule, first on small schemas,
// then on the real Argo Rollouts v1.9.1 CRDs with one mistake planted in a shipped object.
import t from 'tap'
import { newAjv, structuralToAjv } from '../helpers/argo/crd-schema.js'
import { crdValidator, shippedManifests } from '../helpers/argo/validate.js'

function check (schema: Record<string, unknown>): (value: unknown) => boolean {
  const validate = newAjv().compile(structuralToAjv(schema))
  return (value) => validate(value)
}

t.test('x-kubernetes-int-or-string: an integer or a string, nothing else', async (t) => {
  const ok = check({ anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true })
  t.ok(ok(3))
  t.ok(ok('3'))
  t.ok(ok('25%'))
  t.notOk(ok(3.5), 'a fraction is not an integer')
  t.notOk(ok(true))
  t.notOk(ok(null), 'not nullable')
  t.notOk(ok({}))
})

t.test('x-kubernetes-int-or-string with a pattern: the pattern binds the string form only', async (t) => {
  const ok = check({ anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: '^[0-9]+m$', 'x-kubernetes-int-or-string': true })
  t.ok(ok(7))
  t.ok(ok('7m'))
  t.notOk(ok('7x'))
})

t.test('an int-or-string flag without anyOf [integer, string] is refused by the translation', async (t) => {
  t.throws(() => structuralToAjv({ type: 'string', 'x-kubernetes-int-or-string': true }), /without anyOf/)
})

t.test('properties without preserve-unknown-fields: unknown fields are rejected', async (t) => {
  const ok = check({ type: 'object', properties: { a: { type: 'string' } } })
  t.ok(ok({ a: 'x' }))
  t.ok(ok({}))
  t.notOk(ok({ a: 'x', b: 1 }))
  t.notOk(ok({ a: 1 }))
})

t.test('x-kubernetes-preserve-unknown-fields: anything below, declared fields still typed', async (t) => {
  const ok = check({
    type: 'object',
    properties: { body: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { n: { type: 'integer' } } } },
  })
  t.ok(ok({ body: { anything: { deep: [1, 'two', { three: true }] } } }))
  t.notOk(ok({ body: { n: 'not a number' } }))
  t.notOk(ok({ body: 'not an object' }))
  t.notOk(ok({ other: 1 }), 'the parent still rejects unknown fields')
})

t.test('an object with neither properties nor additionalProperties accepts only {}', async (t) => {
  const ok = check({ type: 'object' })
  t.ok(ok({}))
  t.notOk(ok({ a: 1 }))
})

t.test('additionalProperties: a map whose values are typed', async (t) => {
  const ok = check({ type: 'object', additionalProperties: { type: 'string' } })
  t.ok(ok({ a: 'x', b: 'y' }))
  t.notOk(ok({ a: 1 }))
})

t.test('x-kubernetes-list-type map and set: duplicates are rejected', async (t) => {
  const map = check({
    type: 'array',
    items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } } },
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  })
  t.ok(map([{ name: 'A', value: '1' }, { name: 'B', value: '1' }]))
  t.notOk(map([{ name: 'A', value: '1' }, { name: 'A', value: '2' }]))
  const set = check({ type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' })
  t.ok(set(['a', 'b']))
  t.notOk(set(['a', 'a']))
  const atomic = check({ type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'atomic' })
  t.ok(atomic(['a', 'a']), 'atomic lists may repeat')
})

t.test('nullable and formats', async (t) => {
  t.ok(check({ type: 'string', nullable: true })(null))
  t.notOk(check({ type: 'string' })(null))
  const int32 = check({ type: 'integer', format: 'int32' })
  t.ok(int32(2 ** 31 - 1))
  t.notOk(int32(2 ** 31), 'beyond int32')
  const date = check({ type: 'string', format: 'date-time' })
  t.ok(date('2026-11-26T09:00:00Z'))
  t.notOk(date('26/11/2026'))
})

t.test('an unknown x-kubernetes extension makes the translation throw', async (t) => {
  t.throws(() => structuralToAjv({ type: 'object', 'x-kubernetes-embedded-resource': true }), /unsupported CRD extension/)
})

// --- the real CRDs --------------------------------------------------------------------------

const catalog = shippedManifests()
function shipped (file: string, name: string): Record<string, unknown> {
  const doc = catalog.argo.find((d) => d.file.endsWith(file) && (d.object.metadata as { name: string }).name === name)
  if (doc === undefined) throw new Error(`${file} ${name} not shipped`)
  return structuredClone(doc.object)
}
type Any = any // planted mistakes reach deep into the objects

t.test('AnalysisTemplate CRD: the shipped template passes, each planted mistake is caught', async (t) => {
  const v = crdValidator('AnalysisTemplate')
  const base = shipped('analysis-templates.yaml', 'agent-gate-canary-1')
  t.same(v.validate(base), [], 'the shipped template is valid')

  const cases: Array<[string, (o: Any) => void, RegExp]> = [
    ['misspelt metric field', (o) => { o.spec.metrics[0].consecutiveSucessLimit = 3 }, /unknown field "consecutiveSucessLimit"/],
    ['misspelt web field', (o) => { o.spec.metrics[0].provider.web.jsonbody = {} }, /web: unknown field "jsonbody"/],
    ['count as a fraction', (o) => { o.spec.metrics[0].count = 3.5 }, /count: must be integer/],
    ['count as a boolean', (o) => { o.spec.metrics[0].count = true }, /count: must match a schema in anyOf/],
    ['interval as a number', (o) => { o.spec.metrics[0].interval = 300 }, /interval: must be string/],
    ['web without url', (o) => { delete o.spec.metrics[0].provider.web.url }, /must have required property 'url'/],
    ['header without value', (o) => { delete o.spec.metrics[0].provider.web.headers[0].value }, /must have required property 'value'/],
    ['unknown valueFrom source', (o) => { o.spec.args.push({ name: 'x', valueFrom: { configMapKeyRef: { name: 'a', key: 'b' } } }) }, /valueFrom: unknown field "configMapKeyRef"/],
    ['metric without name', (o) => { delete o.spec.metrics[0].name }, /must have required property 'name'/],
    ['label value not a string', (o) => { o.metadata.labels.tier = 3 }, /metadata.labels.tier: must be string/],
    ['server-set metadata', (o) => { o.metadata.resourceVersion = '1' }, /metadata: unknown field "resourceVersion"/],
    ['name not a DNS subdomain', (o) => { o.metadata.name = 'Agent_Gate' }, /metadata.name: must match pattern/],
    ['no spec', (o) => { delete o.spec }, /must have required property 'spec'/],
  ]
  for (const [what, plant, expected] of cases) {
    const o = structuredClone(base) as Any
    plant(o)
    const errors = v.validate(o)
    t.match(errors.join('\n'), expected, what)
  }

  const o = structuredClone(base) as Any
  o.spec.metrics[0].count = '12'
  o.spec.metrics[0].provider.web.jsonBody.extra = { nested: [1, { deep: true }] }
  t.same(v.validate(o), [], 'count as a string (int-or-string) and free-form jsonBody are schema-valid')
})

t.test('ClusterAnalysisTemplate CRD: the shipped template passes, a planted mistake is caught', async (t) => {
  const v = crdValidator('ClusterAnalysisTemplate')
  const base = shipped('cluster-analysis-template.yaml', 'agent-canary-gate')
  t.same(v.validate(base), [])
  const o = structuredClone(base) as Any
  o.spec.metrics[0].provider.web.timeoutSeconds = '15'
  t.match(v.validate(o).join('\n'), /timeoutSeconds: must be integer/)
})

t.test('Rollout CRD: the shipped example passes, each planted mistake is caught', async (t) => {
  const v = crdValidator('Rollout')
  const base = shipped('examples/rollout.yaml', 'support-agent')
  t.same(v.validate(base), [], 'the shipped Rollout is valid')
  const cases: Array<[string, (o: Any) => void, RegExp]> = [
    ['setWeight as a string', (o) => { o.spec.strategy.canary.steps[1].setWeight = '10' }, /setWeight: must be integer/],
    ['pause duration as a fraction', (o) => { o.spec.strategy.canary.steps[2].pause.duration = 10.5 }, /pause.duration: must match a schema in anyOf/],
    ['misspelt step', (o) => { o.spec.strategy.canary.steps.push({ setweight: 10 }) }, /unknown field "setweight"/],
    ['analysis arg valueFrom typo', (o) => { o.spec.strategy.canary.steps[3].analysis.args[1].valueFrom = { podTemplateHash: 'Latest' } }, /unknown field "podTemplateHash"/],
    ['experiment template without specRef', (o) => { delete o.spec.strategy.canary.steps[0].experiment.templates[0].specRef }, /must have required property 'specRef'/],
    ['downward API typo', (o) => { o.spec.template.spec.containers[0].env[1].valueFrom.fieldRef = { fieldpath: 'x' } }, /must have required property 'fieldPath'/],
    ['duplicate env var (list-map key name)', (o) => { o.spec.template.spec.containers[0].env.push({ name: 'AGENT_NAME', value: 'x' }) }, /env: duplicate entry for key name="AGENT_NAME"/],
    ['container without name', (o) => { delete o.spec.template.spec.containers[0].name }, /must have required property 'name'/],
    ['replicas as a string', (o) => { o.spec.replicas = '10' }, /replicas: must be integer/],
  ]
  for (const [what, plant, expected] of cases) {
    const o = structuredClone(base) as Any
    plant(o)
    t.match(v.validate(o).join('\n'), expected, what)
  }
})
