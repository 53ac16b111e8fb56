/**
 * go-plugin's MuxBroker, plugin side (mux_broker.go). Dispense reserves an id (1, 2, ...);
 * the host then opens a new yamux stream and writes that id as a 4-byte little-endian uint32;
 * the plugin writes the same 4 bytes back as the acknowledgement and serves the plugin's RPC
 * service on the stream. Either side may come first; each waits at most 5 seconds for the
 * other, as go-plugin does, and an unclaimed stream is reset.
 */
import { GateError } from '../../errors.js'
import type { PluginLogger } from '../log.js'
import type { YamuxStream } from '../yamux/stream.js'

export type BrokerServe = (stream: YamuxStream, rest: Uint8Array) => void

const ACCEPT_TIMEOUT_MS = 5000

interface Waiting<T> { value: T, timer: NodeJS.Timeout }

export class MuxBroker {
  private lastId = 0
  private readonly reserved = new Map<number, Waiting<BrokerServe>>()
  private readonly arrived = new Map<number, Waiting<{ stream: YamuxStream, rest: Uint8Array }>>()

  constructor (private readonly log: PluginLogger, private readonly timeoutMs = ACCEPT_TIMEOUT_MS) {}

  /** Reserves the next id for a dispensed plugin; `serve` runs when the host connects to it. */
  reserve (serve: BrokerServe): number {
    const id = ++this.lastId
    const early = this.arrived.get(id)
    if (early !== undefined) {
      clearTimeout(early.timer)
      this.arrived.delete(id)
      this.connect(id, early.value.stream, early.value.rest, serve)
      return id
    }
    const timer = setTimeout(() => {
      this.reserved.delete(id)
      this.log.warn('the host never connected to a dispensed plugin', { id })
    }, this.timeoutMs)
    timer.unref()
    this.reserved.set(id, { value: serve, timer })
    return id
  }

  /** A stream the host opened after the control and std streams: read its id and pair it. */
  async accept (stream: YamuxStream): Promise<void> {
    let head: { id: number, rest: Uint8Array }
    try {
      head = await readId(stream, this.timeoutMs)
    } catch (err) {
      this.log.warn('broker stream refused', { stream: stream.id, error: (err as Error).message })
      stream.reset((err as Error).message)
      return
    }
    const { id, rest } = head
    const waiting = this.reserved.get(id)
    if (waiting !== undefined) {
      clearTimeout(waiting.timer)
      this.reserved.delete(id)
      this.connect(id, stream, rest, waiting.value)
      return
    }
    if (this.arrived.has(id)) {
      stream.reset(`broker id ${id} is already waiting`)
      return
    }
    const timer = setTimeout(() => {
      this.arrived.delete(id)
      stream.reset(`no plugin was dispensed under broker id ${id}`)
    }, this.timeoutMs)
    timer.unref()
    this.arrived.set(id, { value: { stream, rest }, timer })
  }

  /** Forget every pending id (the session is over). */
  close (): void {
    for (const w of this.reserved.values()) clearTimeout(w.timer)
    for (const w of this.arrived.values()) { clearTimeout(w.timer); w.value.stream.reset('session closed') }
    this.reserved.clear()
    this.arrived.clear()
  }

  private connect (id: number, stream: YamuxStream, rest: Uint8Array, serve: BrokerServe): void {
    const ack = new Uint8Array(4)
    new DataView(ack.buffer).setUint32(0, id, true)
    stream.write(ack).catch(() => { /* the stream failed: serve() sees it too */ })
    this.log.debug('broker stream connected', { id, stream: stream.id })
    serve(stream, rest)
  }
}

function brokerError (message: string): GateError {
  return new GateError('GATE_ERR_PLUGIN_PROTOCOL', message)
}

/** The 4-byte little-endian id at the start of a broker stream, and whatever followed it. */
async function readId (stream: YamuxStream, timeoutMs: number): Promise<{ id: number, rest: Uint8Array }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(brokerError(`broker stream ${stream.id} sent no id within ${timeoutMs} ms`)) }, timeoutMs)
  })
  try {
    const chunks: Uint8Array[] = []
    let have = 0
    while (have < 4) {
      const chunk = await Promise.race([stream.read(), timeout])
      if (chunk === null) throw brokerError(`broker stream ${stream.id} closed before its id`)
      chunks.push(chunk)
      have += chunk.length
    }
    const all = Buffer.concat(chunks)
    return { id: all.readUInt32LE(0), rest: new Uint8Array(all.subarray(4)) }
  } finally {
    clearTimeout(timer)
  }
}
