/**
 * Recorded observations (docs/observations.md): the judge's input written to a JSON or YAML
 * file, so that `agent-canary-gate judge` can replay an incident against another gates file.
 * Refused with located errors like the gates file; checked against the policy's signals. A source
 * of observations like Cordum, Prometheus and Loki, read from a file instead (hence sources/).
 */
import { readFile } from 'node:fs/promises'
import { Type } from 'typebox'
import { GateError } from '../errors.js'
import type { Observations } from '../gate/observations.js'
import { DEFAULT_LIMITS, formatLocated, LocatedSource, validateSchema, type LocatedError } from '../config/located.js'
import { unknownName } from '../config/names.js'
import type { GatesPolicy, SignalKind } from '../config/policy.js'

const Whole = Type.Integer({ minimum: 0 })
const Bucket = Type.Object({ start: Type.String({ minLength: 1 }), n: Whole, k: Whole }, { additionalProperties: false })
// One flat shape for every kind of arm: which keys must be present depends on the signal's
// kind, checked below with a message that names the kind (a union would give Ajv noise).
const Arm = Type.Object({
  n: Type.Optional(Whole),
  k: Type.Optional(Whole),
  buckets: Type.Optional(Type.Array(Bucket)),
  pending: Type.Optional(Whole),
  oldestAgeSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  seconds: Type.Optional(Type.Number({ minimum: 0 })),
  total: Type.Optional(Whole),
  failed: Type.Optional(Whole),
  checks: Type.Optional(Type.Array(Type.Object({
    name: Type.String({ minLength: 1 }),
    ok: Type.Boolean(),
    expected: Type.String(),
    actual: Type.String(),
    detail: Type.Optional(Type.String()),
  }, { additionalProperties: false }))),
}, { additionalProperties: false })

export const ObservationsSchema = Type.Object({
  window: Type.Object({ since: Type.String({ minLength: 1 }), until: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  expectedWeight: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'expected canary share of traffic in percent' })),
  split: Type.Optional(Type.Object({
    since: Type.String({ minLength: 1 }),
    canary: Whole,
    baseline: Whole,
  }, { additionalProperties: false, description: 'the split signal\'s events per arm since the current step\'s weight took effect' })),
  approval: Type.Optional(Type.Object({
    status: Type.Enum(['pending', 'approved', 'rejected']),
    ref: Type.Optional(Type.String()),
    jobId: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
  }, { additionalProperties: false, description: 'the stage\'s required human approval' })),
  signals: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Object({
    canary: Type.Optional(Arm),
    baseline: Type.Optional(Arm),
    unavailable: Type.Optional(Type.Object({ code: Type.String(), reason: Type.String(), warming: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
    notes: Type.Optional(Type.Array(Type.String())),
  }, { additionalProperties: false }), { additionalProperties: false }),
}, { additionalProperties: false })

const KIND_FIELDS: Record<SignalKind, string[]> = {
  rate: ['n', 'k'],
  backlog: ['pending', 'oldestAgeSeconds'],
  quantile: ['seconds'],
  check: ['total', 'failed', 'checks'],
}

export function parseObservations (text: string, file: string, policy: GatesPolicy): Observations {
  const source = LocatedSource.parse(text, file, DEFAULT_LIMITS)
  if (Array.isArray(source)) throw invalid(file, source)
  const schemaErrors = validateSchema(source, ObservationsSchema)
  if (schemaErrors.length > 0) throw invalid(file, schemaErrors)
  const obs = source.value as Observations
  const errors: LocatedError[] = []
  for (const key of ['since', 'until'] as const) {
    if (Number.isNaN(Date.parse(obs.window[key]))) errors.push(source.error(['window', key], `must be an RFC 3339 time, got '${obs.window[key]}'`))
  }
  if (errors.length === 0 && Date.parse(obs.window.since) > Date.parse(obs.window.until)) {
    errors.push(source.error(['window', 'since'], `window.since (${obs.window.since}) is after window.until (${obs.window.until})`))
  }
  for (const [name, signal] of Object.entries(obs.signals)) {
    const spec = policy.signals[name]
    if (spec === undefined) {
      errors.push(source.error(['signals', name], unknownName('signal', name, Object.keys(policy.signals)), true))
      continue
    }
    for (const arm of ['canary', 'baseline'] as const) {
      const value = signal[arm] as Record<string, unknown> | undefined
      if (value === undefined) continue
      const need = KIND_FIELDS[spec.kind]
      const absent = need.filter((f) => value[f] === undefined)
      if (absent.length > 0) {
        errors.push(source.error(['signals', name, arm], `${name} is a ${spec.kind} signal: its ${arm} needs ${need.join(' and ')} (missing ${absent.join(', ')})`))
      }
      if (typeof value.n === 'number' && typeof value.k === 'number' && value.k > value.n) {
        errors.push(source.error(['signals', name, arm, 'k'], `hits k (${value.k}) cannot exceed events n (${value.n})`))
      }
      if (Array.isArray(value.checks) && typeof value.failed === 'number' && value.failed !== (value.checks as { ok: boolean }[]).filter((c) => !c.ok).length) {
        errors.push(source.error(['signals', name, arm, 'failed'], `failed (${value.failed}) must equal the number of checks with ok: false`))
      }
      const buckets = (value.buckets ?? []) as { n: number, k: number }[]
      buckets.forEach((b, i) => {
        if (b.k > b.n) errors.push(source.error(['signals', name, arm, 'buckets', i, 'k'], `hits k (${b.k}) cannot exceed events n (${b.n})`))
      })
    }
  }
  if (errors.length > 0) throw invalid(file, errors)
  return obs
}

export async function loadObservationsFile (file: string, policy: GatesPolicy): Promise<Observations> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new GateError('GATE_ERR_OBSERVATIONS_INVALID', `cannot read observations file ${file}: ${(err as Error).message}`, { cause: err })
  }
  return parseObservations(text, file, policy)
}

function invalid (file: string, errors: LocatedError[]): GateError {
  return new GateError('GATE_ERR_OBSERVATIONS_INVALID', `observations file ${file} is invalid:\n  ${errors.map(formatLocated).join('\n  ')}`, { details: errors })
}
