/**
 * Every property test runs through `assertProperty`, never `fc.assert` directly
 * (test/ci/property-seed.test.ts checks this), so a run is reproducible: fast-check draws its
 * cases from FC_SEED, a fixed seed unless the environment gives another. A failure names the
 * seed and how to run the same cases again.
 *
 *   npx tap test/plugin/gob-fuzz.test.ts                 # the fixed seed
 *   FC_SEED=12345 npx tap test/plugin/gob-fuzz.test.ts   # another seed
 *   FC_SEED=random npm test                              # a new seed, printed on stderr
 */
import fc from 'fast-check'

/** The seed every property test uses unless FC_SEED says otherwise. */
export const DEFAULT_SEED = 20261126

/** FC_SEED: unset or empty for the fixed seed, a whole number (32-bit) for that seed, `random` for a new one. */
export function seedFrom (value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_SEED
  if (value === 'random') return (Math.random() * 2 ** 32) | 0
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < -(2 ** 31) || Number(value) >= 2 ** 32) {
    throw new Error(`FC_SEED: must be a whole number from -2147483648 to 4294967295 or 'random', got '${value}'`)
  }
  return Number(value) | 0
}

export const SEED = seedFrom(process.env.FC_SEED)
if (process.env.FC_SEED === 'random') process.stderr.write(`property tests: FC_SEED=${SEED}\n`)

/** The message of a failed property: which seed, and the command line that repeats it. */
export function failureMessage (seed: number, message: string): string {
  return `property failed with FC_SEED=${seed} (run the same cases again with FC_SEED=${seed}):\n${message}`
}

function named (err: unknown, seed: number): Error {
  const message = err instanceof Error ? err.message : String(err)
  return new Error(failureMessage(seed, message), { cause: err })
}

/** fc.assert with the run's seed (a `seed` in `params` is refused: the seed comes from FC_SEED). */
export function assertProperty<Ts> (property: fc.IAsyncProperty<Ts>, params?: fc.Parameters<Ts>): Promise<void>
export function assertProperty<Ts> (property: fc.IProperty<Ts>, params?: fc.Parameters<Ts>): void
export function assertProperty<Ts> (property: fc.IRawProperty<Ts>, params: fc.Parameters<Ts> = {}): Promise<void> | void {
  if (params.seed !== undefined) throw new Error('assertProperty: the seed comes from FC_SEED, not from the call site')
  const seed = SEED
  let out: Promise<void> | void
  try {
    out = fc.assert(property, { ...params, seed })
  } catch (err) {
    throw named(err, seed)
  }
  if (out instanceof Promise) return out.catch((err: unknown) => { throw named(err, seed) })
  return out
}
