/**
 * Tests assert what happened and in which order, never how long it took (docs/testing.md "No
 * wall clock"): speed belongs to `npm run bench`. Two tools for waits that are the behaviour:
 *
 * - `timerFrom(ms)` starts a timer now. Node runs expired timers in the order they expire (the
 *   same duration: in the order they were set), so a wait of at least `ms` that the code under
 *   test starts later ends after this one: "the answer came after the timer fired" shows the code
 *   waited, and a slow machine can only make the timer fire earlier relative to the answer, so
 *   the check cannot fail because the machine is slow.
 * - `eventually(cond)` waits for a state a test then asserts on (a safety net for asynchronous
 *   work finishing, not a bound: its timeout is generous, and the assertion is on the state).
 */

export interface Timer { readonly fired: boolean }

export function timerFrom (ms: number): Timer {
  let fired = false
  setTimeout(() => { fired = true }, ms).unref()
  return { get fired () { return fired } }
}

/** Resolves once `cond()` holds, checking every 10 ms; after `safetyMs` resolves anyway (the test's assertion then fails). */
export async function eventually (cond: () => boolean, safetyMs = 30_000): Promise<void> {
  const end = Date.now() + safetyMs
  while (!cond() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
}
