/**
 * Anchors outside the database: each tenant's chain head, kept where someone with write access
 * to the database cannot reach it.
 *   - In the gate's memory: the highest head it has written or read, so a verify by the same
 *     gate catches a chain rewritten and rehashed, or a tail cut off with the head moved back.
 *   - In its log (`chain heads`, every EVIDENCE_ANCHOR_SECONDS) and in Prometheus
 *     (`agentcanary_evidence_chain_head_seq` and `_hash`): kept outside the gate and the database,
 *     a head from there can be given to verify (`anchor=SEQ:HASH`) after a restart.
 * A head read from the store that is behind the one remembered is never taken: it is logged as
 * an error (the head moved back) and the remembered one stays.
 */
import type { Head } from './chain.js'
import type { EvidenceStore } from './store.js'

export interface AnchorLog {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface AnchorGauges {
  chainHead: (tenant: string, head: Head) => void
}

export class ChainAnchors {
  readonly #heads = new Map<string, Head>()
  readonly #store: EvidenceStore
  readonly #log: AnchorLog
  readonly #gauges: AnchorGauges | undefined

  constructor (store: EvidenceStore, log: AnchorLog, gauges?: AnchorGauges) {
    this.#store = store
    this.#log = log
    this.#gauges = gauges
  }

  /** A head the gate wrote or read; kept when it is ahead of the one remembered. */
  saw (tenant: string, head: Head): void {
    const known = this.#heads.get(tenant)
    if (known !== undefined && known.seq >= head.seq) return
    this.#heads.set(tenant, { seq: head.seq, hash: head.hash })
    this.#gauges?.chainHead(tenant, head)
  }

  /** The heads a verify of `tenant` checks the chain against. */
  anchorsFor (tenant: string): Head[] {
    const known = this.#heads.get(tenant)
    return known === undefined ? [] : [known]
  }

  /** Reads every head from the store, remembers those ahead, logs them all (the anchor a person can keep). */
  async run (): Promise<void> {
    let heads: Array<Head & { tenant: string }>
    try {
      heads = await this.#store.heads()
    } catch (err) {
      this.#log.error({ err }, 'could not read the chain heads to log them; trying again at the next interval')
      return
    }
    for (const h of heads) {
      const known = this.#heads.get(h.tenant)
      if (known !== undefined && h.seq < known.seq) {
        this.#log.error({ tenant: h.tenant, stored: { seq: h.seq, hash: h.hash }, seen: known }, `the chain head of tenant ${h.tenant} moved back from record ${known.seq} to ${h.seq}: records were removed from the end (decisions verify reports it)`)
        continue
      }
      this.saw(h.tenant, h)
    }
    const logged = [...this.#heads.entries()].map(([tenant, h]) => ({ tenant, seq: h.seq, hash: h.hash }))
    if (logged.length > 0) this.#log.info({ heads: logged }, 'chain heads')
  }

  /** Runs now and every `intervalSeconds`; the timer never keeps the process alive. */
  start (intervalSeconds: number): { stop: () => void } {
    void this.run()
    const timer = setInterval(() => { void this.run() }, intervalSeconds * 1000)
    timer.unref()
    return { stop: () => clearInterval(timer) }
  }
}

/** The first 13 hex digits of a hash as a number: 52 bits, exact in a Prometheus sample (a float64). */
export function hashPrefixNumber (hash: string): number {
  return Number.parseInt(hash.slice(0, 13), 16)
}
