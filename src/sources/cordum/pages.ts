/**
 * Page walking for Cordum's cursor-paginated lists, as small async iterators that callers
 * compose and count as they go: no list is ever held whole, so a long window costs memory
 * for one page at a time. (A later change can fetch time slices in parallel and cache closed
 * slices on top of these.)
 *
 * Cordum's cursors are not all alike (research/cordum-api.md section 1): decisions use an
 * opaque string, jobs/DLQ an int64 microsecond score. A walker takes a page fetcher that
 * returns the items and the cursor for the next page (or null), and guards against the two
 * ways a misbehaving upstream can make a client loop: a cursor that repeats, and an endless
 * run of pages.
 */
import { GateError } from '../../errors.js'

export interface Page<T> {
  items: T[]
  /** Cursor of the next page, or null when this was the last. */
  next: string | number | null
}

export interface WalkLimits {
  /** Refuse to read more pages than this for one list (page-count explosion). */
  maxPages: number
  /** What is being walked, for error messages: "GET /api/v1/jobs". */
  what: string
  /** The operator setting behind maxPages, named in the refusal so it can be raised (CORDUM_MAX_PAGES). */
  setting?: string
}

export { DEFAULT_MAX_PAGES } from '../../config/settings.js'

/** Yields each page's items in order until the upstream says there is no next page. */
export async function * walkPages<T> (
  fetchPage: (cursor: string | number | undefined) => Promise<Page<T>>,
  limits: WalkLimits
): AsyncGenerator<T[], void, undefined> {
  const seen = new Set<string>()
  let cursor: string | number | undefined
  for (let pages = 0; ; pages++) {
    if (pages >= limits.maxPages) {
      const raise = limits.setting === undefined ? '' : `, or raise ${limits.setting} (${limits.maxPages}) if the upstream's list really is that long`
      throw new GateError('GATE_ERR_UPSTREAM_RESPONSE', `${limits.what}: more than ${limits.maxPages} pages for this window; narrow the window (since) or check the upstream's paging${raise}`, { source: 'cordum' })
    }
    const page = await fetchPage(cursor)
    yield page.items
    if (page.next === null) return
    const key = `${typeof page.next}:${page.next}`
    if (seen.has(key) || page.next === cursor) {
      throw new GateError('GATE_ERR_UPSTREAM_RESPONSE', `${limits.what}: the upstream returned cursor ${String(page.next).slice(0, 40)} twice; refusing to loop over the same pages`, { source: 'cordum' })
    }
    seen.add(key)
    cursor = page.next
  }
}

/** Flattens a page walk into items (still one page in memory at a time). */
export async function * itemsOf<T> (pages: AsyncIterable<T[]>): AsyncGenerator<T, void, undefined> {
  for await (const items of pages) yield * items
}

/** Stops an item stream at the first item for which `done` is true (e.g. older than the window). */
export async function * takeUntil<T> (items: AsyncIterable<T>, done: (item: T) => boolean): AsyncGenerator<T, void, undefined> {
  for await (const item of items) {
    if (done(item)) return
    yield item
  }
}
