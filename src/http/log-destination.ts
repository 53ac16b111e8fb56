/**
 * Where the service's log lines go: stdout, without ever blocking the process on it.
 *
 * pino's own stdout destination writes synchronously and, when the pipe is full (a reader that
 * stopped reading, `serve | head -2` in some shells), retries in a sleeping loop for as long as
 * it stays full: the event loop stops, SIGTERM's forced exit (a timer) never fires, and the
 * gate hangs for ever. Here a line that stdout cannot take at once is queued (bounded: past
 * MAX_PENDING_BYTES lines are dropped and counted) and retried on a timer; a stdout that is
 * gone (EPIPE) stops logging. Losing log lines is better than a gate that cannot answer or exit.
 */
import { constants, openSync, writeSync } from 'node:fs'

const MAX_PENDING_BYTES = 4 * 1024 * 1024
const RETRY_MS = 50

/**
 * A descriptor for stdout that never blocks. On Linux, opening /proc/self/fd/1 makes a new
 * open file description of the same pipe or terminal, which may be non-blocking without
 * changing fd 1 itself (that one may be shared with the parent). O_APPEND keeps a redirect to
 * a file writing at its end. Anywhere else (no /proc, a socket), fd 1 as it is.
 */
function nonBlockingStdout (): number {
  try {
    return openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK)
  } catch {
    return 1
  }
}

export class LogDestination {
  readonly #fd: number
  readonly #maxPending: number
  #pending: Buffer[] = []
  #pendingBytes = 0
  #timer: NodeJS.Timeout | undefined
  #gone = false
  /** Lines dropped because stdout could not take them (full for long, or gone). */
  dropped = 0

  constructor (opts: { fd?: number, maxPendingBytes?: number } = {}) {
    this.#fd = opts.fd ?? nonBlockingStdout()
    this.#maxPending = opts.maxPendingBytes ?? MAX_PENDING_BYTES
    // What is still queued at exit gets one last try, never a wait.
    process.once('exit', () => { this.#drain() })
  }

  write (line: string): void {
    if (this.#gone) { this.dropped++; return }
    const buf = Buffer.from(line)
    if (this.#pending.length > 0) { this.#queue(buf); return }
    const rest = this.#writeSome(buf)
    if (rest !== undefined) this.#queue(rest)
  }

  /** Writes what stdout takes now; returns the part it did not take (undefined: all written, or stdout is gone). */
  #writeSome (buf: Buffer): Buffer | undefined {
    let offset = 0
    while (offset < buf.length) {
      try {
        offset += writeSync(this.#fd, buf, offset)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return buf.subarray(offset)
        // EPIPE (the reader is gone) or anything else: stop writing for good.
        this.#gone = true
        this.dropped += 1 + this.#pending.length
        this.#pending = []
        this.#pendingBytes = 0
        return undefined
      }
    }
    return undefined
  }

  #queue (buf: Buffer): void {
    if (this.#pendingBytes + buf.length > this.#maxPending) { this.dropped++; return }
    this.#pending.push(buf)
    this.#pendingBytes += buf.length
    this.#schedule()
  }

  #schedule (): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#drain() }, RETRY_MS)
    // A full stdout never keeps the process alive.
    this.#timer.unref()
  }

  #drain (): void {
    while (this.#pending.length > 0 && !this.#gone) {
      const head = this.#pending[0] as Buffer
      const rest = this.#writeSome(head)
      if (this.#gone) return
      if (rest !== undefined) {
        this.#pendingBytes -= head.length - rest.length
        this.#pending[0] = rest
        this.#schedule()
        return
      }
      this.#pending.shift()
      this.#pendingBytes -= head.length
    }
  }
}

let stdout: LogDestination | undefined

/** The process's one stdout destination (every gate built in the process logs through it). */
export function stdoutDestination (): LogDestination {
  stdout ??= new LogDestination()
  return stdout
}
