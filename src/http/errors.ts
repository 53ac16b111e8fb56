/**
 * The one place GateErrors become HTTP responses. 400s name the field at fault; 503s carry the
 * code and the upstream that failed; 5xx bodies never carry stacks or internal messages.
 */
import type { FastifyError, FastifyInstance } from 'fastify'
import { closest } from '../config/names.js'
import { ErrorCodes, GateError, isGateError } from '../errors.js'
import { RETRY_AFTER_SECONDS } from './plugins/under-pressure.js'

/** Largest request body the gate reads (server.ts bodyLimit); a score request is a few hundred bytes. */
export const BODY_LIMIT_BYTES = 16 * 1024

interface AjvIssue { keyword: string, instancePath: string, params: Record<string, unknown>, message?: string }

/** Fastify's schema-validation error as a GateError naming the field. */
function validationError (err: FastifyError & { validation?: AjvIssue[], validationContext?: string }, known: string[]): GateError {
  const issue = (err.validation ?? [])[0]
  const where = err.validationContext ?? 'request'
  if (issue === undefined) return new GateError('GATE_ERR_BAD_REQUEST', `${where}: ${err.message}`)
  const field = issue.instancePath.replace(/^\//, '').replaceAll('/', '.')
  switch (issue.keyword) {
    case 'required': {
      const missing = String(issue.params.missingProperty)
      return new GateError('GATE_ERR_BAD_REQUEST', `${missing}: is required`, { details: { field: missing, in: where } })
    }
    case 'additionalProperties': {
      const name = String(issue.params.additionalProperty)
      const hint = closest(name, known)
      return new GateError('GATE_ERR_BAD_REQUEST', `${name}: unknown field${hint === undefined ? '' : `; did you mean '${hint}'?`} (known: ${known.join(', ')})`, { details: { field: name, in: where } })
    }
    case 'type':
      if (field === '') return new GateError('GATE_ERR_BAD_REQUEST', `${where}: must be a JSON object`, { details: { field: where, in: where } })
      return new GateError('GATE_ERR_BAD_REQUEST', `${field}: must be a ${String(issue.params.type)}`, { details: { field, in: where } })
    default:
      return new GateError('GATE_ERR_BAD_REQUEST', `${field === '' ? where : field}: ${issue.message ?? 'is invalid'}`, { details: { field: field === '' ? where : field, in: where } })
  }
}

export function toGateError (err: unknown, knownFields: string[]): GateError {
  if (isGateError(err)) return err
  const e = err as FastifyError & { validation?: AjvIssue[] }
  if (e?.validation !== undefined) return validationError(e, knownFields)
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new GateError('GATE_ERR_BAD_REQUEST', 'body: send application/json', { details: { field: 'body' } })
  if (e?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (e instanceof SyntaxError && e.statusCode === 400)) {
    return new GateError('GATE_ERR_BAD_REQUEST', 'body: is not valid JSON', { details: { field: 'body' } })
  }
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new GateError('GATE_ERR_BODY_TOO_LARGE', `body: larger than the ${BODY_LIMIT_BYTES / 1024} KiB the gate accepts`)
  if (e?.code === 'FST_ERR_HANDLER_TIMEOUT' || e?.code === 'FST_UNDER_PRESSURE') return new GateError('GATE_ERR_UNAVAILABLE', 'the gate is overloaded or the request took too long; retry')
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new GateError('GATE_ERR_BAD_REQUEST', e.message)
  }
  return new GateError('GATE_ERR_INTERNAL', 'internal error', { cause: err })
}

/** The response body for a GateError: never a stack, never an internal message for 5xx. */
export function errorBody (err: GateError): Record<string, unknown> {
  if (err.code === 'GATE_ERR_INTERNAL' || err.code === 'GATE_ERR_CONFIG_INVALID') return { error: 'internal error', code: 'GATE_ERR_INTERNAL' }
  const body: Record<string, unknown> = { error: err.message, code: err.code }
  if (ErrorCodes[err.code] === 400 && err.details !== undefined) body.details = err.details
  if (err.statusCode === 503 && err.source !== undefined) body.source = err.source
  return body
}

export function registerErrorHandlers (app: FastifyInstance, knownFields: string[]): void {
  app.setErrorHandler((err, request, reply) => {
    const gate = toGateError(err, knownFields)
    if (gate.statusCode >= 500) {
      // Shed requests are counted in /metrics (http_requests_total, 503); a warn line for each
      // would add to the very load being shed.
      const level = gate.code === 'GATE_ERR_INTERNAL' ? 'error' : gate.code === 'GATE_ERR_UNAVAILABLE' ? 'debug' : 'warn'
      request.log[level]({ err: gate.code === 'GATE_ERR_INTERNAL' ? err : undefined, code: gate.code, source: gate.source, reason: gate.code === 'GATE_ERR_INTERNAL' ? undefined : gate.message }, 'request failed')
    }
    if (gate.statusCode === 503 && gate.code === 'GATE_ERR_UNAVAILABLE') void reply.header('retry-after', String(RETRY_AFTER_SECONDS))
    void reply.code(gate.statusCode).send(errorBody(gate))
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`, code: 'GATE_ERR_NOT_FOUND' })
  })
}
