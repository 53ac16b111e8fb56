/**
 * The services go-plugin's plugin side registers on the control stream (rpc_server.go):
 *   Control.Ping(bool) -> struct{}    the host's health check (Argo pings before every use)
 *   Control.Quit(bool) -> struct{}    graceful exit (the host's Client.Kill)
 *   Dispenser.Dispense(name) -> uint32   reserve a broker id and serve the plugin behind it
 */
import { GobTypes } from '../gob/encoder.js'
import type { BrokerServe, MuxBroker } from './broker.js'
import type { RpcService } from './server.js'
import { EmptyStructType } from './types.js'

export function controlService (onQuit: () => void): RpcService {
  return new Map([
    ['Ping', () => ({ type: EmptyStructType, value: {} })],
    ['Quit', () => ({ type: EmptyStructType, value: {}, afterSent: onQuit })],
  ])
}

/** `plugins`: the names the host may dispense, each with the server to run on its stream. */
export function dispenserService (broker: MuxBroker, plugins: ReadonlyMap<string, BrokerServe>): RpcService {
  return new Map([
    ['Dispense', (args) => {
      const name = typeof args === 'string' ? args : ''
      const serve = plugins.get(name)
      if (serve === undefined) throw new Error(`unknown plugin type: ${name}`)
      return { type: GobTypes.uint, value: broker.reserve(serve) }
    }],
  ])
}
