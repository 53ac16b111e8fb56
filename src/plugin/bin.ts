/**
 * Entry point of the bundled plugin executable (npm run build:plugin). SIGINT is ignored, as
 * go-plugin plugins do: a Ctrl-C in the controller's terminal reaches the whole process group,
 * and the host shuts its plugins down itself (Control.Quit). SIGTERM stops the plugin.
 */
import { startPlugin } from './main.js'

startPlugin({ argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr }).then((plugin) => {
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => { plugin.stop() })
  return plugin.exitCode
}).then((code) => {
  process.exit(code)
}, (err: unknown) => {
  process.stderr.write(`agent-canary-gate plugin: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
