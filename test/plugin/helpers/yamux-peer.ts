/**
 * A raw yamux peer for tests: a real loopback TCP connection to a YamuxSession (the plugin's
 * side), on which the test writes hand-made frames and reads back the parsed frames the
 * session sends.
 */
import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { FrameParser, encodeHeader, type FrameHeader } from '../../../src/plugin/yamux/frame.js'
import { YamuxSession, type YamuxSessionOptions } from '../../../src/plugin/yamux/session.js'
import type { YamuxStream } from '../../../src/plugin/yamux/stream.js'

export interface ReceivedFrame extends FrameHeader { payload: Buffer }

export interface Peer {
  session: YamuxSession
  client: Socket
  streams: YamuxStream[]
  frames: ReceivedFrame[]
  send: (type: number, flags: number, streamId: number, length: number, payload?: Uint8Array) => void
  sendRaw: (bytes: Uint8Array) => void
  /** Resolves once a frame matching `match` has arrived (checking frames already received too). */
  waitFor: (match: (f: ReceivedFrame) => boolean, timeoutMs?: number) => Promise<ReceivedFrame>
  closed: Promise<Error | undefined>
  close: () => void
}

export async function yamuxPeer (options: Partial<YamuxSessionOptions> = {}): Promise<Peer> {
  const streams: YamuxStream[] = []
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const [socket] = await accepted
  server.close()
  const session = new YamuxSession(socket, { onStream: (s) => { streams.push(s); options.onStream?.(s) }, maxStreams: options.maxStreams, onWarning: options.onWarning })
  const closed = once(session, 'close').then(([err]) => err as Error | undefined)

  const frames: ReceivedFrame[] = []
  const waiters: Array<{ match: (f: ReceivedFrame) => boolean, resolve: (f: ReceivedFrame) => void }> = []
  let payload: Buffer[] = []
  const parser = new FrameParser({
    onFrame: () => {},
    onPayload: (_h, chunk) => { payload.push(Buffer.from(chunk)) },
    onFrameEnd: (h) => {
      const f = { ...h, payload: Buffer.concat(payload) }
      payload = []
      frames.push(f)
      for (const w of waiters.splice(0)) {
        if (w.match(f)) w.resolve(f)
        else waiters.push(w)
      }
    },
  })
  client.on('data', (chunk: Buffer) => { parser.push(chunk) })
  client.on('error', () => {})

  return {
    session,
    client,
    streams,
    frames,
    send: (type, flags, streamId, length, body) => {
      client.write(encodeHeader({ type: type as FrameHeader['type'], flags, streamId, length }))
      if (body !== undefined) client.write(body)
    },
    sendRaw: (bytes) => { client.write(bytes) },
    waitFor: (match, timeoutMs = 5000) => {
      const seen = frames.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error('timed out waiting for a frame')) }, timeoutMs)
        waiters.push({ match, resolve: (f) => { clearTimeout(timer); resolve(f) } })
      })
    },
    closed,
    close: () => { client.destroy(); socket.destroy() },
  }
}

export const until = async (cond: () => boolean, timeoutMs = 5000): Promise<void> => {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
