/**
 * The "Plugin" net/rpc service Argo calls on the dispensed stream
 * (metricproviders/plugin/rpc/rpc.go MetricsRPCServer): method names, argument names and
 * reply types as Argo's host expects them.
 */
import { MeasurementType, RpcErrorType, StringMapType, analysisRunView, argsOf, measurementFrom, measurementValue, metricView } from './argo.js'
import { GobTypes } from './gob/encoder.js'
import type { RpcMethod, RpcReply, RpcService } from './netrpc/server.js'
import type { GateMetricProvider } from './provider.js'

export function pluginService (provider: GateMetricProvider): RpcService {
  const measurement = (m: Parameters<typeof measurementValue>[0]): RpcReply => ({ type: MeasurementType, value: measurementValue(m) })
  return new Map<string, RpcMethod>([
    ['InitPlugin', () => ({ type: RpcErrorType, value: provider.initPlugin() })],
    ['Type', () => ({ type: GobTypes.string, value: provider.type() })],
    ['Run', async (args) => {
      const a = argsOf(args, 'RunArgs')
      return measurement(await provider.run(analysisRunView(a.AnalysisRun), metricView(a.Metric)))
    }],
    ['Resume', (args) => {
      const a = argsOf(args, 'TerminateAndResumeArgs')
      return measurement(provider.resume(analysisRunView(a.AnalysisRun), metricView(a.Metric), measurementFrom(a.Measurement)))
    }],
    ['Terminate', (args) => {
      const a = argsOf(args, 'TerminateAndResumeArgs')
      return measurement(provider.terminate(analysisRunView(a.AnalysisRun), metricView(a.Metric), measurementFrom(a.Measurement)))
    }],
    ['GarbageCollect', (args) => {
      argsOf(args, 'GarbageCollectArgs')
      return { type: RpcErrorType, value: provider.garbageCollect() }
    }],
    ['GetMetadata', (args) => {
      const a = argsOf(args, 'GetMetadataArgs')
      return { type: StringMapType, value: provider.getMetadata(metricView(a.Metric)) }
    }],
  ])
}
