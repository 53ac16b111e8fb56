/**
 * The sources the gate can read, keyed by the name signals give in the gates policy
 * (`source: cordum | prometheus | loki`). The score service asks the registry for the source of
 * each needed signal; a signal whose source is not configured is reported as unavailable.
 */
import type { SourceName } from '../config/policy.js'
import type { SignalSource } from './source.js'

export class SourceRegistry {
  readonly #sources = new Map<SourceName, SignalSource>()

  constructor (sources: SignalSource[] = []) {
    for (const s of sources) this.register(s)
  }

  register (source: SignalSource): void {
    if (this.#sources.has(source.name)) throw new Error(`source '${source.name}' is already registered`)
    this.#sources.set(source.name, source)
  }

  get (name: SourceName): SignalSource | undefined {
    return this.#sources.get(name)
  }

  names (): SourceName[] {
    return [...this.#sources.keys()]
  }

  all (): SignalSource[] {
    return [...this.#sources.values()]
  }

  /** Closes every source; one failing close does not keep the others open. */
  async close (): Promise<void> {
    await Promise.allSettled(this.all().map(async (s) => await s.close()))
  }
}
