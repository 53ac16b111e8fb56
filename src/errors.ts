/**
 * The project's one error module. Every failure that crosses a boundary (config, sources,
 * HTTP, CLI) is a GateError with a stable code; the HTTP layer maps codes to statuses here
 * and nowhere else. Upstream library errors (undici, pg, yaml) are translated into these
 * codes at the boundary where they happen, so nobody above it sees a foreign code.
 */

export const ErrorCodes = {
  /** A request field is missing or malformed (names the field). */
  GATE_ERR_BAD_REQUEST: 400,
  /** The request names a stage the gates policy does not define. */
  GATE_ERR_UNKNOWN_STAGE: 400,
  /** A gates policy file is refused (located errors in `details`). */
  GATE_ERR_GATES_INVALID: 400,
  /** A gates policy file cannot be read. */
  GATE_ERR_GATES_UNREADABLE: 400,
  /** A recorded observations file is refused (located errors in `details`). */
  GATE_ERR_OBSERVATIONS_INVALID: 400,
  /** The gate's own API key is missing or wrong. */
  GATE_ERR_UNAUTHORIZED: 401,
  /** The key is valid but not allowed the requested tenant. */
  GATE_ERR_FORBIDDEN: 403,
  /** The request body is larger than the gate accepts (16 KiB). */
  GATE_ERR_BODY_TOO_LARGE: 413,
  /** A resource (decision record, ...) does not exist. */
  GATE_ERR_NOT_FOUND: 404,
  /** An upstream did not answer within its deadline. */
  GATE_ERR_UPSTREAM_TIMEOUT: 503,
  /** An upstream could not be reached (refused, reset, DNS). */
  GATE_ERR_UPSTREAM_UNREACHABLE: 503,
  /** An upstream answered with an unexpected HTTP status. */
  GATE_ERR_UPSTREAM_STATUS: 503,
  /** An upstream refused the gate's credentials (401/403). */
  GATE_ERR_UPSTREAM_AUTH: 503,
  /** An upstream answered with a body the gate cannot use (malformed, truncated, too large). */
  GATE_ERR_UPSTREAM_RESPONSE: 503,
  /** Prometheus or Loki refused or failed one of the gates policy's queries (syntax, execution); the signal is unavailable. */
  GATE_ERR_UPSTREAM_QUERY: 503,
  /** The service is shutting down or shedding load. */
  GATE_ERR_UNAVAILABLE: 503,
  /** The evidence store cannot write or read decision records (the score is not answered without its record). */
  GATE_ERR_EVIDENCE_UNAVAILABLE: 503,
  /** The service's environment configuration (PORT, CORDUM_URL, GATE_API_KEYS, ...) is refused at start. */
  GATE_ERR_CONFIG_INVALID: 500,
  /** The metric's plugin config (provider.plugin["cordum/agent-canary-gate"]) is refused (names the key). */
  GATE_ERR_PLUGIN_CONFIG: 400,
  /**
   * The Argo plugin host sent bytes the plugin cannot accept (yamux, gob or net/rpc). It never
   * reaches HTTP; it has a status only because every code does.
   */
  GATE_ERR_PLUGIN_PROTOCOL: 400,
  /** A bug: something that should not happen did. */
  GATE_ERR_INTERNAL: 500,
} as const

export type ErrorCode = keyof typeof ErrorCodes

export interface GateErrorOptions {
  /** Machine-readable detail, e.g. the list of located config errors. Never holds secrets. */
  details?: unknown
  /** The upstream that failed (`cordum`, `prometheus`, `loki`, ...), for upstream errors. */
  source?: string
  cause?: unknown
}

export class GateError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly details?: unknown
  readonly source?: string

  constructor (code: ErrorCode, message: string, options: GateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'GateError'
    this.code = code
    this.statusCode = ErrorCodes[code]
    if (options.details !== undefined) this.details = options.details
    if (options.source !== undefined) this.source = options.source
  }

  /** True for failures of an upstream the gate depends on (these map to HTTP 503). */
  get isUpstream (): boolean {
    return this.code.startsWith('GATE_ERR_UPSTREAM_')
  }
}

export function isGateError (err: unknown): err is GateError {
  return err instanceof GateError
}
