/**
 * One host connection, served as go-plugin's RPCServer.ServeConn does (rpc_server.go): a yamux
 * server session whose first stream is the control stream (Control, Dispenser), the next two
 * the host's stdout and stderr streams, and every later one a broker stream (mux_broker.go).
 */
import type { Duplex } from 'node:stream'
import { DISPENSE_NAME } from './argo.js'
import type { PluginLogger } from './log.js'
import { MuxBroker } from './netrpc/broker.js'
import { controlService, dispenserService } from './netrpc/control.js'
import { RpcServer } from './netrpc/server.js'
import type { GateMetricProvider } from './provider.js'
import { pluginService } from './service.js'
import { YamuxSession } from './yamux/session.js'
import type { YamuxStream } from './yamux/stream.js'

export interface HostConnectionDeps {
  provider: GateMetricProvider
  log: PluginLogger
  /** Control.Quit was answered: the host wants the plugin to exit. */
  onQuit: () => void
}

/** The host's stdout/stderr streams carry plugin output in Go plugins; this plugin writes its
 * logs to the process's stderr instead, and only reads these streams so they never stall. */
async function drain (stream: YamuxStream): Promise<void> {
  try {
    while (await stream.read() !== null) { /* nothing is expected from the host here */ }
    stream.close()
  } catch { /* reset with the session */ }
}

export function serveHostConnection (socket: Duplex, deps: HostConnectionDeps): YamuxSession {
  const { log } = deps
  const broker = new MuxBroker(log)
  const plugin = new RpcServer(new Map([['Plugin', pluginService(deps.provider)]]), { log })
  const control = new RpcServer(new Map([
    ['Control', controlService(deps.onQuit)],
    ['Dispenser', dispenserService(broker, new Map([[DISPENSE_NAME, (stream: YamuxStream, rest: Uint8Array) => {
      plugin.serve(stream, rest).then(
        () => { log.debug('plugin stream closed by the host', { stream: stream.id }) },
        (err: Error) => { log.warn('plugin stream failed', { stream: stream.id, error: err.message }) }
      )
    }]]))],
  ]), { log })

  let accepted = 0
  const session = new YamuxSession(socket, {
    onWarning: (message) => { log.warn(message) },
    onStream: (stream) => {
      accepted++
      if (accepted === 1) {
        control.serve(stream).then(
          () => { log.debug('control stream closed by the host') },
          (err: Error) => { log.warn('control stream failed', { error: err.message }) }
        )
      } else if (accepted <= 3) {
        void drain(stream)
      } else {
        void broker.accept(stream)
      }
    },
  })
  session.on('close', () => { broker.close() })
  return session
}
