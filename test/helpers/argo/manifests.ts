/**
 * Finds the Kubernetes manifests the project ships and sorts their documents into Argo
 * Rollouts objects (validated against the CRDs), other Kubernetes objects (not ours to
 * validate here), gates policies (`rollout_gates:`, read by the gate, never by Kubernetes) and
 * other non-Kubernetes files. A half-formed object (an Argo apiVersion without a kind, an Argo
 * kind under another apiVersion, an argoproj.io kind without a CRD) is an error, so a typo
 * cannot slip past the schema tests by being skipped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseAllDocuments } from 'yaml'

/** Folders whose manifests are shipped (deploy/ and plugin-manifests/ may not exist yet). */
export const MANIFEST_ROOTS = ['analysis-templates', 'deploy', 'plugin-manifests']

export const ARGO_KINDS = ['AnalysisTemplate', 'ClusterAnalysisTemplate', 'Rollout', 'AnalysisRun'] as const
export type ArgoKind = typeof ARGO_KINDS[number]

export interface ManifestDocument {
  file: string
  /** 0-based index of the document in its file. */
  index: number
  /** 1-based line of the document's first line. */
  line: number
  object: Record<string, unknown>
}

export interface ManifestCatalog {
  argo: ManifestDocument[]
  otherKubernetes: ManifestDocument[]
  gatesPolicies: ManifestDocument[]
  /** Documents that are not Kubernetes objects at all (no kind), listed, not validated. */
  notKubernetes: ManifestDocument[]
  errors: string[]
}

export function findManifestFiles (projectRoot: string, roots: string[] = MANIFEST_ROOTS): string[] {
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (/\.(ya?ml|json)$/.test(name)) files.push(relative(projectRoot, path))
    }
  }
  for (const root of roots) {
    const dir = join(projectRoot, root)
    if (existsSync(dir)) walk(dir)
  }
  return files
}

function lineOf (text: string, offset: number): number {
  let line = 1
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++
  return line
}

/**
 * Parses YAML the way kubectl does (sigs.k8s.io/yaml sits on go-yaml, YAML 1.1: `on`, `yes`
 * and `no` are booleans), refusing duplicate keys as strict field validation does.
 */
export function parseManifest (text: string, file: string): { docs: ManifestDocument[], errors: string[] } {
  const docs: ManifestDocument[] = []
  const errors: string[] = []
  parseAllDocuments(text, { version: '1.1', uniqueKeys: true }).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) errors.push(`${file}: document ${index}: ${e.message}`)
      return
    }
    const object = doc.toJS({ maxAliasCount: 100 }) as unknown
    if (object === null || object === undefined) return // an empty document (comments only)
    if (typeof object !== 'object' || Array.isArray(object)) {
      errors.push(`${file}: document ${index} is not a mapping`)
      return
    }
    const start = doc.contents?.range?.[0] ?? 0
    docs.push({ file, index, line: lineOf(text, start), object: object as Record<string, unknown> })
  })
  return { docs, errors }
}

export function loadManifests (projectRoot: string, roots: string[] = MANIFEST_ROOTS): ManifestCatalog {
  const catalog: ManifestCatalog = { argo: [], otherKubernetes: [], gatesPolicies: [], notKubernetes: [], errors: [] }
  for (const file of findManifestFiles(projectRoot, roots)) {
    const text = readFileSync(join(projectRoot, file), 'utf8')
    const { docs, errors } = file.endsWith('.json')
      ? parseJsonManifest(text, file)
      : parseManifest(text, file)
    catalog.errors.push(...errors)
    for (const doc of docs) {
      const { apiVersion, kind } = doc.object
      const where = `${doc.file}:${doc.line}`
      const argoApi = typeof apiVersion === 'string' && apiVersion.startsWith('argoproj.io/')
      if (typeof kind !== 'string' && !argoApi) {
        // Not a Kubernetes object: the gates policy, or a tool's own config (Grafana
        // provisioning files have `apiVersion: 1` and no kind).
        if ('rollout_gates' in doc.object) catalog.gatesPolicies.push(doc)
        else catalog.notKubernetes.push(doc)
      } else if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
        catalog.errors.push(`${where}: a Kubernetes object needs both apiVersion and kind as strings`)
      } else if (argoApi) {
        if ((ARGO_KINDS as readonly string[]).includes(kind)) catalog.argo.push(doc)
        else catalog.errors.push(`${where}: ${kind} (${apiVersion}) has no CRD schema to validate against`)
      } else if ((ARGO_KINDS as readonly string[]).includes(kind)) {
        catalog.errors.push(`${where}: ${kind} with apiVersion ${apiVersion}; Argo Rollouts objects are argoproj.io/v1alpha1`)
      } else {
        catalog.otherKubernetes.push(doc)
      }
    }
  }
  return catalog
}

function parseJsonManifest (text: string, file: string): { docs: ManifestDocument[], errors: string[] } {
  let object: unknown
  try {
    object = JSON.parse(text)
  } catch (err) {
    return { docs: [], errors: [`${file}: ${(err as Error).message}`] }
  }
  // Dashboards and other JSON files that are not Kubernetes objects are not manifests.
  if (typeof object !== 'object' || object === null || !('kind' in object)) return { docs: [], errors: [] }
  return { docs: [{ file, index: 0, line: 1, object: object as Record<string, unknown> }], errors: [] }
}

export function describe (doc: ManifestDocument): string {
  const meta = doc.object.metadata as { name?: string } | undefined
  return `${String(doc.object.kind)} ${meta?.name ?? '(unnamed)'} (${doc.file}:${doc.line})`
}
