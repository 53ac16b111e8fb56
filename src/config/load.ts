/**
 * Loading a gates policy file: size and alias limits, YAML syntax, the schema, then the
 * cross-field rules. Every refusal is a GateError whose `details` lists located errors.
 */
import { readFile } from 'node:fs/promises'
import { canonicalJson, sha256Hex } from '../canonical-json.js'
import { GateError } from '../errors.js'
import { DEFAULT_LIMITS, formatLocated, LocatedSource, validateSchema, type LocatedError, type Shift, type SourceLimits } from './located.js'
import { buildPolicy } from './build.js'
import type { GatesPolicy, PolicyProblem } from './policy.js'
import { GatesFileSchema, type GatesFile } from './schema.js'

export interface LoadedPolicy {
  policy: GatesPolicy
  /** sha256 of the policy's canonical JSON: the same meaning gives the same hash. */
  hash: string
  file: string
  /** Set when the policy was read from a ConfigMap manifest: its name and data key. */
  configMap?: { name: string, key: string }
}

/** The ConfigMap data key the gate looks for when a ConfigMap holds several entries. */
export const CONFIGMAP_KEY = 'rollout-gates.yaml'

/**
 * Parses and validates gates policy text: a gates file, or a Kubernetes ConfigMap manifest
 * whose data holds one (so the same file can be validated here and applied with kubectl).
 * Throws GATE_ERR_GATES_INVALID with located errors.
 */
export function parseGates (text: string, file: string, limits: SourceLimits = DEFAULT_LIMITS, shift?: Shift): LoadedPolicy {
  const source = LocatedSource.parse(text, file, limits, shift)
  if (Array.isArray(source)) throw invalid(file, source)
  if (source.value === null || source.value === undefined) {
    throw invalid(file, [{ file, line: 1, column: 1, path: '', message: 'the file is empty: expected a mapping with the key rollout_gates' }])
  }
  const manifest = source.value as { kind?: unknown, metadata?: { name?: unknown }, data?: unknown }
  if (shift === undefined && manifest.kind === 'ConfigMap') return parseConfigMap(source, manifest, limits)
  const schemaErrors = validateSchema(source, GatesFileSchema)
  if (schemaErrors.length > 0) throw invalid(file, schemaErrors)
  const problems: PolicyProblem[] = []
  const policy = buildPolicy(source.value as GatesFile, problems)
  if (problems.length > 0) throw invalid(file, problems.map((p) => source.error(p.path, p.message, p.key)))
  return { policy, hash: sha256Hex(canonicalJson(policy)), file }
}

function parseConfigMap (source: LocatedSource, manifest: { metadata?: { name?: unknown }, data?: unknown }, limits: SourceLimits): LoadedPolicy {
  const file = source.file
  const data = manifest.data !== null && typeof manifest.data === 'object' ? manifest.data as Record<string, unknown> : {}
  const keys = Object.keys(data)
  const key = keys.length === 1 ? keys[0] as string : keys.includes(CONFIGMAP_KEY) ? CONFIGMAP_KEY : undefined
  if (key === undefined) {
    const why = keys.length === 0 ? 'has no data entries' : `has several data entries (${keys.join(', ')}) and none is named ${CONFIGMAP_KEY}`
    throw invalid(file, [source.error(keys.length === 0 ? [] : ['data'], `this ConfigMap ${why}: it should hold the gates policy under data.${CONFIGMAP_KEY}`)])
  }
  const inner = source.embedded(['data', key])
  if (inner === undefined) throw invalid(file, [source.error(['data', key], `data.${key} must be a string holding the gates policy`)])
  const loaded = parseGates(inner.text, file, limits, inner.shift)
  return { ...loaded, configMap: { name: String(manifest.metadata?.name ?? ''), key } }
}

/** Reads and validates a gates policy file. */
export async function loadGatesFile (file: string, limits: SourceLimits = DEFAULT_LIMITS): Promise<LoadedPolicy> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message
    throw new GateError('GATE_ERR_GATES_UNREADABLE', `cannot read gates file ${file}: ${reason}`, { cause: err })
  }
  return parseGates(text, file, limits)
}

/** The built-in default policy (what an empty `rollout_gates: {}` means). */
export function defaultPolicy (): LoadedPolicy {
  return parseGates('rollout_gates: {}\n', '<defaults>')
}

function invalid (file: string, errors: LocatedError[]): GateError {
  const lines = errors.map(formatLocated)
  return new GateError('GATE_ERR_GATES_INVALID', `gates file ${file} is invalid:\n  ${lines.join('\n  ')}`, { details: errors })
}
