/**
 * Everything a shipped Argo object must satisfy: its CRD schema, label syntax, and the rules
 * Argo applies at run time (rules.ts), with Rollouts checked against the templates shipped
 * beside them.
 */
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { loadCrdValidator, newAjv, type CrdValidator } from './crd-schema.js'
import { loadManifests, type ManifestCatalog, type ManifestDocument } from './manifests.js'
import { validateLabels, validateRollout, validateTemplateSpec, type TemplateCatalog } from './rules.js'

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const CRD_DIR = join(PROJECT_ROOT, '..', 'shared', 'argo-rollouts-crds')

const CRD_FILES: Record<string, string> = {
  AnalysisTemplate: 'analysis-template-crd.yaml',
  ClusterAnalysisTemplate: 'cluster-analysis-template-crd.yaml',
  Rollout: 'rollout-crd.yaml',
  AnalysisRun: 'analysis-run-crd.yaml',
}

const ajv = newAjv()
const compiled = new Map<string, CrdValidator>()

/** The CRD validator for a kind, compiled on first use (a CRD schema takes ~0.7s). */
export function crdValidator (kind: string): CrdValidator {
  let v = compiled.get(kind)
  if (v === undefined) {
    const file = CRD_FILES[kind]
    if (file === undefined) throw new Error(`no CRD for kind ${kind}`)
    v = loadCrdValidator(join(CRD_DIR, file), ajv)
    compiled.set(kind, v)
  }
  return v
}

type Obj = Record<string, unknown>

export function templateCatalog (docs: ManifestDocument[]): TemplateCatalog {
  const catalog: TemplateCatalog = { namespaced: new Map(), cluster: new Map() }
  for (const { object } of docs) {
    const name = (object.metadata as Obj | undefined)?.name as string
    if (object.kind === 'AnalysisTemplate') catalog.namespaced.set(name, object)
    if (object.kind === 'ClusterAnalysisTemplate') catalog.cluster.set(name, object)
  }
  return catalog
}

/** All errors of one Argo object; `templates` resolves a Rollout's references. */
export function validateArgoObject (object: Obj, templates: TemplateCatalog): string[] {
  const kind = String(object.kind)
  const validator = crdValidator(kind)
  const errors = validator.validate(object)
  if (!validator.apiVersions.includes(String(object.apiVersion))) {
    errors.push(`apiVersion ${String(object.apiVersion)} is not served (${validator.apiVersions.join(', ')})`)
  }
  const namespace = (object.metadata as Obj | undefined)?.namespace
  if (validator.scope === 'Cluster' && namespace !== undefined) errors.push(`a cluster-scoped ${kind} has no namespace`)
  // (project rule) Namespaced objects leave the namespace to `kubectl apply -n`.
  if (validator.scope === 'Namespaced' && namespace !== undefined) errors.push('metadata.namespace is set; leave it to `kubectl apply -n` (project rule)')
  errors.push(...validateLabels(object))
  const spec = (object.spec ?? {}) as Obj
  if (kind === 'AnalysisTemplate' || kind === 'ClusterAnalysisTemplate' || kind === 'AnalysisRun') errors.push(...validateTemplateSpec(spec))
  if (kind === 'Rollout') errors.push(...validateRollout(object, templates))
  return errors
}

export function shippedManifests (): ManifestCatalog {
  return loadManifests(PROJECT_ROOT)
}
