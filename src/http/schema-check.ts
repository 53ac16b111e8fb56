/**
 * Compile-time checks, no code: the score request and answer as the service types them and as
 * the HTTP schemas (which validate requests and serialise answers) declare them are one shape.
 *
 * The answer: what the score service answers (ScoreResponse: the judge's
 * Judgement with the decision id, report URL and actions) and what the response schema declares
 * (ScoreResponseSchema, which fast-json-stringify serialises by) are the same shape: the answer is
 * assignable to the schema's type, and the two have the same fields all the way down: a field the
 * judge adds but the schema does not declare would be dropped from every answer without a word,
 * and a declared field the judge never gives is a promise the API does not keep. `tsc` fails here,
 * naming the path, when one changes without the other.
 */
import type { Static } from 'typebox'
import type { ScoreQuery, ScoreResponse } from '../service/score.js'
import type { ScoreBodySchema, ScoreResponseSchema } from './schemas.js'

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

/**
 * The request: the fields a score request may carry (ScoreBodySchema, GET's query string adds
 * only `view`) are the fields the service takes (ScoreQuery), with the same types both ways: a
 * field the schema accepts but the service ignores, or the reverse, fails here.
 */
type Accepted = Static<typeof ScoreBodySchema>
export const REQUEST_MATCHES_SCHEMA: {
  sameFields: Nothing<Exclude<Paths<Accepted>, Paths<ScoreQuery>> | Exclude<Paths<ScoreQuery>, Paths<Accepted>>>
  acceptedIsTaken: Accepted extends ScoreQuery ? true : false
  takenIsAccepted: ScoreQuery extends Accepted ? true : false
} = { sameFields: true, acceptedIsTaken: true, takenIsAccepted: true }
