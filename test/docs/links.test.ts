/**
 * Every relative link in the README, CONTRIBUTING.md and docs/ leads somewhere: to a file that
 * exists and, when it names an #anchor, to a heading (or an explicit `<a id>`) of that file, as
 * GitHub renders it. The anchors follow GitHub's slug rules (lower case, punctuation dropped,
 * spaces to hyphens, a repeated heading suffixed -1, -2, ...), so a link that works here works
 * on GitHub too. Links and headings inside code are not links or headings, and are skipped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const MARKDOWN = [
  ...['README.md', 'CONTRIBUTING.md'].filter((f) => existsSync(join(ROOT, f))),
  ...readdirSync(join(ROOT, 'docs'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.md'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name))),
].sort()

/** The lines of a Markdown file outside fenced code blocks (`line` with inline code blanked out, `raw` as written); numbered from 1. */
function prose (text: string): Array<{ line: string, raw: string, n: number }> {
  const out: Array<{ line: string, raw: string, n: number }> = []
  let fence: string | undefined
  text.split('\n').forEach((line, i) => {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line)
    if (fence === undefined && open !== null) { fence = (open[1] as string)[0]; return }
    if (fence !== undefined) {
      if (open !== null && (open[1] as string)[0] === fence) fence = undefined
      return
    }
    out.push({ line: line.replace(/(`+)[^`]*?\1/g, (m) => ' '.repeat(m.length)), raw: line, n: i + 1 })
  })
  return out
}

/** GitHub's anchor for a heading's text (github-slugger): the rendered text, lower case, punctuation dropped, spaces to hyphens. */
function slug (heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link or picture shows its text
    .replace(/<[^>]+>/g, '') // inline HTML shows nothing of its tags
    .replace(/`/g, '')
    .replace(/\*+/g, '')
  return rendered.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

const anchorCache = new Map<string, Set<string>>()
/** The anchors a Markdown file offers: its headings' slugs (repeats numbered as GitHub does) and explicit `<a id|name>`. */
function anchorsOf (file: string): Set<string> {
  const known = anchorCache.get(file)
  if (known !== undefined) return known
  const text = readFileSync(file, 'utf8')
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const { raw } of prose(text)) {
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw)
    if (h !== null) {
      const base = slug(h[1] as string)
      const count = seen.get(base) ?? 0
      seen.set(base, count + 1)
      anchors.add(count === 0 ? base : `${base}-${count}`)
    }
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] as string)
  anchorCache.set(file, anchors)
  return anchors
}

/** Link targets on a line: inline links and pictures `[text](target "title")`, reference definitions `[x]: target`, HTML href/src. */
function targets (line: string): string[] {
  const found: string[] = []
  for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push(m[1] as string)
  const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line)
  if (def !== null) found.push(def[1] as string)
  for (const m of line.matchAll(/\s(?:href|src)="([^"]+)"/g)) found.push(m[1] as string)
  return found
}

t.test('the slug rules are GitHub\'s', async (t) => {
  t.equal(slug('Configuration'), 'configuration')
  t.equal(slug('HTTP API: `/api/v1/score`'), 'http-api-apiv1score')
  t.equal(slug('Argo wiring (AnalysisTemplate)'), 'argo-wiring-analysistemplate')
  t.equal(slug('What `CORDUM_MAX_PAGES` bounds'), 'what-cordum_max_pages-bounds')
  t.equal(slug('[Cordum](https://cordum.io) signals'), 'cordum-signals')
  t.equal(slug('Größe & Ärger'), 'größe--ärger')
})

t.test('every relative link in the README, CONTRIBUTING.md and docs/ leads to a file, and to a heading when it names one', async (t) => {
  t.ok(MARKDOWN.includes('README.md') && MARKDOWN.filter((f) => f.startsWith('docs/')).length >= 10, `${MARKDOWN.length} files read`)
  let checked = 0
  for (const f of MARKDOWN) {
    for (const { line, n } of prose(readFileSync(join(ROOT, f), 'utf8'))) {
      for (const target of targets(line)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue // http:, mailto:, ...: not a file here
        checked++
        const [rawPath, hash] = target.split('#', 2) as [string, string | undefined]
        const path = decodeURIComponent(rawPath)
        const file = path === '' ? join(ROOT, f) : path.startsWith('/') ? join(ROOT, path) : join(ROOT, dirname(f), path)
        if (!existsSync(file)) {
          t.fail(`${f}:${n}: ${target}: no such file`)
          continue
        }
        if (hash === undefined || hash === '') continue
        if (!statSync(file).isFile() || !file.endsWith('.md')) {
          t.fail(`${f}:${n}: ${target}: an anchor into something that is not a Markdown file`)
          continue
        }
        const anchors = anchorsOf(file)
        if (!anchors.has(decodeURIComponent(hash))) t.fail(`${f}:${n}: ${target}: ${relative(ROOT, file)} has no heading #${hash}`)
      }
    }
  }
  t.ok(checked > 50, `${checked} relative links checked`)
})
