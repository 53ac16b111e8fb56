/**
 * A counting semaphore for one upstream (a Cordum gateway): every request of every observation (parallel
 * time slices, both arms, many rollouts at once) takes a slot before it goes out, so the gate
 * never has more than `max` requests open against Cordum however many questions it is asked.
 * Waiters are served first come, first served; a waiter whose request is cancelled leaves the
 * queue without ever taking a slot.
 */
interface Waiter {
  grant: () => void
  signal: AbortSignal
  onAbort: () => void
}

export class Limiter {
  readonly max: number
  #active = 0
  #queue: Waiter[] = []

  constructor (max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`a limiter needs at least one slot, got ${max}`)
    this.max = max
  }

  /** Requests holding a slot now. */
  get active (): number {
    return this.#active
  }

  /** Requests waiting for a slot now. */
  get waiting (): number {
    return this.#queue.length
  }

  /** Runs `fn` holding one slot; waits for a slot first. Rejects with `cancelled()` if `signal` aborts while waiting. */
  async run<T> (signal: AbortSignal, cancelled: () => Error, fn: () => Promise<T>): Promise<T> {
    await this.#acquire(signal, cancelled)
    try {
      return await fn()
    } finally {
      this.#release()
    }
  }

  async #acquire (signal: AbortSignal, cancelled: () => Error): Promise<void> {
    if (signal.aborted) throw cancelled()
    if (this.#active < this.max) {
      this.#active++
      return
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        grant: () => {
          signal.removeEventListener('abort', waiter.onAbort)
          resolve()
        },
        onAbort: () => {
          this.#queue = this.#queue.filter((w) => w !== waiter)
          reject(cancelled())
        },
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  #release (): void {
    const next = this.#queue.shift()
    // The slot passes straight to the next waiter, so `active` never dips and lets a newcomer jump the queue.
    if (next !== undefined) next.grant()
    else this.#active--
  }
}
