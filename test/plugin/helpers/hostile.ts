/**
 * Hostile input for the plugin's decoders: the byte streams Go wrote (test/fixtures/plugin: gob
 * values, yamux frames), mutations of them, and how each decoder ends on such bytes. Shared by
 * test/plugin/decoder-fuzz.test.ts (outcomes and memory) and bench/decoders.ts (the slowest case).
 */
import { readFileSync } from 'node:fs'
import { Duplex } from 'node:stream'
import fc from 'fast-check'
import { isGateError } from '../../../src/errors.js'
import { GobDecoder } from '../../../src/plugin/gob/decoder.js'
import { GobMessageSplitter } from '../../../src/plugin/gob/framing.js'
import { INITIAL_WINDOW } from '../../../src/plugin/yamux/frame.js'
import { YamuxSession } from '../../../src/plugin/yamux/session.js'
import type { YamuxStream } from '../../../src/plugin/yamux/stream.js'
import { unhex } from './tagged.js'

export const gobVectors = (JSON.parse(readFileSync(new URL('../../fixtures/plugin/gob-vectors.json', import.meta.url), 'utf8')) as Array<{ hex: string }>).map((v) => unhex(v.hex))
export const yamuxVector = unhex((JSON.parse(readFileSync(new URL('../../fixtures/plugin/yamux-frames.json', import.meta.url), 'utf8')) as { hex: string }).hex)

export interface Mutation { kind: 'flip' | 'insert' | 'delete' | 'truncate' | 'splice-big', at: number, byte: number }
export const mutation = fc.record({ kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate', 'splice-big'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) as fc.Arbitrary<Mutation>

/** `bytes` with the edits applied; `splice-big` writes 0xff 0xff 0xff 0xff (a huge count or length) at a spot. */
export function mutate (bytes: Uint8Array, edits: Mutation[]): Uint8Array {
  const out = [...bytes]
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % out.length
    if (e.kind === 'flip') out[at] = e.byte
    else if (e.kind === 'insert') out.splice(at, 0, e.byte)
    else if (e.kind === 'delete') out.splice(at, 1)
    else if (e.kind === 'truncate') out.length = at
    else out.splice(at, Math.min(4, out.length - at), 0xff, 0xff, 0xff, 0xff)
  }
  return new Uint8Array(out)
}

export type GobOutcome = 'decoded' | 'incomplete' | 'refused'

export function feedGob (bytes: Uint8Array, chunk: number): GobOutcome {
  const decoder = new GobDecoder()
  const splitter = new GobMessageSplitter(decoder.maxMessageBytes)
  let decoded = false
  try {
    for (let at = 0; at < bytes.length; at += chunk) {
      for (const m of splitter.push(bytes.subarray(at, at + chunk))) decoder.pushMessage(m)
      while (decoder.tryDecode() !== undefined) decoded = true
    }
  } catch (err) {
    if (isGateError(err) && err.code === 'GATE_ERR_PLUGIN_PROTOCOL') return 'refused'
    throw err
  }
  return decoded ? 'decoded' : 'incomplete'
}

/** Feeds bytes to a YamuxSession over an in-memory socket; the outcome, or throws on an unclean end. */
export function feedYamux (bytes: Uint8Array, chunk: number): 'refused' | 'open' {
  const socket = new Duplex({ read () {}, write (_c, _e, cb) { cb() } })
  const streams: YamuxStream[] = []
  const session = new YamuxSession(socket, { onStream: (s) => { streams.push(s) }, maxStreams: 8 })
  let closed = false
  let closeErr: Error | undefined
  session.on('close', (err) => { closed = true; closeErr = err })
  for (let at = 0; at < bytes.length; at += chunk) socket.emit('data', Buffer.from(bytes.subarray(at, at + chunk)))
  for (const s of streams) if (s.buffered > INITIAL_WINDOW) throw new Error(`stream ${s.id} buffered ${s.buffered} bytes, over its window`)
  const refused = closed
  session.close()
  if (refused && closeErr !== undefined && !isGateError(closeErr)) throw closeErr
  return refused ? 'refused' : 'open'
}
