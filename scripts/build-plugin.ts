/**
 * npm run build:plugin: bundles the Argo metric-provider plugin (src/plugin/bin.ts and
 * everything it imports, undici included) with esbuild into dist-plugin/:
 *   agent-canary-gate-plugin.cjs   the bundle (run it with `node`)
 *   agent-canary-gate-plugin       the executable launcher Argo runs: `#!/usr/bin/env node`
 *                                  followed by the same bundle, mode 0755, one self-contained
 *                                  file, because Argo copies (or downloads) exactly the one
 *                                  file its ConfigMap names into plugin-bin/ and execs it.
 *   package.json                   {"type": "commonjs"}, so Node reads both as CommonJS here too.
 * The output depends only on the sources and the locked dependency versions, so its sha256 is
 * stable; plugin-manifests/ records it (npm run plugin:manifest).
 */
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const BUNDLE_NAME = 'agent-canary-gate-plugin.cjs'
export const LAUNCHER_NAME = 'agent-canary-gate-plugin'

export interface PluginBuild {
  bundle: string
  launcher: string
  sha256: string
  bytes: number
}

export async function buildPlugin (outDir = join(ROOT, 'dist-plugin')): Promise<PluginBuild> {
  mkdirSync(outDir, { recursive: true })
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/plugin/bin.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    outfile: join(outDir, BUNDLE_NAME),
    legalComments: 'eof',
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]?.contents
  if (code === undefined) throw new Error('esbuild produced no output')
  const bundle = join(outDir, BUNDLE_NAME)
  const launcher = join(outDir, LAUNCHER_NAME)
  writeFileSync(bundle, code)
  const executable = Buffer.concat([Buffer.from('#!/usr/bin/env node\n'), code])
  writeFileSync(launcher, executable)
  chmodSync(launcher, 0o755)
  // An extensionless file is ESM under a "type": "module" package.json (this repository's);
  // the bundle is CommonJS, which is also what Node assumes in Argo's plugin-bin/.
  writeFileSync(join(outDir, 'package.json'), '{ "type": "commonjs" }\n')
  return { bundle, launcher, sha256: sha256Of(launcher), bytes: executable.length }
}

export function sha256Of (file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildPlugin(process.argv[2] === undefined ? undefined : resolve(process.argv[2]))
  process.stdout.write(`built ${out.launcher} (${out.bytes} bytes, sha256 ${out.sha256})\n`)
}
