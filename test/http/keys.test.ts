/**
 * Keys of their own for /metrics (METRICS_API_KEY) and for verifying the chains
 * (VERIFY_API_KEYS), issue 20 items 2 and 8: /metrics names every tenant's rollouts and
 * verdicts, and a verify walks whole chains, so neither is for any scoring key.
 */
import t from 'tap'
import { readConfig } from '../../src/config/env.js'
import { gateFor, getJson } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'
import { request } from 'undici'

const SCORER = 'argo-scorer-key-0123456789'
const AUDITOR = 'auditor-verify-key-0123456789'
const SCRAPER = 'prometheus-scrape-key-0123456789'

async function status (url: string, key?: string): Promise<number> {
  const res = await request(url, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } })
  await res.body.text()
  return res.statusCode
}

t.test('METRICS_API_KEY guards /metrics; VERIFY_API_KEYS alone may verify', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { now: () => T0, env: { GATE_API_KEYS: SCORER, VERIFY_API_KEYS: AUDITOR, METRICS_API_KEY: SCRAPER } })
  t.equal(await status(`${url}/metrics`), 401, '/metrics without a key: 401')
  t.equal(await status(`${url}/metrics`, SCORER), 401, '/metrics with a scoring key: 401')
  t.equal(await status(`${url}/metrics`, SCRAPER), 200, '/metrics with METRICS_API_KEY: 200')
  t.equal(await status(`${url}/healthz`), 200, 'the probes stay open')

  const verify = `${url}/api/v1/decisions/verify`
  t.equal(await status(verify), 401, 'verify without a key: 401')
  const refused = await getJson(verify, { 'x-api-key': SCORER })
  t.equal(refused.status, 403, 'verify with a scoring key: 403')
  t.match(refused.body, { code: 'GATE_ERR_FORBIDDEN', error: /VERIFY_API_KEYS/ }, 'naming the setting')
  t.match(await getJson(verify, { 'x-api-key': AUDITOR }), { status: 200, body: { ok: true } }, 'verify with a key of VERIFY_API_KEYS: 200')
  t.equal(await status(`${url}/api/v1/decisions`, AUDITOR), 401, 'a verify key opens nothing else')
  t.equal(await status(`${url}/api/v1/decisions`, SCORER), 200, 'the scoring key still lists records')
})

t.test('without the settings: /metrics open, any gate key verifies (as before)', async (t) => {
  const sandbox = await sandboxFor(t)
  const { url } = await gateFor(t, sandbox, { now: () => T0, env: { GATE_API_KEYS: SCORER } })
  t.equal(await status(`${url}/metrics`), 200)
  t.equal(await status(`${url}/api/v1/decisions/verify`, SCORER), 200)
})

t.test('the settings are checked at start', async (t) => {
  t.throws(() => readConfig({ METRICS_API_KEY: 'short' }), { code: 'GATE_ERR_CONFIG_INVALID', message: /^METRICS_API_KEY entry 1: a key must be 16-512 characters/ })
  t.throws(() => readConfig({ METRICS_API_KEY: `${SCRAPER},${SCORER}` }), { code: 'GATE_ERR_CONFIG_INVALID', message: /^METRICS_API_KEY: must be one key/ })
  t.throws(() => readConfig({ VERIFY_API_KEYS: `${AUDITOR},${AUDITOR}` }), { code: 'GATE_ERR_CONFIG_INVALID', message: /^VERIFY_API_KEYS entry 2: the same key as entry 1/ })
})
