/**
 * deploy/ as `kubectl kustomize` renders it: the default deployment (deploy/, the base as it is)
 * and every overlay in deploy/overlays/. Each rendering must hold the invariants a working
 * deployment needs: more than one replica means one shared evidence store (and one replica
 * keeps its records on a volume that outlives the pod); the gates ConfigMap the docs name is
 * the one mounted at GATES_FILE; every gate URL in the shipped templates reaches the Service;
 * probes and resources are set; selectors, named ports and routes fit together; the
 * environment is one the gate accepts. The overlay docs/deploy.md shows is rendered as a user
 * would write it, beside a copy of the clone.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import t, { type Test } from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { readConfig } from '../../src/config/env.js'
import { loadGatesFile, parseGates } from '../../src/config/load.js'
import { buildServer } from '../../src/http/server.js'
import { containersOf, kustomize, kustomizeTool, podSpecOf, type KubeObject } from '../helpers/kustomize.js'
import { needTool } from '../helpers/tools.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DEPLOY = join(ROOT, 'deploy')
const OVERLAYS = readdirSync(join(DEPLOY, 'overlays')).map((d) => `deploy/overlays/${d}`)
/** What a user applies: the default deployment and each overlay. */
const VARIANTS = ['deploy', ...OVERLAYS]
const tool = kustomizeTool()
const SHIPPED_POLICY = readFileSync(join(DEPLOY, 'gates/rollout-gates.yaml'), 'utf8')
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
/** kustomize's name suffix: a dash and 10 characters of the content hash. */
const HASHED = (name: string): RegExp => new RegExp(`^${name}-[a-z0-9]{10}$`)

type ConfigMap = KubeObject & { data: Record<string, string> }

/** True when every label of `selector` is on `labels` with the same value. */
function selects (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v)
}

function only (objects: KubeObject[], kind: string, name?: RegExp): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || name.test(o.metadata.name)))
  if (found.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${String(name)}`}, found ${found.length}`)
  return found[0] as KubeObject
}

function kustomization (dir: string): { resources?: string[], patches?: { path?: string }[], configMapGenerator?: { files?: string[], envs?: string[] }[] } {
  return parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as ReturnType<typeof kustomization>
}

t.test('every kustomization lists its files, and every manifest beside it is listed', async (t) => {
  const base = join(DEPLOY, 'base')
  const manifests = readdirSync(base).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
  const resources = kustomization(base).resources ?? []
  t.same(resources.filter((r) => r.endsWith('.yaml')).sort(), manifests, 'deploy/base: resources = the YAML files beside it')
  t.same(kustomization(DEPLOY).resources, ['base'], 'deploy/ is the base as it is')
  t.ok(OVERLAYS.length > 0, `overlays: ${OVERLAYS.join(', ')}`)
  for (const dir of [base, join(DEPLOY, 'gates'), join(DEPLOY, 'grafana'), ...OVERLAYS.map((o) => join(ROOT, o))]) {
    const k = kustomization(dir)
    const files = [
      ...(k.resources ?? []),
      ...(k.patches ?? []).flatMap((p) => p.path === undefined ? [] : [p.path]),
      ...(k.configMapGenerator ?? []).flatMap((g) => [...(g.files ?? []).map((f) => f.split('=').at(-1) as string), ...(g.envs ?? [])]),
    ]
    for (const f of files) t.ok(existsSync(join(dir, f)), `${dir.slice(ROOT.length)}: ${f} exists`)
  }
})

t.test('kubectl kustomize is v5 or newer', async (t) => {
  if (!needTool(t, 'kubectl kustomize (v5 or newer)', tool.ok, `${tool.detail}; .ci/run uses an installed kubectl that has it`)) return
  t.pass(tool.detail)
})

for (const variant of VARIANTS) {
  t.test(`${variant}: the rendered objects`, async (t) => {
    if (!needTool(t, 'kubectl kustomize (v5 or newer)', tool.ok, tool.detail)) return
    const objects = kustomize(join(ROOT, variant))
    checkRendering(t, variant, objects)
    await checkRoutes(t, objects)
  })
}

/** `policy`: the gates policy the rendering must mount (the shipped one unless an overlay replaces it). */
function checkRendering (t: Test, variant: string, objects: KubeObject[], policy = SHIPPED_POLICY): void {
  const deployment = only(objects, 'Deployment')
  const spec = deployment.spec as { replicas: number, selector: { matchLabels: Record<string, string> }, strategy?: { type: string }, template: { metadata: { labels: Record<string, string> } } }
  const pod = podSpecOf(deployment) as NonNullable<ReturnType<typeof podSpecOf>>
  const gate = containersOf(deployment)[0] as ReturnType<typeof containersOf>[number]
  const envMap = only(objects, 'ConfigMap', HASHED('agent-canary-gate-env')) as ConfigMap
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]))
  const secretRef = (name: string) => gate.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef

  t.test('every object: apiVersion, kind, a valid name, the gate\'s namespace, valid labels', async (t) => {
    for (const o of objects) {
      const what = `${o.kind} ${o.metadata?.name}`
      t.match(o.apiVersion, /^([a-z0-9.-]+\/)?v\d+(alpha\d+|beta\d+)?$/, `${what}: apiVersion`)
      t.ok(typeof o.metadata?.name === 'string' && DNS_1123.test(o.metadata.name) && o.metadata.name.length <= 63, `${what}: metadata.name is a DNS-1123 name`)
      if (o.kind !== 'Namespace') t.equal(o.metadata.namespace, 'agent-canary-gate', `${what}: in namespace agent-canary-gate`)
      for (const [k, v] of Object.entries(o.metadata.labels ?? {})) t.ok(LABEL_VALUE.test(v) && v.length <= 63, `${what}: label ${k}=${v}`)
    }
    t.equal(only(objects, 'Namespace').metadata.name, 'agent-canary-gate')
    t.notOk(objects.some((o) => o.kind === 'Secret'), 'no Secret: the team creates it (docs/deploy.md)')
  })

  t.test(`evidence: ${spec.replicas} replica(s) and where their decision records live`, async (t) => {
    t.ok(Number.isInteger(spec.replicas) && spec.replicas >= 1, `replicas: ${spec.replicas}`)
    const evidenceUrl = secretRef('EVIDENCE_URL')
    const shared = evidenceUrl !== undefined && evidenceUrl.optional !== true
    const dataDir = gate.env?.find((e) => e.name === 'DATA_DIR')?.value ?? './data'
    const dataMount = (gate.volumeMounts ?? []).find((m) => m.mountPath === dataDir)
    const dataVolume = dataMount === undefined ? undefined : volumes.get(dataMount.name)
    if (spec.replicas > 1) {
      t.ok(shared, `${spec.replicas} replicas share one evidence store: EVIDENCE_URL from the Secret, required (each replica's own SQLite would answer half the decisions API and keep half a chain)`)
      t.same(evidenceUrl, { name: 'agent-canary-gate', key: 'EVIDENCE_URL' }, 'EVIDENCE_URL comes from the Secret agent-canary-gate')
      t.equal(dataVolume, undefined, 'and no replica keeps a store of its own on a volume')
      const pdb = only(objects, 'PodDisruptionBudget')
      const pdbSpec = pdb.spec as { minAvailable: number, selector: { matchLabels: Record<string, string> } }
      t.ok(selects(pdbSpec.selector.matchLabels, spec.template.metadata.labels), 'a PodDisruptionBudget selects the gate pods')
      t.ok(pdbSpec.minAvailable >= 1 && pdbSpec.minAvailable < spec.replicas, `it keeps ${pdbSpec.minAvailable} answering and leaves a pod to evict`)
      t.equal(spec.strategy?.type, 'RollingUpdate', 'rolling updates: one replica answers while another is replaced')
    } else if (!shared) {
      const claim = dataVolume?.persistentVolumeClaim?.claimName
      t.ok(claim !== undefined, `DATA_DIR (${dataDir}) is on a PersistentVolumeClaim: the records and their chain outlive the pod`)
      const pvc = objects.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === claim)
      t.ok(pvc !== undefined, `the claim ${String(claim)} is part of the deployment`)
      t.match(pvc?.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: /^\d+[MGT]i$/ } } }, 'ReadWriteOnce, with a size')
      t.not(dataMount?.readOnly, true, 'mounted writable')
      t.equal(spec.strategy?.type, 'Recreate', 'Recreate: a rolling update would start a second pod on the same volume and SQLite file')
      t.notOk(objects.some((o) => o.kind === 'PodDisruptionBudget' && (o.spec as { minAvailable?: number }).minAvailable === 1), 'no PodDisruptionBudget that would block every node drain')
    }
    t.notOk([...volumes.values()].some((v) => v.emptyDir !== undefined && (gate.volumeMounts ?? []).some((m) => m.name === v.name && m.mountPath === dataDir)), 'never DATA_DIR on an emptyDir (records gone with the pod)')
  })

  t.test('the gates policy: ConfigMap agent-canary-gate-gates from deploy/gates/rollout-gates.yaml, mounted at GATES_FILE', async (t) => {
    const file = envMap.data.GATES_FILE as string
    const mount = (gate.volumeMounts ?? []).find((m) => dirname(file) === m.mountPath)
    t.ok(mount !== undefined, `a mount holds ${file}`)
    const name = volumes.get(mount?.name ?? '')?.configMap?.name ?? ''
    t.match(name, HASHED('agent-canary-gate-gates'), `the volume is the ConfigMap docs/deploy.md names, with the content hash that rolls the pods on a change (${name})`)
    const gates = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) as ConfigMap | undefined
    const text = gates?.data[basename(file)]
    t.equal(text, policy, `its key ${basename(file)} holds ${policy === SHIPPED_POLICY ? 'deploy/gates/rollout-gates.yaml' : 'the overlay\'s policy file'}`)
    if (policy === SHIPPED_POLICY) t.equal(parseGates(text ?? '', file).hash, (await loadGatesFile(join(ROOT, 'analysis-templates/rollout-gates.yaml'))).hash, 'which means what analysis-templates/rollout-gates.yaml means')
    t.same(gate.envFrom, [{ configMapRef: { name: envMap.metadata.name } }], 'the environment comes from the hashed env ConfigMap, so a changed value rolls the pods too')
  })

  t.test('probes and resources on every container; non-root, read-only root filesystem', async (t) => {
    t.ok(selects(spec.selector.matchLabels, spec.template.metadata.labels), 'spec.selector matches the pod template labels')
    t.equal(pod.containers.length, 1)
    for (const c of pod.containers) {
      const portNames = new Set((c.ports ?? []).map((p) => p.name))
      for (const [kind, probe] of [['startup', c.startupProbe], ['liveness', c.livenessProbe], ['readiness', c.readinessProbe]] as const) {
        t.ok(probe?.httpGet !== undefined, `${c.name}: ${kind} probe is an HTTP GET`)
        t.ok(typeof probe?.httpGet?.port === 'string' && portNames.has(probe.httpGet.port), `${c.name}: ${kind} probe uses the named port '${String(probe?.httpGet?.port)}'`)
      }
      t.equal(c.livenessProbe?.httpGet?.path, '/healthz', 'liveness never depends on Cordum')
      t.equal(c.readinessProbe?.httpGet?.path, '/readyz')
      t.ok(c.resources?.requests?.cpu !== undefined && c.resources?.requests?.memory !== undefined && c.resources?.limits?.memory !== undefined, `${c.name}: cpu/memory requests and a memory limit`)
      t.match(c.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } })
      for (const m of c.volumeMounts ?? []) t.ok(volumes.has(m.name), `mount ${m.mountPath}: volume ${m.name} exists`)
    }
    t.match(gate.image, new RegExp(`^[a-z0-9./-]+:${version.replaceAll('.', '\\.')}$`), `the image tag is the package version ${version}`)
    t.same(gate.args, ['serve'], 'runs `serve` (the image entry is node dist/cli.js)')
    t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: Number, fsGroup: Number, seccompProfile: { type: 'RuntimeDefault' } })
    t.not(pod.securityContext?.runAsUser, 0, 'never uid 0')
    t.ok((gate.volumeMounts ?? []).some((m) => m.mountPath === '/tmp' && volumes.get(m.name)?.emptyDir !== undefined), '/tmp is a writable emptyDir')
  })

  t.test('environment: one the gate accepts, each variable documented; keys only from the Secret', async (t) => {
    const env: Record<string, string> = { ...envMap.data, CORDUM_API_KEY: 'from-the-secret' }
    for (const e of gate.env ?? []) if (e.value !== undefined) env[e.name] = e.value
    if (secretRef('EVIDENCE_URL') !== undefined) env.EVIDENCE_URL = 'postgres://gate:secret@postgres.example:5432/gate'
    const config = readConfig(env)
    t.equal(config.cordum?.url, envMap.data.CORDUM_URL, 'CORDUM_URL is set: not demo mode')
    t.equal(config.host, '0.0.0.0', 'listens beyond loopback, for the probes')
    t.equal(String(config.port), String((gate.ports ?? []).find((p) => p.name === 'http')?.containerPort), 'PORT is the container port')
    const settingsDoc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8')
    for (const key of Object.keys(envMap.data)) t.ok(new RegExp(`\\| \`${key}\` \\|`).test(settingsDoc), `${key} is in docs/configuration.md's environment table`)
    t.same(secretRef('CORDUM_API_KEY'), { name: 'agent-canary-gate', key: 'CORDUM_API_KEY' }, 'CORDUM_API_KEY from the Secret, required: the pod waits for it')
    t.same(secretRef('GATE_API_KEYS'), { name: 'agent-canary-gate', key: 'GATE_API_KEYS', optional: true })
    t.notOk(Object.keys(envMap.data).some((k) => /KEY|PASSWORD|TOKEN|EVIDENCE_URL/.test(k)), 'no secret in the ConfigMap')
  })

  t.test('Service, ServiceMonitor and the gate URLs of every shipped template', async (t) => {
    const service = only(objects, 'Service')
    const svc = service.spec as { selector: Record<string, string>, ports: { name: string, port: number, targetPort: string | number }[] }
    const portNames = new Set((gate.ports ?? []).map((p) => p.name))
    t.ok(selects(svc.selector, spec.template.metadata.labels), 'the Service selects the gate pods')
    for (const p of svc.ports) t.ok(typeof p.targetPort === 'string' && portNames.has(p.targetPort), `Service port ${p.name} targets the named container port '${p.targetPort}'`)
    const sm = only(objects, 'ServiceMonitor')
    const smSpec = sm.spec as { selector: { matchLabels: Record<string, string> }, endpoints: { port: string, path: string }[] }
    t.ok(selects(smSpec.selector.matchLabels, service.metadata.labels), 'the ServiceMonitor selects the Service')
    for (const e of smSpec.endpoints) t.ok(svc.ports.some((p) => p.name === e.port), `ServiceMonitor endpoint port '${e.port}' is a Service port name`)

    const expected = `http://${service.metadata.name}.${String(service.metadata.namespace)}.svc.cluster.local:${String(svc.ports[0]?.port)}`
    const addresses: string[] = []
    for (const file of ['analysis-templates/analysis-templates.yaml', 'analysis-templates/cluster-analysis-template.yaml', 'plugin-manifests/analysis-template.yaml']) {
      const text = readFileSync(join(ROOT, file), 'utf8')
      // Web templates default their gate-url arg; the plugin template names its address.
      for (const m of text.matchAll(/- name: gate-url\n\s+value: (\S+)|address: (\S+)/g)) addresses.push(`${file}: ${m[1] ?? m[2]}`)
    }
    t.ok(addresses.length >= 6, `${addresses.length} gate addresses in the templates`)
    for (const a of addresses) t.equal(a.split(': ')[1], expected, `${a} is ${variant}'s Service`)
  })

  t.test('the dashboard ConfigMap carries the dashboard files for the Grafana sidecar', async (t) => {
    const cm = only(objects, 'ConfigMap', /^agent-canary-gate-dashboard$/) as ConfigMap
    t.equal(cm.metadata.labels?.grafana_dashboard, '1', 'labelled grafana_dashboard: "1", a fixed name (no stale copy with the same uid)')
    const files = readdirSync(join(DEPLOY, 'grafana')).filter((f) => f.endsWith('.json')).sort()
    t.same(Object.keys(cm.data).sort(), files, 'every dashboard of deploy/grafana')
    for (const f of files) t.equal(cm.data[f], readFileSync(join(DEPLOY, 'grafana', f), 'utf8'), `${f}: the very dashboard file`)
    t.ok(Buffer.byteLength(JSON.stringify(cm)) < 262_144, 'small enough for kubectl apply\'s last-applied annotation')
  })

  t.test('Argo objects, if any, validate against the Argo Rollouts CRD schemas', async (t) => {
    const argo = objects.filter((o) => o.apiVersion.startsWith('argoproj.io/'))
    t.comment(`${argo.length} Argo object(s) (the AnalysisTemplates live in analysis-templates/)`)
    if (argo.length === 0) return
    const ajv = new Ajv({ strict: false, allErrors: true })
    const dir = join(ROOT, '../shared/argo-rollouts-crds')
    const crds = new Map<string, object>()
    for (const f of readdirSync(dir)) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
        const crd = doc.toJS() as { spec: { names: { kind: string }, versions: { name: string, schema: { openAPIV3Schema: object } }[] } }
        for (const v of crd.spec.versions) crds.set(`argoproj.io/${v.name}/${crd.spec.names.kind}`, v.schema.openAPIV3Schema)
      }
    }
    for (const o of argo) {
      const validate = ajv.compile(crds.get(`${o.apiVersion}/${o.kind}`) ?? {})
      t.ok(validate(o), `${o.kind} ${o.metadata.name} validates${validate.errors === null ? '' : `: ${ajv.errorsText(validate.errors)}`}`)
    }
  })
}

/** Probe and scrape paths are routes of the gate. */
async function checkRoutes (t: Test, objects: KubeObject[]): Promise<void> {
  const app = await buildServer(readConfig({ LOG_LEVEL: 'silent', EVIDENCE_URL: 'none' }), { underPressure: false })
  t.teardown(async () => await app.app.close())
  const gate = containersOf(only(objects, 'Deployment'))[0]
  for (const probe of [gate?.startupProbe, gate?.livenessProbe, gate?.readinessProbe]) {
    t.equal((await app.app.inject({ url: probe?.httpGet?.path ?? '' })).statusCode, 200, `probe path ${String(probe?.httpGet?.path)} is a route of the gate`)
  }
  for (const e of (only(objects, 'ServiceMonitor').spec as { endpoints: { path: string }[] }).endpoints) {
    const res = await app.app.inject({ url: e.path })
    t.equal(res.statusCode, 200, `scrape path ${e.path} is a route`)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'in Prometheus text format')
  }
}

t.test('docs/deploy.md: its overlay, written beside a copy of the clone, renders and changes what it says', async (t) => {
  if (!needTool(t, 'kubectl kustomize (v5 or newer)', tool.ok, tool.detail)) return
  const doc = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8')
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string)
  const overlay = blocks.find((b) => b.startsWith('# my-gate/kustomization.yaml'))
  t.ok(overlay !== undefined, 'docs/deploy.md shows my-gate/kustomization.yaml')
  const k = parse(overlay ?? '') as { resources: string[], images: { newName: string, newTag: string }[], configMapGenerator: { name: string, behavior: string, literals?: string[], files?: string[] }[] }
  const policy = k.configMapGenerator.find((g) => g.name === 'agent-canary-gate-gates')
  const env = k.configMapGenerator.find((g) => g.name === 'agent-canary-gate-env')
  t.equal(policy?.behavior, 'replace', 'it replaces the gates ConfigMap the docs name')
  const [key, file] = (policy?.files?.[0] ?? '').split('=') as [string, string]

  const tmp = mkdtempSync(join(tmpdir(), 'agent-canary-overlay-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  cpSync(DEPLOY, join(tmp, 'agent-canary-gate/deploy'), { recursive: true })
  mkdirSync(join(tmp, 'my-gate'))
  writeFileSync(join(tmp, 'my-gate/kustomization.yaml'), overlay ?? '')
  // The user's own policy: the shipped one with a stricter pass score.
  const mine = SHIPPED_POLICY.replace('pass: 95', 'pass: 97')
  t.not(mine, SHIPPED_POLICY, 'a changed policy')
  writeFileSync(join(tmp, 'my-gate', file), mine)
  const objects = kustomize(join(tmp, 'my-gate'))

  const deployment = only(objects, 'Deployment')
  const gate = containersOf(deployment)[0]
  const gatesVolume = podSpecOf(deployment)?.volumes?.find((v) => v.configMap?.name.startsWith('agent-canary-gate-gates-') === true)
  const mounted = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === gatesVolume?.configMap?.name) as ConfigMap | undefined
  t.equal(mounted?.data[key], mine, `the Deployment mounts the user's ${file} as ${key}`)
  t.equal(parseGates(mounted?.data[key] ?? '', key).policy.score.pass, 97, 'which the gate reads as the stricter policy')
  const envMap = only(objects, 'ConfigMap', HASHED('agent-canary-gate-env')) as ConfigMap
  for (const literal of env?.literals ?? []) {
    const [name, value] = literal.split('=') as [string, string]
    t.equal(envMap.data[name], value, `${name} is the overlay's`)
  }
  t.equal(envMap.data.GATES_FILE, '/etc/agent-canary-gate/rollout-gates.yaml', 'the rest of the environment stays')
  t.equal(gate?.image, `${k.images[0]?.newName}:${k.images[0]?.newTag}`, 'the image is the overlay\'s')
  checkRendering(t, 'docs/deploy.md\'s overlay', objects, mine)
})

t.test('no doc applies a gates policy with kubectl -f: the mounted one comes from deploy/gates/ through kustomize', async (t) => {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), ...readdirSync(join(ROOT, 'analysis-templates')).filter((f) => f.endsWith('.yaml')).map((f) => `analysis-templates/${f}`)]
  for (const f of files) {
    const lines = readFileSync(join(ROOT, f), 'utf8').split('\n')
    lines.forEach((line, i) => {
      if (/kubectl[^\n]*apply[^\n]*-f[^\n]*rollout-gates\.yaml/.test(line)) t.fail(`${f}:${i + 1}: ${line.trim()}`)
    })
  }
  const deployDoc = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8')
  t.match(deployDoc, /`deploy\/gates\/rollout-gates\.yaml`/, 'docs/deploy.md names the file the policy comes from')
  t.match(deployDoc, /`agent-canary-gate-gates`/, 'and the ConfigMap')
})
