/**
 * The decision pages over real HTTP, as a person (or a link from Argo and Grafana) meets them:
 * an answer's reportUrl opens its page, with the looks of its analysis; the rollout page; the
 * lookup Grafana's data links use; the API keys and tenant rules of the JSON API, with Basic
 * credentials for browsers; errors as pages.
 */
import t from 'tap'
import { request } from 'undici'
import { BASELINE_AGENT } from '../../src/sandbox/scenarios.js'
import { gateFor, getJson, scoreUrl } from '../helpers/gate.js'
import { sandboxFor, T0 } from '../helpers/sandbox.js'

const ADMIN = 'acme-prod-key-0123456789'
const OTHER = 'other-team-key-0123456789'

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, text: string, headers: Record<string, unknown> }> {
  const res = await request(url, { headers })
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers }
}

const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })

t.test('from an answer to its page, its looks, its rollout, and back to the JSON', async (t) => {
  let now = T0
  const sandbox = await sandboxFor(t, { now: () => now })
  const { url } = await gateFor(t, sandbox, { now: () => now, env: { GATE_API_KEYS: `${ADMIN},${OTHER}:other` } })
  const key = { 'x-api-key': ADMIN }
  const q = { stage: 'canary-1', canary: 'support-agent-deny-spike', baseline: BASELINE_AGENT, rollout: 'support-agent', namespace: 'prod', revision: '4' }
  const answers = []
  for (let i = 0; i < 3; i++) {
    answers.push((await getJson(scoreUrl(url, q), key)).body)
    now += 5 * 60_000
  }
  const adhoc = (await getJson(scoreUrl(url, { stage: 'canary-1', canary: 'support-agent-too-new', baseline: BASELINE_AGENT }), key)).body
  const [first, second, third] = answers
  t.equal(second.reportUrl, `${url}/decisions/${second.decisionId as string}`)

  const pageOf = await get(second.reportUrl, key)
  t.equal(pageOf.status, 200)
  t.match(pageOf.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(pageOf.headers['content-security-policy'], /default-src 'none'/, 'nothing may load from anywhere')
  t.match(pageOf.text, /<h1 data-verdict="fail">/)
  t.match(pageOf.text, new RegExp(`rel="prev" data-link="previous" href="\\./${first.decisionId as string}"`), 'the previous look of this analysis')
  t.match(pageOf.text, new RegExp(`rel="next" data-link="next" href="\\./${third.decisionId as string}"`), 'and the next')
  t.match(pageOf.text, /look<\/dt><dd>2 of 3 shown/)
  t.notMatch(pageOf.text, new RegExp(adhoc.decisionId), 'another analysis is not a look of this one')
  t.match(pageOf.text, /data-chain="ok"/)
  t.match(pageOf.text, /previous in chain<\/dt><dd><span class="badge pass" data-status="pass"><span aria-hidden="true">✓<\/span> linked<\/span> record 1/)
  const json = await get(new URL(/data-link="json" href="([^"]+)"/.exec(pageOf.text)?.[1] as string, second.reportUrl).href, key)
  t.equal(JSON.parse(json.text).id, second.decisionId, 'the JSON link is the record')
  const rolloutHref = /data-link="rollout" href="([^"]+)"/.exec(pageOf.text)?.[1]?.replaceAll('&amp;', '&') as string
  const rollout = await get(new URL(rolloutHref, second.reportUrl).href, key)
  t.equal(rollout.status, 200)
  t.equal((rollout.text.match(/data-decision="/g) ?? []).length, 3, 'the rollout page lists its three decisions')

  // An unnamed request's page: its analysis is its canary's, and its rollout page is its canary's.
  const adhocPage = await get(adhoc.reportUrl, key)
  t.match(adhocPage.text, /<h1 data-verdict="inconclusive">/)
  t.match(adhocPage.text, /data-to-decide>Time to a decision: about \d+ more canary events/, 'an undecided look says how far it is from a decision')
  const byCanary = await get(`${url}/rollouts?rollout=support-agent-too-new`, key)
  t.match(byCanary.text, /<h1>Rollout canary support-agent-too-new<\/h1>/, 'a rollout name no request named is looked up as a canary, as /metrics labels it')

  // Grafana's data links: the decision of a rollout and stage at a point's time.
  const at = async (params: Record<string, string>): Promise<{ status: number, location?: string }> => {
    const res = await request(`${url}/decisions?${new URLSearchParams(params).toString()}`, { headers: key })
    await res.body.dump()
    return { status: res.statusCode, location: res.headers.location as string | undefined }
  }
  t.same(await at({ namespace: 'prod', rollout: 'support-agent', stage: 'canary-1', time: String(T0 + 7 * 60_000) }), { status: 302, location: `decisions/${second.decisionId as string}` }, 'the decision at or before the time')
  t.same(await at({ namespace: 'prod', rollout: 'support-agent', stage: 'canary-1' }), { status: 302, location: `decisions/${third.decisionId as string}` }, 'no time: the latest')
  t.same(await at({ rollout: 'support-agent-too-new', namespace: '', stage: 'canary-1', time: new Date(now).toISOString() }), { status: 302, location: `decisions/${adhoc.decisionId as string}` }, 'an unnamed rollout by its canary, an RFC 3339 time')
  t.equal((await at({ rollout: 'support-agent', stage: 'canary-1', time: String(T0 - 60_000) })).status, 404, 'nothing that early')
  const badTime = await get(`${url}/decisions?rollout=support-agent&time=yesterday`, key)
  t.equal(badTime.status, 400)
  t.match(badTime.text, /<p class="summary">time: must be epoch milliseconds/, 'a bad time is named, on a page')

  // Keys: the JSON API's rules; Basic for browsers.
  const anonymous = await get(second.reportUrl)
  t.equal(anonymous.status, 401)
  t.match(anonymous.headers['www-authenticate'], /^Basic realm="agent-canary-gate"/, 'a browser is asked for the key')
  t.match(anonymous.text, /give any user name and the key as the password/)
  t.equal((await get(second.reportUrl, basic('me', ADMIN))).status, 200, 'the key as a Basic password opens the page')
  t.equal((await get(second.reportUrl, basic('me', 'not-the-key-0123456789'))).status, 401)
  t.equal((await getJson(scoreUrl(url, q), basic('argo', ADMIN))).status, 200, 'and works on the API too')
  const other = await get(second.reportUrl, { 'x-api-key': OTHER })
  t.equal(other.status, 404, 'a key of another tenant: not found, as in the JSON API')
  t.notMatch(other.text, /support-agent-deny-spike/)
  t.equal((await get(`${url}/rollouts?tenant=default&rollout=support-agent`, { 'x-api-key': OTHER })).status, 403)
  t.notMatch((await get(`${url}/rollouts?rollout=support-agent`, { 'x-api-key': OTHER })).text, /data-decision=/, 'and sees none of its rollouts')
  const missing = await get(`${url}/decisions/01a21cc7-7858-7001-86d6-9e7e978aaa80`, key)
  t.equal(missing.status, 404)
  t.match(missing.text, /no decision record &#39;01a21cc7-7858-7001-86d6-9e7e978aaa80&#39;/)
})
