/**
 * Validates objects against a CustomResourceDefinition's openAPIV3Schema the way a Kubernetes
 * API server does on `kubectl apply` (field validation "Strict", kubectl's default since 1.25),
 * by translating the structural schema into JSON Schema for Ajv:
 *
 * - `properties` without `x-kubernetes-preserve-unknown-fields`: unknown fields are rejected
 *   (additionalProperties: false); an object with neither properties nor additionalProperties
 *   accepts only `{}` (the server would drop or reject anything inside).
 * - `x-kubernetes-preserve-unknown-fields: true`: anything goes below that node, beyond the
 *   properties it declares.
 * - `x-kubernetes-int-or-string: true`: integer or string (the CRD's own anyOf), other
 *   keywords (pattern) applying to the string form only, as in JSON Schema.
 * - `x-kubernetes-list-type: map` / `set`: items unique by their list-map keys / by value.
 * - `nullable` is honoured; otherwise a null is refused (the server would prune it; refusing
 *   is stricter and keeps shipped files free of nulls).
 * - formats int32 / int64 are range-checked; `date-time` is checked as RFC 3339.
 * - The root `metadata` (typed `object` only, since the server validates ObjectMeta itself) is
 *   replaced by the ObjectMeta fields a manifest may set.
 *
 * Not modelled: CEL `x-kubernetes-validations` (the Rollout CRD's only rule compares with the
 * old object, `self == oldSelf`, and cannot fail on create), defaults, and server-side pruning.
 * Any other `x-kubernetes-*` extension makes the translation throw, so a new CRD feature is
 * noticed rather than silently ignored.
 */
import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { parse } from 'yaml'

type Schema = Record<string, unknown>

const HANDLED_EXTENSIONS = new Set([
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type', // atomic vs granular: only matters for server-side apply merges
  'x-kubernetes-validations', // see the header
])

const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } }

/** The ObjectMeta fields a manifest may carry (the rest are set by the server). */
export const OBJECT_META_SCHEMA: Schema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: DNS_SUBDOMAIN, maxLength: 253 },
    namespace: { type: 'string', pattern: DNS_LABEL, maxLength: 63 },
    labels: STRING_MAP,
    annotations: STRING_MAP,
    finalizers: { type: 'array', items: { type: 'string' } },
  },
}

function isObject (v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Translate one structural-schema node (and everything below it) into Ajv's JSON Schema. */
export function structuralToAjv (node: Schema, path = '#'): Schema {
  const out: Schema = {}
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) {
      if (!HANDLED_EXTENSIONS.has(key)) throw new Error(`${path}: unsupported CRD extension ${key}`)
      continue
    }
    if (key === 'nullable') continue
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, child]) =>
        [name, structuralToAjv(child as Schema, `${path}.${name}`)]))
    } else if (key === 'items' && isObject(value)) {
      out.items = structuralToAjv(value, `${path}[]`)
    } else if (key === 'additionalProperties' && isObject(value)) {
      out.additionalProperties = structuralToAjv(value, `${path}{}`)
    } else if ((key === 'anyOf' || key === 'allOf' || key === 'oneOf') && Array.isArray(value)) {
      out[key] = value.map((s, i) => structuralToAjv(s as Schema, `${path}/${key}${i}`))
    } else {
      out[key] = value
    }
  }

  if (node['x-kubernetes-int-or-string'] === true) {
    const types = (node.anyOf as Schema[] | undefined)?.map((s) => s.type).sort()
    if (types?.join() !== 'integer,string') {
      throw new Error(`${path}: x-kubernetes-int-or-string without anyOf [integer, string]`)
    }
  }

  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true
  if (node.type === 'object' && !preserve && out.additionalProperties === undefined) {
    // Structural schemas prune unknown fields; with strict field validation they are errors.
    out.additionalProperties = false
  }

  const listType = node['x-kubernetes-list-type']
  if (listType === 'set') out.uniqueItems = true
  if (listType === 'map') {
    const keys = node['x-kubernetes-list-map-keys']
    if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${path}: list-type map without list-map-keys`)
    out.listMapKeys = keys
  }

  if (node.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null']
  return out
}

function inIntRange (bits: 32 | 64): (n: number) => boolean {
  const limit = bits === 32 ? 2 ** 31 : 2 ** 63
  return (n: number) => Number.isInteger(n) && n >= -limit && n < limit
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

export function newAjv (): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strictSchema: true, // an unknown keyword in a translated schema is a translation bug
    strictTypes: false, // the CRDs put `pattern` beside anyOf [integer, string]
    strictRequired: false,
    formats: {
      int32: { type: 'number', validate: inIntRange(32) },
      int64: { type: 'number', validate: inIntRange(64) },
      'date-time': { type: 'string', validate: (s: string) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)) },
    },
  })
  ajv.addKeyword({
    keyword: 'listMapKeys',
    type: 'array',
    schemaType: 'array',
    errors: true,
    validate: function uniqueByKeys (keys: string[], items: unknown[]): boolean {
      const seen = new Set<string>()
      for (const item of items) {
        if (!isObject(item)) continue
        const id = JSON.stringify(keys.map((k) => item[k]))
        if (seen.has(id)) {
          const entry = keys.map((k) => `${k}=${JSON.stringify(item[k])}`).join(', ')
          ;(uniqueByKeys as unknown as { errors: Partial<ErrorObject>[] }).errors = [{
            keyword: 'listMapKeys',
            message: `duplicate entry for key ${entry}`,
            params: { keys },
          }]
          return false
        }
        seen.add(id)
      }
      return true
    },
  })
  return ajv
}

/** One readable line per Ajv error: path, message and the offending property or value. */
export function formatAjvError (e: ErrorObject): string {
  const at = e.instancePath === '' ? '(root)' : e.instancePath.slice(1).replaceAll('/', '.')
  if (e.keyword === 'additionalProperties') {
    return `${at}: unknown field "${String((e.params as { additionalProperty: string }).additionalProperty)}"`
  }
  if (e.keyword === 'enum') {
    return `${at}: ${e.message ?? 'invalid'} (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})`
  }
  return `${at}: ${e.message ?? e.keyword}`
}

export interface CrdValidator {
  kind: string
  apiVersions: string[]
  scope: 'Namespaced' | 'Cluster'
  /** Returns the list of errors (empty when the object is valid). */
  validate: (object: unknown) => string[]
}

/** Compile a validator from a CRD file (every served version shares one schema in Argo's CRDs). */
export function loadCrdValidator (crdFile: string, ajv: Ajv = newAjv()): CrdValidator {
  const crd = parse(readFileSync(crdFile, 'utf8')) as Schema
  const spec = crd.spec as Schema
  const group = spec.group as string
  const names = spec.names as Schema
  const versions = (spec.versions as Schema[]).filter((v) => v.served === true)
  if (versions.length !== 1) throw new Error(`${crdFile}: expected one served version, got ${versions.length}`)
  const version = versions[0] as Schema
  const root = ((version.schema as Schema).openAPIV3Schema) as Schema
  const translated = structuralToAjv(root)
  const properties = translated.properties as Schema
  properties.metadata = OBJECT_META_SCHEMA
  const check: ValidateFunction = ajv.compile(translated)
  return {
    kind: names.kind as string,
    apiVersions: [`${group}/${version.name as string}`],
    scope: spec.scope as 'Namespaced' | 'Cluster',
    validate: (object: unknown) => check(object) ? [] : (check.errors ?? []).map(formatAjvError),
  }
}
