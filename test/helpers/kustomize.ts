/**
 * deploy/ as Kubernetes receives it: `kubectl kustomize` renders the default deployment and
 * each overlay, and the tests read the objects it prints. The manifests need kustomize v5 or
 * newer (kubectl 1.27 or newer, which prints its kustomize version); `kustomizeTool` says
 * whether this machine's kubectl has it.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string, namespace?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
  [key: string]: unknown
}

/** The oldest kustomize the manifests are written for (per-generator options, `patches`, deletes in patches). */
export const KUSTOMIZE_MIN_MAJOR = 5

/** Whether `kubectl kustomize` is here and new enough, and what was found. */
export function kustomizeTool (): { ok: boolean, detail: string } {
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 20_000 })
  if (r.error !== undefined || r.status !== 0) return { ok: false, detail: 'kubectl is not installed' }
  let v: { clientVersion?: { gitVersion?: string }, kustomizeVersion?: string }
  try {
    v = JSON.parse(r.stdout) as typeof v
  } catch {
    return { ok: false, detail: `kubectl version --client -o json printed no JSON: ${r.stdout.slice(0, 200)}` }
  }
  const kubectl = v.clientVersion?.gitVersion ?? 'unknown'
  // kubectl prints kustomizeVersion since 1.24; an older one bundles kustomize v2 to v4.
  const major = Number(/^v(\d+)\./.exec(v.kustomizeVersion ?? '')?.[1] ?? 0)
  if (major < KUSTOMIZE_MIN_MAJOR) {
    return { ok: false, detail: `kubectl ${kubectl} bundles kustomize ${v.kustomizeVersion ?? 'older than v4.5'}; deploy/ needs kustomize v${KUSTOMIZE_MIN_MAJOR} or newer (kubectl 1.27 or newer)` }
  }
  return { ok: true, detail: `kubectl ${kubectl}, kustomize ${String(v.kustomizeVersion)}` }
}

/** The objects `kubectl apply -k dir` would create, as `kubectl kustomize dir` prints them. */
export function kustomize (dir: string): KubeObject[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr || r.error?.message || `exit ${String(r.status)}`}`)
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as KubeObject).filter((o) => o !== null)
}

export function readObjects (file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message ?? 'YAML error'}`)
    return d.toJS() as KubeObject
  }).filter((o) => o !== null)
}

export interface EnvVar {
  name: string
  value?: string
  valueFrom?: { secretKeyRef?: { name: string, key: string, optional?: boolean }, configMapKeyRef?: { name: string, key: string } }
}

export interface Container {
  name: string
  image: string
  args?: string[]
  ports?: { name?: string, containerPort: number, protocol?: string }[]
  env?: EnvVar[]
  envFrom?: { configMapRef?: { name: string }, secretRef?: { name: string } }[]
  startupProbe?: Probe
  livenessProbe?: Probe
  readinessProbe?: Probe
  resources?: { requests?: Record<string, string>, limits?: Record<string, string> }
  securityContext?: Record<string, unknown>
  volumeMounts?: { name: string, mountPath: string, readOnly?: boolean }[]
}

export interface Probe { httpGet?: { path: string, port: string | number } }

export interface Volume {
  name: string
  emptyDir?: object
  configMap?: { name: string }
  persistentVolumeClaim?: { claimName: string }
}

export interface PodSpec {
  containers: Container[]
  securityContext?: Record<string, unknown>
  volumes?: Volume[]
}

export function podSpecOf (o: KubeObject): PodSpec | undefined {
  return ((o.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec)
}

export function containersOf (o: KubeObject): Container[] {
  return podSpecOf(o)?.containers ?? []
}
