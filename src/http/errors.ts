/**
 * The one place GateErrors become HTTP responses. 400s name the field at fault; 503s carry the
 * code and the upstream that failed; 5xx bodies never carry stacks or internal messages.
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { closest } from '../config/names.js'
import { ErrorCodes, GateError, isGateError } from '../errors.js'
import { RETRY_AFTER_SECONDS } from './plugins/under-pressure.js'

/** Largest request body the gate reads (server.ts bodyLimit); a score request is a few hundred bytes. */
export const BODY_LIMIT_BYTES = 16 * 1024

interface AjvIssue { keyword: string, instancePath: string, params: Record<string, unknown>, message?: string }

type Context = 'querystring' | 'body' | 'params' | 'headers'

const KIND: Record<string, string> = { integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', object: 'a JSON object', array: 'a list' }

/** A request value as an error shows it: short, quoted when a string. */
function shown (value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value)
  return text.length > 66 ? `${text.slice(0, 63)}...` : text
}

/** The value at an AJV instancePath (`/weight`) in the request part that was validated. */
function valueAt (data: unknown, path: string): unknown {
  let v = data
  for (const key of path.split('/').slice(1)) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined
  return v
}

/**
 * Fastify's schema-validation error as a GateError naming the field, what it must be (the
 * allowed values, the type, the bounds) and what it was. `known` are the fields of the route's
 * own schema for that part of the request, `data` that part as received.
 */
function validationError (err: FastifyError & { validation?: AjvIssue[], validationContext?: string }, known: string[], data: unknown): GateError {
  const issue = (err.validation ?? [])[0]
  const where = err.validationContext ?? 'request'
  if (issue === undefined) return new GateError('GATE_ERR_BAD_REQUEST', `${where}: ${err.message}`)
  const field = issue.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const bad = (message: string, name = field === '' ? where : field): GateError => new GateError('GATE_ERR_BAD_REQUEST', `${name}: ${message}`, { details: { field: name, in: where } })
  const value = valueAt(data, issue.instancePath)
  const got = value === undefined ? '' : `, got ${shown(value)}`
  switch (issue.keyword) {
    case 'required': {
      const missing = String(issue.params.missingProperty)
      return bad('is required', missing)
    }
    case 'additionalProperties': {
      const name = String(issue.params.additionalProperty)
      // `tenant[]=a` or `tenant[0]=a`: a known field in a notation this API does not take.
      const base = /^([^[]+)\[[^\]]*\]$/.exec(name)?.[1]
      if (base !== undefined && known.includes(base)) return bad(`give ${base} as ${base}=VALUE, once: lists and brackets are not accepted`, name)
      const hint = closest(name, known)
      return bad(`unknown field${hint === undefined ? '' : `; did you mean '${hint}'?`} (known: ${known.join(', ')})`, name)
    }
    case 'type':
      if (field === '') return bad('must be a JSON object')
      if (Array.isArray(value) && issue.params.type !== 'array') return bad(where === 'body' ? `must be ${KIND[String(issue.params.type)] ?? String(issue.params.type)}, not a list` : `given ${value.length} times; give it once`)
      return bad(`must be ${KIND[String(issue.params.type)] ?? String(issue.params.type)}${got}`)
    case 'enum':
      return bad(`must be one of ${(issue.params.allowedValues as unknown[]).map(String).join(', ')}${got}`)
    case 'minLength':
      return bad(value === '' ? 'is empty: give a value or leave the field out' : `must be at least ${String(issue.params.limit)} characters${got}`)
    case 'maxLength':
      return bad(`must be at most ${String(issue.params.limit)} characters, got ${String((value as string | undefined)?.length)}`)
    default:
      return bad(`${issue.message ?? 'is invalid'}${got}`)
  }
}

/** The fields the route's schema declares for a request part: what an unknown field is told. */
function knownFields (request: FastifyRequest | undefined, context: string | undefined): string[] {
  const schema = (request?.routeOptions.schema as Partial<Record<Context, { properties?: Record<string, unknown> }>> | undefined)?.[context as Context]
  return Object.keys(schema?.properties ?? {})
}

function requestPart (request: FastifyRequest | undefined, context: string | undefined): unknown {
  switch (context) {
    case 'querystring': return request?.query
    case 'body': return request?.body
    case 'params': return request?.params
    case 'headers': return request?.headers
    default: return undefined
  }
}

export function toGateError (err: unknown, request?: FastifyRequest): GateError {
  if (isGateError(err)) return err
  const e = err as FastifyError & { validation?: AjvIssue[], validationContext?: string }
  if (e?.validation !== undefined) return validationError(e, knownFields(request, e.validationContext), requestPart(request, e.validationContext))
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

export function registerErrorHandlers (app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const gate = toGateError(err, request)
    if (gate.statusCode >= 500) {
      // Shed requests are counted in /metrics (http_requests_total, 503); a warn line for each
      // would add to the very load being shed.
      const level = gate.code === 'GATE_ERR_INTERNAL' ? 'error' : gate.code === 'GATE_ERR_UNAVAILABLE' ? 'debug' : 'warn'
      // The evidence store's own error (SQLite's or PostgreSQL's text) goes to the log only.
      const cause = gate.code === 'GATE_ERR_EVIDENCE_UNAVAILABLE' && gate.cause instanceof Error ? gate.cause.message : undefined
      request.log[level]({ err: gate.code === 'GATE_ERR_INTERNAL' ? err : undefined, code: gate.code, source: gate.source, reason: gate.code === 'GATE_ERR_INTERNAL' ? undefined : gate.message, cause }, 'request failed')
    }
    if (gate.statusCode === 503 && gate.code === 'GATE_ERR_UNAVAILABLE') void reply.header('retry-after', String(RETRY_AFTER_SECONDS))
    void reply.code(gate.statusCode).send(errorBody(gate))
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`, code: 'GATE_ERR_NOT_FOUND' })
  })
}
