/**
 * A compile-time check, no code: what the score service answers (ScoreResponse: the judge's
 * Judgement with the decision id, report URL and actions) and what the response schema declares
 * (ScoreResponseSchema, which fast-json-stringify serialises by) are the same shape: the answer is
 * assignable to the schema's type, and the two have the same fields all the way down: a field the
 * judge adds but the schema does not declare would be dropped from every answer without a word,
 * and a declared field the judge never gives is a promise the API does not keep. `tsc` fails here,
 * naming the path, when one changes without the other.
 */
import type { Static } from 'typebox'
import type { ScoreResponse } from '../service/score.js'
import type { ScoreResponseSchema } from './schemas.js'

type Declared = Static<typeof ScoreResponseSchema>

/** Every field path of a type (`.signals[].canary.lower`), through arrays, unions and optional fields. */
type Paths<T, P extends string = ''> =
  T extends readonly (infer E)[]
    ? Paths<E, `${P}[]`>
    : T extends object
      ? { [K in keyof T & string]-?: `${P}.${K}` | Paths<NonNullable<T[K]>, `${P}.${K}`> }[keyof T & string]
      : never

/** true when T is never; otherwise T itself, so that the compiler's error names the paths. */
type Nothing<T> = [T] extends [never] ? true : T

/** Fields the service gives that the schema does not declare (the serializer would drop them). */
export type Undeclared = Exclude<Paths<ScoreResponse>, Paths<Declared>>
/** Fields the schema declares that the service never gives. */
export type Unproduced = Exclude<Paths<Declared>, Paths<ScoreResponse>>

export const RESPONSE_MATCHES_SCHEMA: {
  everyFieldDeclared: Nothing<Undeclared>
  everyDeclaredFieldGiven: Nothing<Unproduced>
  // One way only: the schema may be looser than the judge (reason codes are strings to it).
  serviceAnswerFitsSchema: ScoreResponse extends Declared ? true : false
} = { everyFieldDeclared: true, everyDeclaredFieldGiven: true, serviceAnswerFitsSchema: true }
