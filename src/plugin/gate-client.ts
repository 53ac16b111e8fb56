/**
 * The plugin's client for the gate service: POST /api/v1/score (docs/http-api.md).
 * Every failure is a GateError with an upstream code and source "gate", so the provider can
 * turn it into an Error measurement; nothing here can produce a verdict the gate did not give.
 * undici errors stop at this boundary. The API key goes in X-API-Key and never into a message.
 */
import { Agent, request, type Dispatcher } from 'undici'
import { GateError, type ErrorCode } from '../errors.js'
import type { Verdict } from '../gate/verdict.js'
import type { ScoreQuery } from '../service/score.js'

/** The score request: the service's own type (type-only: nothing of the service is bundled). */
export type ScoreRequest = Omit<ScoreQuery, 'until'>

/** The parts of a ScoreResponse the plugin uses. */
export interface ScoreVerdict {
  verdict: Verdict
  score: number
  /** The stage judged (absent from a gate older than this plugin: the plugin's config names it). */
  stage?: string
  summary: string
  reasons: string[]
  decisionId?: string
  /** The decision's page (PUBLIC_URL on the gate, or the address the plugin called). */
  reportUrl?: string
}

export interface ScoreOptions {
  apiKey?: string
  timeoutMs: number
}

const MAX_BODY_BYTES = 1 << 20
const MAX_ERROR_BODY_BYTES = 16 * 1024
const VERDICTS: readonly string[] = ['pass', 'inconclusive', 'fail']

function upstream (code: ErrorCode, message: string, cause?: unknown): GateError {
  return new GateError(code, message, { source: 'gate', cause })
}

/** Where the gate is, for messages: origin and path only. */
function where (url: URL): string {
  return `${url.origin}${url.pathname}`
}

export class GateClient {
  private readonly dispatcher: Dispatcher

  constructor (dispatcher?: Dispatcher) {
    // keep-alive: Argo measures every interval, usually against the same gate.
    this.dispatcher = dispatcher ?? new Agent({ keepAliveTimeout: 30_000, connections: 16 })
  }

  async score (url: URL, body: ScoreRequest, options: ScoreOptions): Promise<ScoreVerdict> {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; controller.abort() }, options.timeoutMs)
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' }
    if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey
    const seconds = `${options.timeoutMs / 1000}s`
    try {
      let res: Dispatcher.ResponseData
      try {
        res = await request(url, { method: 'POST', headers, body: JSON.stringify(body), signal: controller.signal, dispatcher: this.dispatcher })
      } catch (err) {
        if (timedOut) throw upstream('GATE_ERR_UPSTREAM_TIMEOUT', `gate did not answer within ${seconds} (${where(url)})`)
        const code = (err as { code?: string }).code
        const message = (err as Error).message
        const detail = code === undefined || message.includes(code) ? message : `${message} (${code})`
        throw upstream('GATE_ERR_UPSTREAM_UNREACHABLE', `gate unreachable at ${where(url)}: ${detail}`, err)
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300
      let text: string
      try {
        text = await readBody(res.body, ok ? MAX_BODY_BYTES : MAX_ERROR_BODY_BYTES, controller)
      } catch (err) {
        if (timedOut) throw upstream('GATE_ERR_UPSTREAM_TIMEOUT', `gate did not finish its answer within ${seconds} (${where(url)})`)
        if (err instanceof GateError) throw err
        throw upstream('GATE_ERR_UPSTREAM_RESPONSE', `gate answer from ${where(url)} broke off: ${(err as Error).message}`, err)
      }
      if (!ok) throw statusError(url, res.statusCode, text)
      return parseVerdict(url, text)
    } finally {
      clearTimeout(timer)
    }
  }

  async close (): Promise<void> {
    await this.dispatcher.close()
  }
}

async function readBody (body: Dispatcher.ResponseData['body'], limit: number, controller: AbortController): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > limit) {
      controller.abort()
      throw upstream('GATE_ERR_UPSTREAM_RESPONSE', `gate answer is over ${limit} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function statusError (url: URL, status: number, text: string): GateError {
  let detail = ''
  try {
    const body = JSON.parse(text) as { error?: unknown, code?: unknown }
    if (typeof body.error === 'string') detail = `: ${body.error.slice(0, 300)}${typeof body.code === 'string' ? ` (${body.code})` : ''}`
  } catch { /* not JSON: the status says enough */ }
  if (status === 401 || status === 403) {
    return upstream('GATE_ERR_UPSTREAM_AUTH', `gate refused the plugin's API key with HTTP ${status}${detail} (check apiKey in the metric's plugin config)`)
  }
  return upstream('GATE_ERR_UPSTREAM_STATUS', `gate answered HTTP ${status}${detail} (${where(url)})`)
}

function parseVerdict (url: URL, text: string): ScoreVerdict {
  const bad = (what: string): GateError => upstream('GATE_ERR_UPSTREAM_RESPONSE', `gate answered with an invalid body from ${where(url)}: ${what}`)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw bad('not JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('not a JSON object')
  const b = body as Record<string, unknown>
  if (typeof b.verdict !== 'string' || !VERDICTS.includes(b.verdict)) throw bad(`verdict is ${JSON.stringify(b.verdict)}, want pass, inconclusive or fail`)
  if (typeof b.score !== 'number' || !Number.isFinite(b.score) || b.score < 0 || b.score > 100) throw bad(`score is ${JSON.stringify(b.score)}, want a number 0-100`)
  if (typeof b.summary !== 'string') throw bad('summary is missing')
  const reasons = b.reasons === undefined ? [] : b.reasons
  if (!Array.isArray(reasons) || !reasons.every((r) => typeof r === 'string')) throw bad('reasons is not a list of strings')
  for (const key of ['decisionId', 'reportUrl', 'stage'] as const) if (b[key] !== undefined && typeof b[key] !== 'string') throw bad(`${key} is not a string`)
  const v: ScoreVerdict = { verdict: b.verdict as Verdict, score: b.score, summary: b.summary, reasons: reasons as string[] }
  for (const key of ['decisionId', 'reportUrl', 'stage'] as const) if (b[key] !== undefined) v[key] = b[key] as string
  return v
}
