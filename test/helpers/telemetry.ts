/** A Telemetry that remembers every report, for tests of what the service and sources report. */
import type { ErrorCode } from '../../src/errors.js'
import type { Judgement } from '../../src/gate/verdict.js'
import type { ObservationUse, RolloutStage, SliceCacheResult, Telemetry, UpstreamRequest } from '../../src/telemetry.js'

export class RecordingTelemetry implements Telemetry {
  judgements: { subject: RolloutStage, judgement: Judgement, seconds: number }[] = []
  failures: { stage: string | undefined, code: ErrorCode }[] = []
  upstream: UpstreamRequest[] = []
  shared: { source: string, use: ObservationUse }[] = []
  answers: ObservationUse[] = []
  evidence: ('ok' | 'error')[] = []
  slices: { source: string, endpoint: string, result: SliceCacheResult }[] = []

  judged (subject: RolloutStage, judgement: Judgement, seconds: number): void { this.judgements.push({ subject, judgement, seconds }) }
  evaluationFailed (stage: string | undefined, code: ErrorCode): void { this.failures.push({ stage, code }) }
  upstreamRequest (request: UpstreamRequest): void { this.upstream.push(request) }
  observationShared (source: string, use: ObservationUse): void { this.shared.push({ source, use }) }
  answerShared (use: ObservationUse): void { this.answers.push(use) }
  evidenceWritten (outcome: 'ok' | 'error'): void { this.evidence.push(outcome) }
  sliceCache (source: string, endpoint: string, result: SliceCacheResult): void { this.slices.push({ source, endpoint, result }) }
}
