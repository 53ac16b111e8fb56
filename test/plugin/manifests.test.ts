/**
 * plugin-manifests/ and docker/: the ConfigMap entry records the sha256 of the plugin that
 * `npm run build:plugin` builds from this commit, names the path the controller image puts it
 * at, and the AnalysisTemplate is valid against Argo Rollouts v1.9.1's CRD schema (and would
 * not lose fields to Kubernetes' pruning), with Argo's own metric rules and a plugin config the
 * plugin accepts.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { Ajv } from 'ajv'
import t from 'tap'
import { parseAllDocuments, parse as parseYaml } from 'yaml'
import { parsePluginConfig } from '../../src/plugin/config.js'
import { PLUGIN_NAME } from '../../src/plugin/argo.js'
import { buildPluginForTest } from './helpers/plugin-build.js'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')

type Doc = Record<string, any>

const docs: Array<{ file: string, doc: Doc }> = readdirSync(new URL('plugin-manifests/', root))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((file) => parseAllDocuments(read(`plugin-manifests/${file}`)).map((d) => ({ file, doc: d.toJS() as Doc })))

const configMap = docs.find((d) => d.doc.kind === 'ConfigMap')?.doc
const template = docs.find((d) => d.doc.kind === 'AnalysisTemplate')?.doc

interface PluginEntry { name: string, location: string, sha256: string, args?: string[] }
const entries = parseYaml(String(configMap?.data?.metricProviderPlugins ?? '[]')) as PluginEntry[]
const entry = entries.find((e) => e.name === PLUGIN_NAME)

t.test('the ConfigMap entry', async (t) => {
  t.match(configMap, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argo-rollouts-config' } })
  t.ok(entry, `metricProviderPlugins has ${PLUGIN_NAME}`)
  t.match(entry?.name, /^([a-zA-Z0-9-]+)\/([a-zA-Z0-9_\-.]+)$/, "name matches Argo's plugin name pattern (utils/config/config.go)")
  t.match(entry?.sha256, /^[0-9a-f]{64}$/, '64 hex digits (any other length never matches in Argo)')
  t.match(entry?.location, /^file:\/\/\//, 'a file:// location inside the controller image')
  const dockerfile = read('docker/controller-with-plugin.Dockerfile')
  const path = new URL(entry?.location ?? 'file:///').pathname
  t.ok(dockerfile.includes('cp /out/agent-canary-gate-plugin /home-skel/plugins/agent-canary-gate') && path === '/home/argo-rollouts/plugins/agent-canary-gate',
    'the Dockerfile puts the plugin where the location points')
})

t.test('the recorded sha256 is that of a fresh build', async (t) => {
  const built = await buildPluginForTest(t)
  t.equal(entry?.sha256, built.sha256, 'plugin-manifests/argo-rollouts-config.yaml is stale: run `npm run plugin:manifest` and commit the result')
})

/** Keys Kubernetes would silently prune: not declared where the schema does not keep unknown fields. */
function undeclared (schema: Doc, value: unknown, path: string): string[] {
  if (schema === undefined || value === null || typeof value !== 'object') return []
  if (Array.isArray(value)) return value.flatMap((v, i) => undeclared(schema.items, v, `${path}[${i}]`))
  if (schema['x-kubernetes-preserve-unknown-fields'] === true || schema.properties === undefined) return []
  return Object.entries(value).flatMap(([k, v]) => schema.properties[k] === undefined ? [`${path}.${k}`] : undeclared(schema.properties[k], v, `${path}.${k}`))
}

t.test('the AnalysisTemplate against the Argo Rollouts v1.9.1 CRD', async (t) => {
  t.ok(template, 'an AnalysisTemplate is shipped')
  const crd = parseYaml(read('../shared/argo-rollouts-crds/analysis-template-crd.yaml')) as Doc
  const version = (crd.spec.versions as Doc[]).find((v) => v.name === template?.apiVersion.split('/')[1])
  t.ok(version, `CRD serves ${String(template?.apiVersion)}`)
  const schema = version?.schema.openAPIV3Schema as Doc
  const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema)
  t.ok(validate(template), `valid: ${JSON.stringify(validate.errors ?? [])}`)
  t.strictSame(undeclared(schema, template, 'AnalysisTemplate'), [], 'no field Kubernetes would prune')

  // Argo's own metric validation (utils/analysis/factory.go ValidateMetric).
  for (const m of template?.spec.metrics as Doc[]) {
    const n = (x: unknown): number => (x === undefined ? 0 : Number(x))
    t.ok(n(m.count) >= n(m.failureLimit) + n(m.consecutiveSuccessLimit), `${m.name}: count >= failureLimit + consecutiveSuccessLimit`)
    t.ok(n(m.count) >= n(m.inconclusiveLimit), `${m.name}: count >= inconclusiveLimit`)
    t.ok(m.count === undefined || n(m.count) <= 1 || m.interval !== undefined, `${m.name}: count > 1 needs an interval`)
    t.equal(Object.keys(m.provider).length, 1, 'exactly one provider')

    // The plugin config, with {{args.*}} substituted as Argo does, is one the plugin accepts.
    const args = new Map<string, string>((template?.spec.args as Doc[]).map((a) => [a.name, a.value ?? `value-of-${String(a.name)}`]))
    const raw = JSON.stringify(m.provider.plugin[PLUGIN_NAME]).replace(/\{\{\s*args\.([\w-]+)\s*\}\}/g, (_all, name: string) => {
      const v = args.get(name)
      if (v === undefined) throw new Error(`{{args.${name}}} is not a declared arg`)
      return v
    })
    const config = parsePluginConfig(Buffer.from(raw))
    t.equal(config.stage, 'canary-1', 'stage from the stage arg')
    t.equal(config.apiKey, 'value-of-gate-api-key', 'API key from the secret-backed arg')
  }
})
