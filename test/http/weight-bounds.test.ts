/**
 * The traffic split's expected weight at its bounds outside the judge: a percentage from 0 to
 * 100 inclusive, in the score API (GET and POST) and in the Argo plugin's config; just outside,
 * a 400 (or a refused config) that names the field. How the judge uses the weight is
 * test/gate/.
 */
import t from 'tap'
import { parsePluginConfig } from '../../src/plugin/config.js'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { gateFor, getJson, postJson, scoreUrl } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

const ask = { stage: 'canary-1', canary: 'support-agent-healthy', baseline: BASELINE_AGENT }

t.test('score API: weight 0 and 100 are judged; just below 0 or above 100 is a 400 naming weight', async (t) => {
  const sb = await sandboxFor(t)
  const { url } = await gateFor(t, sb, { now: () => T0 })
  for (const weight of ['0', '100', '0.5', '99.5']) {
    t.equal((await getJson(scoreUrl(url, { ...ask, weight }))).status, 200, `GET weight=${weight}: judged`)
    t.equal((await postJson(`${url}/api/v1/score`, { ...ask, weight: Number(weight) })).status, 200, `POST weight ${weight}: judged`)
  }
  for (const weight of ['-0.5', '100.5', '-1', '101']) {
    const get = await getJson(scoreUrl(url, { ...ask, weight }))
    t.match(get, { status: 400, body: { code: 'GATE_ERR_BAD_REQUEST', details: { field: 'weight' } } }, `GET weight=${weight}: refused, naming weight`)
    const post = await postJson(`${url}/api/v1/score`, { ...ask, weight: Number(weight) })
    t.match(post, { status: 400, body: { code: 'GATE_ERR_BAD_REQUEST', details: { field: 'weight' } } }, `POST weight ${weight}: refused, naming weight`)
    t.notOk('verdict' in get.body || 'verdict' in post.body, 'never a verdict')
  }
})

t.test('plugin config: weight 0 and 100 accepted, just outside refused naming weight', async (t) => {
  const config = (weight: unknown): Uint8Array => Buffer.from(JSON.stringify({ address: 'http://gate:8080', stage: 'canary-1', weight }))
  for (const weight of [0, 100, '0', '100', 0.5, 99.5]) t.equal(parsePluginConfig(config(weight)).weight, Number(weight), `weight ${JSON.stringify(weight)}`)
  for (const weight of [-0.5, 100.5, -1, 101, '101']) t.throws(() => parsePluginConfig(config(weight)), /weight must be between 0 and 100/, `weight ${JSON.stringify(weight)} refused`)
})
