/**
 * Loading a gates policy file: size and alias limits, YAML syntax, the schema, then the
 * cross-field rules. Every refusal is a GateError whose `details` lists located errors.
 */
import { readFile } from 'node:fs/promises'
import { canonicalJson, sha256Hex } from '../canonical-json.js'
import { GateError } from '../errors.js'
import { DEFAULT_LIMITS, formatLocated, LocatedSource, validateSchema, type LocatedError, type SourceLimits } from './located.js'
import { buildPolicy, type GatesPolicy, type PolicyProblem } from './policy.js'
import { GatesFileSchema, type GatesFile } from './schema.js'

export interface LoadedPolicy {
  policy: GatesPolicy
  /** sha256 of the policy's canonical JSON: the same meaning gives the same hash. */
  hash: string
  file: string
}

/** Parses and validates gates policy text. Throws GATE_ERR_GATES_INVALID with located errors. */
export function parseGates (text: string, file: string, limits: SourceLimits = DEFAULT_LIMITS): LoadedPolicy {
  const source = LocatedSource.parse(text, file, limits)
  if (Array.isArray(source)) throw invalid(file, source)
  if (source.value === null || source.value === undefined) {
    throw invalid(file, [{ file, line: 1, column: 1, path: '', message: 'the file is empty: expected a mapping with the key rollout_gates' }])
  }
  const schemaErrors = validateSchema(source, GatesFileSchema)
  if (schemaErrors.length > 0) throw invalid(file, schemaErrors)
  const problems: PolicyProblem[] = []
  const policy = buildPolicy(source.value as GatesFile, problems)
  if (problems.length > 0) throw invalid(file, problems.map((p) => source.error(p.path, p.message, p.key)))
  return { policy, hash: sha256Hex(canonicalJson(policy)), file }
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
