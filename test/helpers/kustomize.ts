/**
 * Renders the kustomize base in deploy/ the way kustomize does for the features it uses
 * (resources, namespace, configMapGenerator with files and options, images), so the manifests
 * can be checked on a machine without kustomize or kubectl. Where kubectl is installed, the
 * tests compare this rendering with `kubectl kustomize`.
 */
import { readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string, namespace?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
  [key: string]: unknown
}

interface Generator {
  name: string
  files: string[]
  options?: { labels?: Record<string, string>, annotations?: Record<string, string>, disableNameSuffixHash?: boolean }
}

export interface Kustomization {
  apiVersion: string
  kind: string
  namespace?: string
  resources: string[]
  configMapGenerator?: Generator[]
  images?: { name: string, newName?: string, newTag?: string }[]
}

/** Cluster-scoped kinds among the ones the base ships; every other kind gets the namespace. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'ClusterAnalysisTemplate'])

export function readKustomization (dir: string): Kustomization {
  return parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization
}

export function readObjects (file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message ?? 'YAML error'}`)
    return d.toJS() as KubeObject
  }).filter((o) => o !== null)
}

/** `key=path` or `path`: the ConfigMap key and the file it comes from. */
export function generatorFile (entry: string): { key: string, path: string } {
  const eq = entry.indexOf('=')
  return eq === -1 ? { key: basename(entry), path: entry } : { key: entry.slice(0, eq), path: entry.slice(eq + 1) }
}

/**
 * The objects `kubectl apply -k dir` would create. Generated ConfigMaps keep their base name
 * here (kustomize appends a content hash unless disableNameSuffixHash); `hashed` lists
 * the names that kustomize would suffix, so references can be matched either way.
 */
export function render (dir: string): { objects: KubeObject[], hashed: Set<string> } {
  const k = readKustomization(dir)
  const objects: KubeObject[] = k.resources.flatMap((r) => readObjects(join(dir, r)))
  const hashed = new Set<string>()
  for (const g of k.configMapGenerator ?? []) {
    const data: Record<string, string> = {}
    for (const entry of g.files) {
      const { key, path } = generatorFile(entry)
      data[key] = readFileSync(join(dir, path), 'utf8')
    }
    const metadata: KubeObject['metadata'] = { name: g.name }
    if (g.options?.labels !== undefined) metadata.labels = { ...g.options.labels }
    if (g.options?.annotations !== undefined) metadata.annotations = { ...g.options.annotations }
    if (g.options?.disableNameSuffixHash !== true) hashed.add(g.name)
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata, data })
  }
  for (const o of objects) {
    if (k.namespace !== undefined && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace
    for (const c of containersOf(o)) {
      const image = k.images?.find((i) => i.name === c.image)
      if (image !== undefined) c.image = `${image.newName ?? image.name}${image.newTag === undefined ? '' : `:${image.newTag}`}`
    }
  }
  return { objects, hashed }
}

export interface Container {
  name: string
  image: string
  args?: string[]
  ports?: { name?: string, containerPort: number, protocol?: string }[]
  env?: { name: string, value?: string, valueFrom?: { secretKeyRef?: { name: string, key: string, optional?: boolean }, configMapKeyRef?: { name: string, key: string } } }[]
  envFrom?: { configMapRef?: { name: string }, secretRef?: { name: string } }[]
  startupProbe?: Probe
  livenessProbe?: Probe
  readinessProbe?: Probe
  resources?: { requests?: Record<string, string>, limits?: Record<string, string> }
  securityContext?: Record<string, unknown>
  volumeMounts?: { name: string, mountPath: string, readOnly?: boolean }[]
}

export interface Probe { httpGet?: { path: string, port: string | number } }

export interface PodSpec {
  containers: Container[]
  securityContext?: Record<string, unknown>
  volumes?: { name: string, emptyDir?: object, configMap?: { name: string } }[]
}

export function podSpecOf (o: KubeObject): PodSpec | undefined {
  return ((o.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec)
}

export function containersOf (o: KubeObject): Container[] {
  return podSpecOf(o)?.containers ?? []
}
