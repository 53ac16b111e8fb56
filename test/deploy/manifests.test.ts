/**
 * The kustomize base in deploy/: every object carries what Kubernetes requires, and the
 * objects fit together (selectors match labels, ports are referenced by the names they have,
 * probe and scrape paths are routes of the gate, the environment is one the gate accepts).
 * Argo objects, if any, validate against Argo Rollouts' CRD schemas.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { readConfig } from '../../src/config/env.js'
import { loadGatesFile, parseGates } from '../../src/config/load.js'
import { buildServer } from '../../src/http/server.js'
import { containersOf, generatorFile, podSpecOf, readKustomization, readObjects, render, type KubeObject } from '../helpers/kustomize.js'
import { hasCommand } from '../helpers/tools.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DEPLOY = join(ROOT, 'deploy')
const { objects, hashed } = render(DEPLOY)

function only (kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name))
  if (found.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`} in deploy/, found ${found.length}`)
  return found[0] as KubeObject
}

/** True when every label of `selector` is on `labels` with the same value. */
function selects (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v)
}

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

const deployment = only('Deployment')
const pod = podSpecOf(deployment) as NonNullable<ReturnType<typeof podSpecOf>>
const podLabels = (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels
const gate = containersOf(deployment)[0] as ReturnType<typeof containersOf>[number]
const service = only('Service')
const envMap = only('ConfigMap', 'agent-canary-gate-env') as KubeObject & { data: Record<string, string> }

t.test('kustomization: every listed file exists, and every manifest in deploy/ is listed', async (t) => {
  const k = readKustomization(DEPLOY)
  t.equal(k.apiVersion, 'kustomize.config.k8s.io/v1beta1')
  t.equal(k.kind, 'Kustomization')
  const manifests = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
  t.same([...k.resources].sort(), manifests, 'resources = the YAML files in deploy/ (none forgotten, none missing)')
  for (const g of k.configMapGenerator ?? []) {
    for (const entry of g.files) t.doesNotThrow(() => readFileSync(join(DEPLOY, generatorFile(entry).path)), `${g.name}: ${entry} exists`)
  }
})

t.test('every object has apiVersion, kind, a valid metadata.name and the base namespace', async (t) => {
  t.ok(objects.length >= 9, `${objects.length} objects`)
  const kinds = objects.map((o) => o.kind).sort()
  t.same(kinds, ['ConfigMap', 'ConfigMap', 'ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'ServiceMonitor'])
  for (const o of objects) {
    const what = `${o.kind} ${o.metadata?.name}`
    t.match(o.apiVersion, /^([a-z0-9.-]+\/)?v\d+(alpha\d+|beta\d+)?$/, `${what}: apiVersion`)
    t.ok(typeof o.metadata?.name === 'string' && DNS_1123.test(o.metadata.name) && o.metadata.name.length <= 63, `${what}: metadata.name is a DNS-1123 name`)
    if (o.kind !== 'Namespace') t.equal(o.metadata.namespace, 'agent-canary-gate', `${what}: namespaced`)
    for (const [k, v] of Object.entries(o.metadata.labels ?? {})) t.ok(LABEL_VALUE.test(v) && v.length <= 63, `${what}: label ${k}=${v} is a valid label value`)
  }
  t.equal(only('Namespace').metadata.name, 'agent-canary-gate')
})

t.test('Deployment: two replicas, selector matching its pods, resources, non-root, read-only root filesystem', async (t) => {
  const spec = deployment.spec as { replicas: number, selector: { matchLabels: Record<string, string> } }
  t.equal(deployment.apiVersion, 'apps/v1')
  t.equal(spec.replicas, 2)
  t.ok(selects(spec.selector.matchLabels, podLabels), 'spec.selector matches the pod template labels')
  t.equal(pod.containers.length, 1)
  t.match(gate.image, /^[a-z0-9./-]+:\d+\.\d+\.\d+$/, 'image with a version tag')
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
  t.ok(gate.image.endsWith(`:${version}`), `the image tag is the package version ${version}`)
  t.same(gate.args, ['serve'], 'runs `serve` (the image entry is node dist/cli.js)')
  t.ok(gate.resources?.requests?.cpu !== undefined && gate.resources?.requests?.memory !== undefined && gate.resources?.limits?.memory !== undefined, 'cpu/memory requests and a memory limit')
  t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: Number, seccompProfile: { type: 'RuntimeDefault' } })
  t.not(pod.securityContext?.runAsUser, 0, 'never uid 0')
  t.match(gate.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } })

  // Read-only root: the paths a process writes to are emptyDirs; every mount has its volume.
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]))
  for (const m of gate.volumeMounts ?? []) t.ok(volumes.has(m.name), `mount ${m.mountPath}: volume ${m.name} exists`)
  const writable = (path: string): boolean => (gate.volumeMounts ?? []).some((m) => m.mountPath === path && m.readOnly !== true && volumes.get(m.name)?.emptyDir !== undefined)
  t.ok(writable('/tmp'), '/tmp is a writable emptyDir')
  const dataDir = gate.env?.find((e) => e.name === 'DATA_DIR')?.value
  t.ok(dataDir !== undefined && writable(dataDir), `DATA_DIR (${dataDir}) is a writable emptyDir`)
})

t.test('environment: one the gate accepts, each variable documented; the Cordum key from the Secret', async (t) => {
  const env: Record<string, string> = { ...envMap.data, CORDUM_API_KEY: 'from-the-secret' }
  for (const e of gate.env ?? []) if (e.value !== undefined) env[e.name] = e.value
  const config = readConfig(env)
  t.equal(config.cordum?.url, envMap.data.CORDUM_URL, 'CORDUM_URL is set: not demo mode')
  t.equal(config.port, 8080)
  t.equal(config.host, '0.0.0.0', 'listens beyond loopback, for the probes')
  t.equal(String(config.port), String((gate.ports ?? []).find((p) => p.name === 'http')?.containerPort), 'PORT is the container port')

  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  for (const key of Object.keys(envMap.data)) t.ok(new RegExp(`\\| \`${key}\` \\|`).test(readme), `${key} is in the README's environment table`)

  t.same(gate.envFrom, [{ configMapRef: { name: 'agent-canary-gate-env' } }])
  const secretEnv = (name: string) => gate.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef
  t.same(secretEnv('CORDUM_API_KEY'), { name: 'agent-canary-gate', key: 'CORDUM_API_KEY' }, 'required: the pod waits for the team\'s Secret')
  t.same(secretEnv('GATE_API_KEYS'), { name: 'agent-canary-gate', key: 'GATE_API_KEYS', optional: true })
  t.notOk(objects.some((o) => o.kind === 'Secret'), 'the base ships no Secret: the team creates it')
  t.notOk(Object.keys(envMap.data).some((k) => /KEY/.test(k)), 'no key in the ConfigMap')
})

t.test('GATES_FILE is the gates ConfigMap, mounted; it is the default policy', async (t) => {
  const file = envMap.data.GATES_FILE as string
  const mount = (gate.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`))
  t.ok(mount !== undefined, `a mount holds ${file}`)
  const volume = (pod.volumes ?? []).find((v) => v.name === mount?.name)
  const gates = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume?.configMap?.name) as (KubeObject & { data: Record<string, string> }) | undefined
  t.ok(gates !== undefined, `the volume's ConfigMap (${volume?.configMap?.name}) is in the base`)
  t.ok(hashed.has(gates?.metadata.name ?? ''), 'its name carries a content hash, so editing the policy rolls the pods')
  const text = gates?.data[file.slice((mount?.mountPath.length ?? 0) + 1)]
  t.ok(text !== undefined, 'the key is the file name GATES_FILE reads')
  const deployed = parseGates(text as string, file)
  const shipped = await loadGatesFile(join(ROOT, 'analysis-templates/rollout-gates.yaml'))
  t.equal(deployed.hash, shipped.hash, 'the deployed policy means what analysis-templates/rollout-gates.yaml means')
})

t.test('probes, Service, ServiceMonitor and PodDisruptionBudget fit together', async (t) => {
  const app = await buildServer(readConfig({ LOG_LEVEL: 'silent' }), { underPressure: false })
  t.teardown(async () => await app.app.close())
  const portNames = new Set((gate.ports ?? []).map((p) => p.name))
  for (const [kind, probe] of [['startup', gate.startupProbe], ['liveness', gate.livenessProbe], ['readiness', gate.readinessProbe]] as const) {
    const get = probe?.httpGet
    t.ok(get !== undefined, `${kind} probe is an HTTP GET`)
    t.ok(typeof get?.port === 'string' && portNames.has(get.port), `${kind} probe uses the named container port '${get?.port}'`)
    t.equal((await app.app.inject({ url: get?.path ?? '' })).statusCode, 200, `${kind} probe path ${get?.path} is a route of the gate`)
  }
  t.equal(gate.livenessProbe?.httpGet?.path, '/healthz')
  t.equal(gate.readinessProbe?.httpGet?.path, '/readyz')

  const svc = service.spec as { selector: Record<string, string>, ports: { name: string, port: number, targetPort: string | number }[] }
  t.ok(selects(svc.selector, podLabels), 'the Service selects the gate pods')
  for (const p of svc.ports) {
    t.ok(typeof p.name === 'string' && p.name !== '', `Service port ${p.port} is named`)
    t.ok(typeof p.targetPort === 'string' && portNames.has(p.targetPort), `Service port ${p.name} targets the named container port '${p.targetPort}'`)
  }

  const sm = only('ServiceMonitor')
  t.equal(sm.apiVersion, 'monitoring.coreos.com/v1')
  const smSpec = sm.spec as { selector: { matchLabels: Record<string, string> }, endpoints: { port: string, path: string, interval?: string }[] }
  t.ok(selects(smSpec.selector.matchLabels, service.metadata.labels), 'the ServiceMonitor selects the Service')
  t.ok(smSpec.endpoints.length > 0)
  for (const e of smSpec.endpoints) {
    t.ok(svc.ports.some((p) => p.name === e.port), `ServiceMonitor endpoint port '${e.port}' is a Service port name`)
    const res = await app.app.inject({ url: e.path })
    t.equal(res.statusCode, 200, `scrape path ${e.path} is a route`)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'in Prometheus text format')
  }

  const pdb = only('PodDisruptionBudget')
  t.equal(pdb.apiVersion, 'policy/v1')
  const pdbSpec = pdb.spec as { minAvailable: number, selector: { matchLabels: Record<string, string> } }
  t.ok(selects(pdbSpec.selector.matchLabels, podLabels), 'the PodDisruptionBudget selects the gate pods')
  t.ok(pdbSpec.minAvailable < (deployment.spec as { replicas: number }).replicas, 'and leaves a pod to evict')

  const rule = only('PrometheusRule')
  t.equal(rule.apiVersion, 'monitoring.coreos.com/v1')
  const groups = (rule.spec as { groups: { name: string, rules: { record?: string, alert?: string, expr: string }[] }[] }).groups
  t.ok(groups.length > 0 && groups.every((g) => g.name !== '' && g.rules.length > 0 && g.rules.every((r) => (r.record ?? r.alert) !== undefined && r.expr !== '')), 'rule groups with named rules and expressions')
})

t.test('the dashboard ConfigMap carries the dashboard file for the Grafana sidecar', async (t) => {
  const cm = only('ConfigMap', 'agent-canary-gate-dashboard') as KubeObject & { data: Record<string, string> }
  t.equal(cm.metadata.labels?.grafana_dashboard, '1', 'labelled grafana_dashboard: "1"')
  t.notOk(hashed.has(cm.metadata.name), 'a fixed name, so no stale copy with the same uid is left behind')
  t.same(Object.keys(cm.data), ['agent-canary-gate.json'])
  t.equal(cm.data['agent-canary-gate.json'], readFileSync(join(DEPLOY, 'grafana/agent-canary-gate.json'), 'utf8'), 'the very dashboard file')
  t.ok(Buffer.byteLength(JSON.stringify(cm)) < 262_144, 'small enough for kubectl apply\'s last-applied annotation')
})

t.test('Argo objects validate against the Argo Rollouts CRD schemas', async (t) => {
  const crds = new Map<string, object>()
  const dir = join(ROOT, '../shared/argo-rollouts-crds')
  for (const f of readdirSync(dir)) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const crd = doc.toJS() as { spec: { names: { kind: string }, versions: { name: string, schema: { openAPIV3Schema: object } }[] } }
      for (const v of crd.spec.versions) crds.set(`argoproj.io/${v.name}/${crd.spec.names.kind}`, v.schema.openAPIV3Schema)
    }
  }
  t.ok(crds.has('argoproj.io/v1alpha1/Rollout') && crds.has('argoproj.io/v1alpha1/AnalysisTemplate'), 'the CRDs are readable')
  const ajv = new Ajv({ strict: false, allErrors: true })
  const argo = objects.filter((o) => o.apiVersion.startsWith('argoproj.io/'))
  t.comment(`${argo.length} Argo object(s) in deploy/ (the AnalysisTemplates live in analysis-templates/)`)
  for (const o of argo) {
    const schema = crds.get(`${o.apiVersion}/${o.kind}`)
    t.ok(schema !== undefined, `${o.kind} ${o.metadata.name}: a CRD for ${o.apiVersion}`)
    if (schema === undefined) continue
    const validate = ajv.compile(schema)
    t.ok(validate(o), `${o.kind} ${o.metadata.name} validates${validate.errors === null ? '' : `: ${ajv.errorsText(validate.errors)}`}`)
  }
})

t.test('kubectl kustomize renders the objects this test checks', async (t) => {
  if (!hasCommand('kubectl', ['version', '--client'])) {
    t.comment('SKIPPED: kubectl is not installed; the rendering above stands in for it')
    return
  }
  const out = spawnSync('kubectl', ['kustomize', DEPLOY], { encoding: 'utf8', timeout: 60_000 })
  t.equal(out.status, 0, `kubectl kustomize deploy/ succeeds${out.status === 0 ? '' : `: ${out.stderr}`}`)
  const rendered = parseAllDocuments(out.stdout).map((d) => d.toJS() as KubeObject)
  const baseName = (o: KubeObject): string => hashed.has(o.metadata.name.replace(/-[a-z0-9]{10}$/, '')) ? o.metadata.name.replace(/-[a-z0-9]{10}$/, '') : o.metadata.name
  const key = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${baseName(o)}`
  t.same(rendered.map(key).sort(), objects.map(key).sort(), 'the same objects, names and namespaces')
  for (const o of rendered) {
    const mine = objects.find((m) => key(m) === key(o)) as KubeObject
    if (o.kind === 'ConfigMap') t.same(o.data, mine.data, `${key(o)}: the same data`)
    t.same(o.metadata.labels, mine.metadata.labels, `${key(o)}: the same labels`)
  }
  const deployed = rendered.find((o) => o.kind === 'Deployment') as KubeObject
  const gatesVolume = podSpecOf(deployed)?.volumes?.find((v) => v.configMap !== undefined)?.configMap?.name
  t.ok(rendered.some((o) => o.kind === 'ConfigMap' && o.metadata.name === gatesVolume), `the Deployment refers to the hashed gates ConfigMap (${gatesVolume})`)
  t.equal(containersOf(deployed)[0]?.image, gate.image, 'the image set by images:')
})

// Every file the base lists parses, including the ones read above through render().
t.test('every manifest parses as YAML objects', async (t) => {
  for (const r of readKustomization(DEPLOY).resources) t.ok(readObjects(join(DEPLOY, r)).length > 0, r)
})

t.test('every gate address the Argo manifests ship reaches the Service deploy/ creates', async (t) => {
  const service = only('Service')
  const port = (service.spec as { ports: { port: number }[] }).ports[0]?.port
  const expected = `http://${service.metadata.name}.${String(service.metadata.namespace)}.svc.cluster.local:${String(port)}`
  const addresses: string[] = []
  for (const file of ['analysis-templates/analysis-templates.yaml', 'analysis-templates/cluster-analysis-template.yaml', 'plugin-manifests/analysis-template.yaml']) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    // Web templates default their gate-url arg; the plugin template names its address.
    for (const m of text.matchAll(/- name: gate-url\n\s+value: (\S+)|address: (\S+)/g)) addresses.push(`${file}: ${m[1] ?? m[2]}`)
  }
  t.ok(addresses.length >= 6, `${addresses.length} gate addresses found`)
  for (const a of addresses) t.equal(a.split(': ')[1], expected, a)
})
