/** Builds the bundled plugin (scripts/build-plugin.ts) into a temporary directory. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildPlugin, type PluginBuild } from '../../../scripts/build-plugin.js'

export async function buildPluginForTest (t: { teardown: (fn: () => void) => unknown }): Promise<PluginBuild> {
  const dir = mkdtempSync(join(tmpdir(), 'acg-plugin-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return await buildPlugin(dir)
}
