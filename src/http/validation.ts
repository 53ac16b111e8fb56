/**
 * How requests are validated: the same rules for a score question asked by GET and by POST.
 *
 * Fastify's default AJV coerces types everywhere ('array' mode): a JSON body's `"weight": null`
 * or `""` became 0, `{"stage": ["canary-1"]}` became "canary-1", and a query string's
 * `weight=%20` became 0 and `weight=0x10` 16 (AJV coerces whatever `==` takes for a number).
 * Here nothing is coerced but a number written in decimal digits as a string, in a query string
 * and in a JSON body alike: a query string has no other way to carry a number, and neither has
 * Argo's web provider, whose `jsonBody` fills a template argument in as a JSON string
 * (`weight: "{{args.weight}}"` sends `"weight": "25"`). Anything else keeps its JSON type: null,
 * blank, `0x10` or `1e1` where a number belongs, and a list where a single value belongs, are
 * refused naming the field.
 */
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance, FastifySchema } from 'fastify'

/** A decimal number as a person or Argo writes one in a URL or a template argument: `25`, `12.5`, `-1`. */
const DECIMAL = /^-?\d+(?:\.\d+)?$/

function newAjv (): Ajv {
  const ajv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false })
  ;(addFormats as unknown as (a: Ajv) => void)(ajv)
  return ajv
}

interface Property { type?: string }

/** The fields of an object schema that are numbers. */
function numericFields (schema: unknown): string[] {
  const props = (schema as { properties?: Record<string, Property> }).properties ?? {}
  return Object.entries(props).filter(([, p]) => p.type === 'number' || p.type === 'integer').map(([name]) => name)
}

type Validator = ((data: unknown) => boolean) & { errors?: ValidateFunction['errors'] }

/** Validates a query string or body after turning its decimal strings into numbers (anything else keeps its type, and fails as one). */
function decimalValidator (validate: ValidateFunction, numeric: string[]): Validator {
  const check: Validator = (data) => {
    if (data !== null && typeof data === 'object') {
      const q = data as Record<string, unknown>
      for (const name of numeric) {
        const v = q[name]
        if (typeof v === 'string' && DECIMAL.test(v)) q[name] = Number(v)
      }
    }
    const ok = validate(data)
    check.errors = validate.errors
    return ok
  }
  return check
}

/** Installs the gate's validators on an instance: every route registered in it afterwards uses them. */
export function useStrictValidation (app: FastifyInstance): void {
  const ajv = newAjv()
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema, httpPart?: string }) => {
    const validate = ajv.compile(schema as object)
    if (httpPart !== 'querystring' && httpPart !== 'body') return validate
    const numeric = numericFields(schema)
    return numeric.length === 0 ? validate : decimalValidator(validate, numeric)
  })
}
