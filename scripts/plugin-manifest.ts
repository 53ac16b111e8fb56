/**
 * npm run plugin:manifest: builds the plugin (dist-plugin/) and writes its sha256 into
 * plugin-manifests/argo-rollouts-config.yaml. test/plugin/manifests.test.ts fails while the
 * recorded hash and a fresh build disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, buildPlugin } from './build-plugin.js'

export const CONFIG_MAP = join(ROOT, 'plugin-manifests', 'argo-rollouts-config.yaml')
const SHA_LINE = /^(\s*sha256:\s*)"[0-9a-f]*"/m

const built = await buildPlugin()
const text = readFileSync(CONFIG_MAP, 'utf8')
if (!SHA_LINE.test(text)) throw new Error(`${CONFIG_MAP}: no sha256: "..." line to update`)
writeFileSync(CONFIG_MAP, text.replace(SHA_LINE, `$1"${built.sha256}"`))
process.stdout.write(`${CONFIG_MAP}: sha256 ${built.sha256} (${built.launcher}, ${built.bytes} bytes)\n`)
