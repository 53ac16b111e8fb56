/**
 * A net/rpc server (Go net/rpc server.go) on one stream: requests are a Request header
 * {ServiceMethod, Seq} followed by the argument; each reply is a Response header
 * {ServiceMethod, Seq, Error} followed by the result (or struct{} when Error is set). Calls run
 * concurrently and are answered as they finish, matched by Seq, as Argo expects: it measures
 * metrics in parallel goroutines over one client.
 *
 * At most `maxInFlight` calls run at once per stream; past that, no more requests are read, so
 * the host is held back by the yamux window rather than by memory here.
 */
import { isGateError } from '../../errors.js'
import type { EncodableValue, GobType } from '../gob/encoder.js'
import { gobError, isGobStruct, type GobValue } from '../gob/wire.js'
import type { PluginLogger } from '../log.js'
import type { YamuxStream } from '../yamux/stream.js'
import { GobStreamCodec } from './codec.js'
import { EmptyStructType, ResponseType } from './types.js'

export interface RpcReply {
  type: GobType
  value: EncodableValue
  /** Runs once the reply has been handed to the connection (Control.Quit exits then). */
  afterSent?: () => void
}

/** A method: the decoded argument in, the reply out. A rejection becomes Response.Error. */
export type RpcMethod = (args: GobValue) => Promise<RpcReply> | RpcReply

export type RpcService = ReadonlyMap<string, RpcMethod>

export interface RpcServerOptions {
  maxInFlight?: number
  log: PluginLogger
}

export class RpcServer {
  private readonly maxInFlight: number

  constructor (private readonly services: ReadonlyMap<string, RpcService>, private readonly options: RpcServerOptions) {
    this.maxInFlight = options.maxInFlight ?? 32
  }

  /**
   * Serves requests until the host closes the stream (resolves) or sends something that is not
   * net/rpc over gob (the stream is reset and the promise rejects).
   */
  async serve (stream: YamuxStream, initial?: Uint8Array): Promise<void> {
    const codec = new GobStreamCodec(stream, {}, initial)
    const inFlight = new Set<Promise<void>>()
    let slotFreed: (() => void) | null = null
    try {
      for (;;) {
        if (inFlight.size >= this.maxInFlight) await new Promise<void>((resolve) => { slotFreed = resolve })
        const header = await codec.readValue()
        if (header === undefined) {
          // The host closed its side: answer what is running, then close ours (net/rpc's
          // ServeCodec waits for its responses before closing the codec too).
          await Promise.allSettled(inFlight)
          stream.close()
          return
        }
        if (!isGobStruct(header)) throw gobError('request header is not a struct')
        const serviceMethod = typeof header.ServiceMethod === 'string' ? header.ServiceMethod : ''
        const seq = header.Seq ?? 0 // a zero Seq is not sent
        if (typeof seq !== 'number' && typeof seq !== 'bigint') throw gobError('request Seq is not an integer')
        const args = await codec.readValue()
        if (args === undefined) throw gobError(`request ${serviceMethod} ended before its argument`)
        const call: Promise<void> = this.call(serviceMethod, args)
          .then(async (reply) => { await this.respond(codec, serviceMethod, seq, reply) })
          .finally(() => {
            inFlight.delete(call)
            const wake = slotFreed
            slotFreed = null
            wake?.()
          })
        inFlight.add(call)
      }
    } catch (err) {
      if (!stream.isReset) stream.reset((err as Error).message)
      throw err
    }
  }

  private async call (serviceMethod: string, args: GobValue): Promise<RpcReply | { error: string }> {
    const dot = serviceMethod.lastIndexOf('.')
    if (dot < 0) return { error: `rpc: service/method request ill-formed: ${serviceMethod}` }
    const service = this.services.get(serviceMethod.slice(0, dot))
    if (service === undefined) return { error: `rpc: can't find service ${serviceMethod}` }
    const method = service.get(serviceMethod.slice(dot + 1))
    if (method === undefined) return { error: `rpc: can't find method ${serviceMethod}` }
    try {
      return await method(args)
    } catch (err) {
      if (!isGateError(err)) this.options.log.error('rpc method failed', { method: serviceMethod, error: (err as Error).message })
      return { error: (err as Error).message }
    }
  }

  private async respond (codec: GobStreamCodec, serviceMethod: string, seq: number | bigint, reply: RpcReply | { error: string }): Promise<void> {
    const header = (error: string): EncodableValue => ({ ServiceMethod: serviceMethod, Seq: seq, Error: error })
    try {
      if ('error' in reply) {
        await codec.write([[ResponseType, header(reply.error)], [EmptyStructType, {}]])
        return
      }
      let sent: Promise<void>
      try {
        sent = codec.write([[ResponseType, header('')], [reply.type, reply.value]])
      } catch (err) {
        // The reply could not be encoded (a bug): still answer the call.
        this.options.log.error('rpc reply could not be encoded', { method: serviceMethod, error: (err as Error).message })
        sent = codec.write([[ResponseType, header(`plugin could not encode its reply: ${(err as Error).message}`)], [EmptyStructType, {}]])
      }
      await sent
      reply.afterSent?.()
    } catch (err) {
      // The stream went away under the reply: nobody is left to answer.
      this.options.log.debug('rpc reply not delivered', { method: serviceMethod, error: (err as Error).message })
    }
  }
}
