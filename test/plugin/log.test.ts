/** hclog-compatible JSON lines, as go-plugin's host parses them (log_entry.go parseJSON). */
import t from 'tap'
import { PluginLogger, hclogTimestamp, parseLogLevel } from '../../src/plugin/log.js'
import { PLUGIN_VERSION } from '../../src/plugin/version.js'
import { readFileSync } from 'node:fs'

t.test('one JSON object a line with @level, @message, @timestamp in hclog\'s layout', async (t) => {
  const lines: string[] = []
  const log = new PluginLogger({ write: (l: string) => lines.push(l) }, 'info', 'agent-canary-gate', () => Date.UTC(2026, 10, 26, 9, 0, 0, 123))
  log.debug('hidden')
  log.info('measured', { canary: 'c', score: 97, '@level': 'error', skipped: undefined })
  log.error('broken')
  t.equal(lines.length, 2, 'below the threshold is dropped')
  t.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')))
  t.strictSame(JSON.parse(lines[0] as string), { canary: 'c', score: 97, '@level': 'info', '@message': 'measured', '@module': 'agent-canary-gate', '@timestamp': '2026-11-26T09:00:00.123000Z' }, 'a field cannot override @level')
  t.match(hclogTimestamp(0), /^1970-01-01T00:00:00\.000000Z$/, 'six fractional digits: Go parses 2006-01-02T15:04:05.000000Z07:00')
  t.equal(parseLogLevel('WARN'), 'warn')
  t.equal(parseLogLevel('verbose'), undefined)
})

t.test('the plugin version matches package.json', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal(PLUGIN_VERSION, pkg.version)
})
