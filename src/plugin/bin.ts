/**
 * Entry point of the bundled plugin executable (npm run build:plugin). SIGINT is ignored, as
 * go-plugin plugins do: a Ctrl-C in the controller's terminal reaches the whole process group,
 * and the host shuts its plugins down itself (Control.Quit). SIGTERM stops the plugin. Both
 * handlers are in place before the handshake line goes out, so no signal can catch the
 * process with Node's default action.
 */
import { startPlugin, type PluginProcess } from './main.js'

let plugin: PluginProcess | undefined
let stopRequested = false
process.on('SIGINT', () => {})
process.on('SIGTERM', () => { stopRequested = true; plugin?.stop() })
// A host that closes the plugin's stdout (it died before reading the handshake) makes the
// handshake's write fail with EPIPE: the plugin ends as when its host goes away, exit 0,
// instead of dying on Node's unhandled-error stack. A closed stderr only loses the logs.
process.stdout.on('error', () => { stopRequested = true; plugin?.stop() })
process.stderr.on('error', () => {})

startPlugin({ argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr }).then((started) => {
  plugin = started
  if (stopRequested) started.stop()
  return started.exitCode
}).then((code) => {
  process.exit(code)
}, (err: unknown) => {
  process.stderr.write(`agent-canary-gate plugin: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
