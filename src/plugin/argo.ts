/**
 * What the plugin reads from, and sends back to, Argo Rollouts' metric-plugin RPC
 * (metricproviders/plugin/rpc/rpc.go, pkg/apis/rollouts/v1alpha1/analysis_types.go), on top
 * of the generic gob values. Argo sends the full static type tree; only the fields below are
 * used, found by their Go field names. Fields Go left at their zero value are simply absent.
 */
import { GobTypes, type EncodableValue, type GobType } from './gob/encoder.js'
import { goTimeToIso } from './gob/time.js'
import { GobInterface, GobOpaque, isGobStruct, type GobStruct, type GobValue } from './gob/wire.js'

/** The plugin's name in argo-rollouts-config and the key under `provider.plugin`. */
export const PLUGIN_NAME = 'cordum/agent-canary-gate'
/** The key go-plugin dispenses (Argo's plugin map). */
export const DISPENSE_NAME = 'RpcMetricProviderPlugin'

export type Phase = 'Pending' | 'Running' | 'Successful' | 'Failed' | 'Error' | 'Inconclusive'

/** v1alpha1.Measurement as the plugin sends it; times are Go time payloads (gob/time.ts). */
export interface Measurement {
  Phase: Phase | string
  Message?: string
  StartedAt?: Uint8Array
  FinishedAt?: Uint8Array
  Value?: string
  Metadata?: Record<string, string>
  ResumeAt?: Uint8Array
}

const metav1Time: GobType = { kind: 'GobEncoder', name: 'Time' }
const stringMap: GobType = { kind: 'map', name: 'map[string]string', key: GobTypes.string, elem: GobTypes.string }

export const MeasurementType: GobType = {
  kind: 'struct',
  name: 'Measurement',
  fields: [
    { name: 'Phase', type: GobTypes.string },
    { name: 'Message', type: GobTypes.string },
    { name: 'StartedAt', type: metav1Time },
    { name: 'FinishedAt', type: metav1Time },
    { name: 'Value', type: GobTypes.string },
    { name: 'Metadata', type: stringMap },
    { name: 'ResumeAt', type: metav1Time },
  ],
}

export const RpcErrorType: GobType = { kind: 'struct', name: 'RpcError', fields: [{ name: 'ErrorString', type: GobTypes.string }] }
export const StringMapType = stringMap

export function measurementValue (m: Measurement): EncodableValue {
  return { ...m }
}

export interface OwnerReference { kind: string, name: string, controller: boolean }

/** The parts of an AnalysisRun the plugin uses. */
export interface AnalysisRunView {
  name: string
  namespace: string
  labels: ReadonlyMap<string, string>
  annotations: ReadonlyMap<string, string>
  ownerReferences: OwnerReference[]
  /** spec.args that carry a value (resolved args; secret values included: never log them). */
  args: ReadonlyMap<string, string>
  /** status.startedAt, RFC 3339. */
  startedAt?: string
  creationTimestamp?: string
}

export interface MetricView {
  name: string
  /** The raw JSON under provider.plugin["cordum/agent-canary-gate"], if present. */
  pluginConfig?: Uint8Array
}

const str = (v: GobValue | undefined): string => (typeof v === 'string' ? v : '')
const struct = (v: GobValue | undefined): GobStruct => (isGobStruct(v) ? v : Object.create(null) as GobStruct)

function stringMapOf (v: GobValue | undefined): Map<string, string> {
  const out = new Map<string, string>()
  if (v instanceof Map) for (const [k, e] of v) if (typeof k === 'string' && typeof e === 'string') out.set(k, e)
  return out
}

export function analysisRunView (v: GobValue | undefined): AnalysisRunView {
  const run = struct(v)
  const meta = struct(run.ObjectMeta)
  const spec = struct(run.Spec)
  const status = struct(run.Status)
  const owners = Array.isArray(meta.OwnerReferences) ? meta.OwnerReferences : []
  const args = new Map<string, string>()
  for (const a of Array.isArray(spec.Args) ? spec.Args : []) {
    const arg = struct(a)
    if (typeof arg.Name === 'string' && typeof arg.Value === 'string') args.set(arg.Name, arg.Value)
  }
  return {
    name: str(meta.Name),
    namespace: str(meta.Namespace),
    labels: stringMapOf(meta.Labels),
    annotations: stringMapOf(meta.Annotations),
    ownerReferences: owners.map((o) => {
      const ref = struct(o)
      return { kind: str(ref.Kind), name: str(ref.Name), controller: ref.Controller === true }
    }),
    args,
    startedAt: goTimeToIso(status.StartedAt),
    creationTimestamp: goTimeToIso(meta.CreationTimestamp),
  }
}

export function metricView (v: GobValue | undefined): MetricView {
  const metric = struct(v)
  const plugins = struct(metric.Provider).Plugin
  const raw = plugins instanceof Map ? plugins.get(PLUGIN_NAME) : undefined
  return { name: str(metric.Name), pluginConfig: raw instanceof Uint8Array ? raw : undefined }
}

/** A Measurement as Argo sent it (Resume/Terminate), ready to send back unchanged. */
export function measurementFrom (v: GobValue | undefined): Measurement {
  const m = struct(v)
  const time = (t: GobValue | undefined): Uint8Array | undefined => (t instanceof GobOpaque ? t.bytes : undefined)
  const metadata = stringMapOf(m.Metadata)
  return {
    Phase: str(m.Phase),
    Message: str(m.Message),
    StartedAt: time(m.StartedAt),
    FinishedAt: time(m.FinishedAt),
    Value: str(m.Value),
    Metadata: metadata.size > 0 ? Object.fromEntries(metadata) : undefined,
    ResumeAt: time(m.ResumeAt),
  }
}

/**
 * The struct inside an argument (Argo sends every argument as an interface{} registered under
 * its type name). Anything else is refused with the message Argo's own server gives.
 */
export function argsOf (v: GobValue, name: string): GobStruct {
  if (v instanceof GobInterface && v.name === name && isGobStruct(v.value)) return v.value
  const got = v instanceof GobInterface ? v.name : v === null ? 'nil' : typeof v
  throw new Error(`invalid args ${got}: want ${name}`)
}
