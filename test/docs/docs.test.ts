/**
 * What a reader meets in the docs: Cordum's guide called by its name (never "the brief") and tables
 * that a stray blank line does not cut in two. Links between the docs: links.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function filesUnder (dir: string, keep: (f: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(ROOT.length))
    .filter(keep)
}

const MARKDOWN = [...['README.md', 'CONTRIBUTING.md'].filter((f) => existsSync(join(ROOT, f))), ...filesUnder('docs', (f) => f.endsWith('.md'))]
/** Everything a user reads: docs, manifests and examples with their comments, the sources' comments and messages. */
const USER_FACING = [
  ...MARKDOWN,
  ...['analysis-templates', 'deploy', 'examples', 'plugin-manifests', 'docker'].flatMap((d) => filesUnder(d, (f) => /\.(ya?ml|json|env|Dockerfile)$/.test(f) || f.endsWith('Dockerfile'))),
  ...filesUnder('src', (f) => f.endsWith('.ts')),
]

t.test('Cordum\'s guide is called by its name, never "the brief"', async (t) => {
  t.ok(USER_FACING.length > 100, `${USER_FACING.length} files read`)
  for (const f of USER_FACING) {
    readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
      if (/\bthe brief\b|\bbrief's\b|\bthe seed's\b|\bthe seed file\b/i.test(line)) t.fail(`${f}:${i + 1}: ${line.trim()}`)
    })
  }
  const named = MARKDOWN.filter((f) => readFileSync(join(ROOT, f), 'utf8').includes('["AI Agent Canary Deployment and Shadow Traffic"](https://cordum.io/blog/ai-agent-canary-shadow-deployment)'))
  t.ok(named.includes('README.md') && named.includes('docs/argo.md'), `named with its link in ${named.join(', ')}`)
})

t.test('no table is cut in two by a blank line', async (t) => {
  for (const f of MARKDOWN) {
    const lines = readFileSync(join(ROOT, f), 'utf8').split('\n')
    let fenced = false
    lines.forEach((line, i) => {
      if (line.startsWith('```')) fenced = !fenced
      if (fenced || line.trim() !== '') return
      const before = lines[i - 1] ?? ''
      const after = lines[i + 1] ?? ''
      const cells = (l: string): number => l.split('|').length
      // A table row, a blank line, then a row that is not a new table's header (no |---| line after it).
      if (before.startsWith('|') && after.startsWith('|') && cells(before) === cells(after) && !/^\|[-| :]+\|$/.test(lines[i + 2] ?? '')) {
        t.fail(`${f}:${i + 1}: a blank line inside a table`)
      }
    })
  }
  t.pass('tables checked')
})
