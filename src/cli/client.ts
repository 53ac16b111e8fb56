/** How the CLI asks a running gate: one GET, its JSON, and the gate's error as a GateError. */
import { request } from 'undici'
import { GateError } from '../errors.js'

/** GET `path` of the gate at `base` with `query`; the JSON of a 200, or a GateError saying what the gate answered. */
export async function askGate (base: string, path: string, query: Record<string, string>, key: string | undefined, timeoutMs = 30_000): Promise<any> {
  const url = new URL(path, base)
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (key !== undefined) headers['x-api-key'] = key
  let res
  try {
    res = await request(url, { headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  } catch (err) {
    throw new GateError('GATE_ERR_UPSTREAM_UNREACHABLE', `cannot reach the gate at ${url.origin}: ${(err as Error).message}`)
  }
  const text = await res.body.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    throw new GateError('GATE_ERR_UPSTREAM_RESPONSE', `the gate answered ${res.statusCode} with a body that is not JSON`)
  }
  if (res.statusCode !== 200) {
    const code = typeof body?.code === 'string' ? ` (${String(body.code)}${typeof body?.source === 'string' ? `, source ${String(body.source)}` : ''})` : ''
    throw new GateError('GATE_ERR_UPSTREAM_STATUS', `the gate answered ${res.statusCode}: ${String(body?.error ?? text.slice(0, 200))}${code}`)
  }
  return body
}
