import t from 'tap'
import { readConfig } from '../../src/config/env.js'
import { GateError } from '../../src/errors.js'
import { authenticate, authorizeTenant, parseApiKeys } from '../../src/http/auth.js'
import { buildServer } from '../../src/http/server.js'

function refusal (fn: () => unknown): GateError {
  try { fn() } catch (err) { if (err instanceof GateError) return err; throw err }
  throw new Error('expected a refusal')
}

t.test('environment: defaults, demo mode, refusals naming the variable without secrets', async (t) => {
  const d = readConfig({})
  t.match(d, { port: 8080, host: '0.0.0.0', logLevel: 'info', tenant: 'default', apiKeys: [] })
  t.equal(d.cordum, undefined, 'no CORDUM_URL: demo mode')
  const c = readConfig({ PORT: '0', CORDUM_URL: 'https://cordum.example:8081/', CORDUM_API_KEY: 'k', CORDUM_TENANT: 'acme' })
  t.same(c.cordum, { url: 'https://cordum.example:8081', apiKey: 'k', deadlineMs: 8000 })
  t.equal(c.port, 0)
  t.match(refusal(() => readConfig({ PORT: '80a' })).message, /^PORT: must be a whole number/)
  t.match(refusal(() => readConfig({ LOG_LEVEL: 'loud' })).message, /^LOG_LEVEL: must be one of/)
  t.match(refusal(() => readConfig({ CORDUM_URL: 'ftp://x' })).message, /^CORDUM_URL: must use http or https/)
  const creds = refusal(() => readConfig({ CORDUM_URL: 'https://user:s3cret@cordum.example' }))
  t.match(creds.message, /must not carry credentials/)
  t.notMatch(creds.message, /s3cret/)
  t.equal(d.publicUrl, undefined, 'no PUBLIC_URL: report links name the address asked')
  t.equal(readConfig({ PUBLIC_URL: ' https://gate.example.com/canary/ ' }).publicUrl, 'https://gate.example.com/canary')
  t.match(refusal(() => readConfig({ PUBLIC_URL: 'gate.example.com' })).message, /^PUBLIC_URL: must be the http\(s\) address/)
  t.match(refusal(() => readConfig({ PUBLIC_URL: 'https://gate.example.com/?a=1' })).message, /^PUBLIC_URL: must not have a query string/)
  t.notMatch(refusal(() => readConfig({ PUBLIC_URL: 'https://u:pw-s3cret@gate.example.com' })).message, /s3cret/)
})

t.test('GATE_API_KEYS: format, tenant binding, errors that never echo a key', async (t) => {
  const keys = parseApiKeys(' ops-key-0123456789abcdef , bound-key-0123456789abc:team-a|team-b ')
  t.equal(keys.length, 2)
  t.same(keys[1]?.tenants, ['team-a', 'team-b'])
  const ops = authenticate(keys, { 'x-api-key': 'ops-key-0123456789abcdef' })
  t.equal(ops.index, 1)
  authorizeTenant(ops, 'anything')
  const bound = authenticate(keys, { authorization: 'Bearer bound-key-0123456789abc' })
  authorizeTenant(bound, 'team-b')
  t.equal(refusal(() => authorizeTenant(bound, 'team-c')).code, 'GATE_ERR_FORBIDDEN')
  t.equal(refusal(() => authenticate(keys, {})).code, 'GATE_ERR_UNAUTHORIZED')
  t.equal(refusal(() => authenticate(keys, { 'x-api-key': 'ops-key-0123456789abcdeX' })).code, 'GATE_ERR_UNAUTHORIZED')
  const short = refusal(() => parseApiKeys('good-key-0123456789abc,short'))
  t.match(short.message, /^GATE_API_KEYS entry 2: a key must be 16-512 characters/)
  t.notMatch(short.message, /short/)
  t.match(refusal(() => parseApiKeys('good-key-0123456789abc:bad tenant')).message, /entry 1: 'bad tenant' is not a valid tenant/)
})

t.test('timeouts: a silent socket is kept longer than the handler may run, whatever the upstream deadline', async (t) => {
  // No bytes flow while a score is judged: a connection timeout under the handler's backstop
  // would close the socket of a long (CORDUM_DEADLINE_MS up to 60 s) evaluation without an answer.
  for (const deadline of ['1000', '8000', '60000']) {
    const gate = await buildServer(readConfig({ LOG_LEVEL: 'silent', EVIDENCE_URL: 'none', CORDUM_URL: 'http://127.0.0.1:9', CORDUM_DEADLINE_MS: deadline }), { underPressure: false })
    await gate.app.ready()
    const { handlerTimeout } = gate.app.initialConfig as { handlerTimeout: number }
    t.ok(handlerTimeout > Number(deadline), `CORDUM_DEADLINE_MS=${deadline}: the handler backstop (${handlerTimeout} ms) comes after the deadline`)
    t.ok(gate.app.server.timeout >= handlerTimeout + 5_000, `and the socket timeout (${gate.app.server.timeout} ms) after the backstop`)
    await gate.app.close()
  }
})
