import t from 'tap'
import { GateError } from '../../src/errors.js'
import { itemsOf, takeUntil, walkPages, type Page } from '../../src/sources/cordum/pages.js'

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

t.test('walks pages in order until next is null', async (t) => {
  const pages: Record<string, Page<number>> = { start: { items: [1, 2], next: 'b' }, b: { items: [3], next: 7 }, 7: { items: [4], next: null } }
  const asked: unknown[] = []
  const items = await collect(itemsOf(walkPages(async (c) => { asked.push(c); return pages[String(c ?? 'start')] as Page<number> }, { what: 'x', maxPages: 10 })))
  t.same(items, [1, 2, 3, 4])
  t.same(asked, [undefined, 'b', 7])
})

t.test('a repeating cursor and a page explosion are refused', async (t) => {
  const loop = walkPages(async (c) => ({ items: [1], next: c === undefined ? 'a' : c === 'a' ? 'b' : 'a' }), { what: 'GET /loop', maxPages: 10 })
  const err = await collect(loop).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof GateError && err.code === 'GATE_ERR_UPSTREAM_RESPONSE', 'an upstream response error')
  t.match((err as Error).message, /cursor a twice/)
  let n = 0
  const endless = walkPages(async () => ({ items: [n], next: ++n }), { what: 'GET /endless', maxPages: 5 })
  await t.rejects(collect(endless), /more than 5 pages/)
  t.equal(n, 5, 'stopped at the limit')
})

t.test('takeUntil stops fetching once the window is passed', async (t) => {
  let fetched = 0
  const pages = walkPages(async (c) => { fetched++; const start = (c as number | undefined) ?? 0; return { items: [start, start + 1], next: start + 2 } }, { what: 'x', maxPages: 100 })
  const items = await collect(takeUntil(itemsOf(pages), (x) => x >= 5))
  t.same(items, [0, 1, 2, 3, 4])
  t.equal(fetched, 3, 'no page beyond the one that crossed the limit')
})
