/** Shared set-up for tests against the sandbox over real loopback HTTP. */
import { defaultPolicy } from '../../src/config/load.js'
import type { SignalSpec } from '../../src/config/policy.js'
import { SANDBOX_ADMIN_KEY, startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/gateway.js'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import type { CallContext } from '../../src/sources/cordum/client.js'
import type { ObservationRequest } from '../../src/sources/source.js'

interface Teardown { teardown: (fn: () => unknown) => void }

/** A fixed instant (a Thursday, 09:17:23 UTC) so tests do not depend on the wall clock. */
export const T0 = Date.UTC(2026, 10, 26, 9, 17, 23)

export async function sandboxFor (t: Teardown, opts: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await startSandbox({ now: () => T0, ...opts })
  t.teardown(async () => await sb.close())
  return sb
}

export const policy = defaultPolicy().policy

export function specs (...names: string[]): SignalSpec[] {
  return names.map((n) => policy.signals[n] as SignalSpec)
}

export function request (canary: string, over: Partial<ObservationRequest> = {}, now = T0): ObservationRequest {
  return {
    tenant: 'default',
    canary,
    baseline: BASELINE_AGENT,
    since: new Date(now - 3 * 3600_000),
    until: new Date(now),
    subIntervalMinutes: 5,
    overloadReasonCodes: policy.overload.reasonCodes,
    ...over,
  }
}

export function call (ms = 8_000): CallContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms }
}

export { SANDBOX_ADMIN_KEY }
