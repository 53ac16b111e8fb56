/**
 * The gate's API keys at their boundaries (src/http/auth.ts): which GATE_API_KEYS entries are
 * accepted, which header forms carry a key, which key a request is matched to, and the two
 * refusals (401 missing or unknown, 403 another tenant). The routes' use of them is
 * test/http/security.test.ts.
 */
import t from 'tap'
import { authenticate, authorizeTenant, findKey, parseApiKeys, presentedKey } from '../../src/http/auth.js'
import { thrown } from '../helpers/failure.js'

const KEY = 'abcdefghijklmnop' // 16 characters: the shortest key accepted
const OTHER = 'qrstuvwxyz012345'

t.test('GATE_API_KEYS: a key is 16 to 512 characters of [A-Za-z0-9._~+/=-], nothing around them', async (t) => {
  t.equal(parseApiKeys(KEY).length, 1, '16 characters')
  t.equal(parseApiKeys('k'.repeat(512)).length, 1, '512 characters')
  t.equal(parseApiKeys('aZ09._~+/=-aZ09._~+/=-').length, 1, 'every allowed character')
  for (const [key, why] of [
    [KEY.slice(1), '15 characters'],
    ['k'.repeat(513), '513 characters'],
    [`!${KEY}`, 'a character outside the set before 16 good ones'],
    [`${KEY}!`, 'and after them'],
    [`${KEY.slice(0, 8)} ${KEY.slice(8)}`, 'a space inside'],
  ] as const) {
    const err = thrown(() => parseApiKeys(`${OTHER},${key}`))
    t.equal(err.code, 'GATE_ERR_CONFIG_INVALID', `${why}: refused`)
    t.equal(err.message, 'GATE_API_KEYS entry 2: a key must be 16-512 characters of letters, digits and . _ ~ + / = -', `${why}: the entry named by position`)
    t.notOk(err.message.includes(key), `${why}: the value is not echoed`)
  }
  // Issue 20: a repeated key was bound by its first entry only, silently.
  t.throws(() => parseApiKeys(`${KEY}:a,other-key-0123456789,${KEY}:b`), { code: 'GATE_ERR_CONFIG_INVALID', message: 'GATE_API_KEYS entry 3: the same key as entry 1; give each key once (KEY:tenant1|tenant2 for several tenants)' }, 'a key given twice is refused, by position, without its value')
})

t.test('GATE_API_KEYS: unset, empty or blank means no keys; entries and tenants are trimmed', async (t) => {
  t.same(parseApiKeys(undefined), [])
  t.same(parseApiKeys(''), [])
  t.same(parseApiKeys('   '), [], 'blank')
  const keys = parseApiKeys(` ${KEY} , ${OTHER}: team-a | team-b `)
  t.same(keys.map((k) => [k.index, k.tenants]), [[1, undefined], [2, ['team-a', 'team-b']]], 'positions from 1; a key without tenants may read any tenant')
  t.equal(findKey(keys, OTHER)?.index, 2, 'the key is the part before the colon, trimmed')
})

t.test('GATE_API_KEYS: a bad tenant name is refused, shown cut to 64 characters', async (t) => {
  const long = `-${'x'.repeat(99)}`
  const err = thrown(() => parseApiKeys(`${KEY}:ok|${long}`))
  t.equal(err.code, 'GATE_ERR_CONFIG_INVALID')
  t.equal(err.message, `GATE_API_KEYS entry 1: '${long.slice(0, 64)}' is not a valid tenant name (write KEY:tenant1|tenant2)`)
  t.throws(() => parseApiKeys(`${KEY}:`), /entry 1: '' is not a valid tenant name/, 'an empty tenant list')
  t.throws(() => parseApiKeys(`${KEY}:a||b`), /entry 1: '' is not a valid tenant name/, 'an empty tenant between bars')
})

t.test('a key is presented in X-API-Key or as Authorization: Bearer, in that order', async (t) => {
  t.equal(presentedKey({ 'x-api-key': KEY }), KEY)
  t.equal(presentedKey({ authorization: `Bearer ${KEY}` }), KEY)
  t.equal(presentedKey({ authorization: `bearer ${KEY}` }), KEY, 'the scheme in any case')
  t.equal(presentedKey({ authorization: `Bearer   ${KEY}` }), KEY, 'more than one space after the scheme')
  t.equal(presentedKey({ authorization: `Bearer ${KEY}  ` }), KEY, 'trailing spaces')
  t.equal(presentedKey({ 'x-api-key': OTHER, authorization: `Bearer ${KEY}` }), OTHER, 'X-API-Key wins')
  t.equal(presentedKey({ 'x-api-key': '', authorization: `Bearer ${KEY}` }), KEY, 'an empty X-API-Key is no key: the Bearer token is used')
  for (const authorization of [`Basic ${KEY}`, `XBearer ${KEY}`, `Basic Bearer ${KEY}`, `Bearer ${KEY} extra`, 'Bearer', 'Bearer ', KEY]) {
    t.equal(presentedKey({ authorization }), undefined, `Authorization: '${authorization}' carries no key`)
  }
  t.equal(presentedKey({ 'x-api-key': [KEY, OTHER] }), undefined, 'a repeated X-API-Key is no key')
  t.equal(presentedKey({}), undefined)
})

t.test('a browser presents the key as a Basic password (the decision pages): any user name, the key after the first colon', async (t) => {
  const basic = (pair: string, scheme = 'Basic'): Record<string, string> => ({ authorization: `${scheme} ${Buffer.from(pair).toString('base64')}` })
  t.equal(presentedKey(basic(`me:${KEY}`)), KEY)
  t.equal(presentedKey(basic(`:${KEY}`)), KEY, 'an empty user name')
  t.equal(presentedKey(basic(`me:${KEY}:more`)), `${KEY}:more`, 'a password holding a colon: everything after the first')
  t.equal(presentedKey(basic(`me:${KEY}`, 'basic')), KEY, 'the scheme in any case')
  t.equal(presentedKey({ authorization: `${basic(`me:${KEY}`).authorization as string}  ` }), KEY, 'trailing spaces')
  const encoded = Buffer.from(`me:${KEY}`).toString('base64')
  t.equal(presentedKey({ authorization: `Basic   ${encoded}` }), KEY, 'more than one space after the scheme')
  t.equal(presentedKey({ authorization: `XBasic ${encoded}` }), undefined, 'another scheme ending in Basic: no key')
  t.equal(presentedKey({ authorization: `Basic ${encoded} extra` }), undefined, 'anything after the credentials: no key')
  t.equal(presentedKey({ 'x-api-key': OTHER, ...basic(`me:${KEY}`) }), OTHER, 'X-API-Key wins')
  t.equal(presentedKey(basic('me:')), undefined, 'no password: no key')
  t.equal(presentedKey(basic(KEY)), undefined, 'no colon: no key (a user name alone)')
  t.equal(presentedKey({ authorization: 'Basic ***' }), undefined, 'not base64: no key')
  t.equal(authenticate(parseApiKeys(`${OTHER},${KEY}`), basic(`argo:${KEY}`)).index, 2, 'and it authenticates as that key')
})

t.test('the first entry matching the presented key is the one used', async (t) => {
  const [bound, any] = [...parseApiKeys(`${KEY}:team-a`), ...parseApiKeys(KEY)]
  const keys = [{ ...bound!, index: 1 }, { ...any!, index: 2 }]
  t.equal(findKey(keys, KEY)?.index, 1, 'a key listed twice matches its first entry')
  t.equal(findKey(keys, OTHER), undefined)
  t.equal(findKey(keys, undefined), undefined)
  t.equal(findKey([], KEY), undefined)
})

t.test('authenticate: 401 without a key, 401 for an unknown key, each saying which', async (t) => {
  const keys = parseApiKeys(`${KEY},${OTHER}:team-a`)
  t.equal(authenticate(keys, { 'x-api-key': OTHER }).index, 2)
  const missing = thrown(() => authenticate(keys, {}))
  t.equal(missing.code, 'GATE_ERR_UNAUTHORIZED')
  t.equal(missing.message, 'an API key is required: send it in X-API-Key or Authorization: Bearer')
  const unknown = thrown(() => authenticate(keys, { authorization: `Bearer ${KEY}x` }))
  t.equal(unknown.code, 'GATE_ERR_UNAUTHORIZED')
  t.equal(unknown.message, 'the API key is not valid for this gate')
})

t.test('authorizeTenant: a bound key reads only its tenants, an unbound one any', async (t) => {
  const [unbound, bound] = parseApiKeys(`${KEY},${OTHER}:team-a|team-b`) as [ReturnType<typeof parseApiKeys>[number], ReturnType<typeof parseApiKeys>[number]]
  t.doesNotThrow(() => authorizeTenant(unbound, 'anything'))
  t.doesNotThrow(() => authorizeTenant(bound, 'team-a'))
  t.doesNotThrow(() => authorizeTenant(bound, 'team-b'))
  const err = thrown(() => authorizeTenant(bound, 'team-ab'))
  t.equal(err.code, 'GATE_ERR_FORBIDDEN')
  t.equal(err.message, "this API key may not read tenant 'team-ab'")
})
