/**
 * The shape of src/ (docs/architecture.md): no two folders import each other, directly or
 * round a longer loop; no file over 400 lines without saying why at its top; and config/ is a leaf that imports nothing outside itself but the
 * shared files at the top of src/ that import no folder (errors.ts, canonical-json.ts). Read from the source text: every static `import ... from`, `export ... from` and
 * dynamic `import()` of a relative path, `import type` included (a type shared both ways ties
 * two folders as tightly as a function does).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

/** A folder of src/ (`service`), or a file at its top (`errors.ts`). */
const unitOf = (file: string): string => relative(SRC, file).split('/')[0] as string

interface Edge { from: string, to: string }

export function importsOf (text: string): string[] {
  const found: string[] = []
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  for (const m of code.matchAll(/\b(?:import|export)\s[^;'"]*?\bfrom\s*'(\.[^']*)'|\bimport\s*\(\s*'(\.[^']*)'\s*\)|^\s*import\s+'(\.[^']*)'/gm)) {
    found.push((m[1] ?? m[2] ?? m[3]) as string)
  }
  return found
}

const files = readdirSync(SRC, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts'))
  .map((e) => join(e.parentPath, e.name))
const edges: Edge[] = files.flatMap((from) => importsOf(readFileSync(from, 'utf8'))
  .map((spec) => ({ from, to: normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts') })))

/** Strongly connected components of the folder graph with more than one folder: the cycles. */
function folderCycles (): string[][] {
  const next = new Map<string, Set<string>>()
  for (const e of edges) {
    const [a, b] = [unitOf(e.from), unitOf(e.to)]
    if (a === b) continue
    if (!next.has(a)) next.set(a, new Set())
    next.get(a)?.add(b)
  }
  // Tarjan's algorithm.
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const visit = (v: string): void => {
    index.set(v, counter)
    low.set(v, counter++)
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop() as string
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) components.push(component.sort())
    }
  }
  for (const v of next.keys()) if (!index.has(v)) visit(v)
  return components
}

t.test('the import scanner reads every form of import', async (t) => {
  t.same(importsOf([
    "import { a } from './a.js'",
    "import type { B } from '../b/b.js'",
    "export { c } from './c.js'",
    "export * from './d.js'",
    "const e = await import('./e.js')",
    "import './f.js'",
    "import {\n  g,\n  type G\n} from '../g.js'",
    "import { readFileSync } from 'node:fs'",
    "// import { h } from './h.js'",
  ].join('\n')), ['./a.js', '../b/b.js', './c.js', './d.js', './e.js', './f.js', '../g.js'])
})

t.test('no folder of src/ imports one that imports it back', async (t) => {
  t.ok(edges.length > 300, `${edges.length} imports read from ${files.length} files`)
  for (const cycle of folderCycles()) {
    const inside = edges.filter((e) => unitOf(e.from) !== unitOf(e.to) && cycle.includes(unitOf(e.from)) && cycle.includes(unitOf(e.to)))
    t.fail(`a cycle between ${cycle.join(', ')}:\n${inside.map((e) => `  ${relative(SRC, e.from)} -> ${relative(SRC, e.to)}`).join('\n')}`)
  }
})

t.test('config/ is a leaf: it imports nothing outside itself but top files that import no folder', async (t) => {
  const isFolder = (unit: string): boolean => !unit.endsWith('.ts')
  const shared = (unit: string): boolean => !isFolder(unit) && edges.every((e) => unitOf(e.from) !== unit || !isFolder(unitOf(e.to)))
  t.ok(shared('errors.ts') && !shared('cli.ts'), 'errors.ts is such a file, cli.ts is not')
  const out = edges.filter((e) => unitOf(e.from) === 'config' && unitOf(e.to) !== 'config' && !shared(unitOf(e.to)))
  t.same(out.map((e) => `${relative(SRC, e.from)} -> ${relative(SRC, e.to)}`), [])
})

t.test('no file in src/ is over 400 lines without saying why at its top', async (t) => {
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const lines = text.split('\n').length
    if (lines <= 400) continue
    const top = /^\/\*\*[\s\S]*?\*\//.exec(text)?.[0] ?? ''
    t.match(top, /Over 400 lines: \S/, `${relative(SRC, file)}: ${lines} lines; its top comment says why ("Over 400 lines: ...")`)
  }
})
