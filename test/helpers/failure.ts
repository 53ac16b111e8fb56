import { GateError } from '../../src/errors.js'

/** The GateError a promise rejects with; anything else it throws, or its success, fails the test. */
export async function failure (p: Promise<unknown>): Promise<GateError> {
  try {
    await p
  } catch (err) {
    if (err instanceof GateError) return err
    throw err
  }
  throw new Error('expected a GateError, the call succeeded')
}

/** The GateError a synchronous call throws; anything else it throws, or its success, fails the test. */
export function thrown (call: () => unknown): GateError {
  try {
    call()
  } catch (err) {
    if (err instanceof GateError) return err
    throw err
  }
  throw new Error('expected a GateError, the call succeeded')
}
