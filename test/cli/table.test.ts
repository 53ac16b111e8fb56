/**
 * The CLI's tables fit the width they are given and lose no word: whatever the cells, a table
 * laid out in `width` columns has no longer line, and each cell's words read back in order.
 */
import fc from 'fast-check'
import t from 'tap'
import { layout, pack, paragraph, table } from '../../src/cli/table.js'
import { assertProperty } from '../helpers/property.js'

const word = fc.stringMatching(/^[a-z0-9.%()/<=-]{1,14}$/)
const cell = fc.array(word, { minLength: 1, maxLength: 6 }).map((ws) => ws.join(' '))

t.test('a laid-out table is never wider than asked, and keeps every word of every cell in order', async (t) => {
  const shape = [fc.integer({ min: 3, max: 7 }), fc.integer({ min: 60, max: 120 }), fc.integer({ min: 1, max: 6 }), fc.infiniteStream(cell)] as const
  t.doesNotThrow(() => assertProperty(fc.property(...shape, (columns, width, count, cells) => {
    const header = Array.from({ length: columns }, (_, i) => `H${i}`)
    const rows = [header, ...Array.from({ length: count }, () => Array.from({ length: columns }, () => cells.next().value as string))]
    const laid = layout(rows, width)
    for (const line of laid.flat()) if (line.length > width) return false
    // Read each row back: the column starts are where the header's columns start.
    const head = laid[0]?.[0] ?? ''
    const starts = header.map((h) => head.indexOf(h))
    return rows.slice(1).every((row, r) => row.every((text, i) => {
      const from = starts[i] as number
      const to = i + 1 < columns ? starts[i + 1] as number : Number.POSITIVE_INFINITY
      const read = (laid[r + 1] ?? []).map((l) => l.slice(from, to).trim()).filter((x) => x !== '').join(' ')
      return read.replaceAll(' ', '') === text.replaceAll(' ', '')
    }))
  }), { numRuns: 300 }))
})

t.test('a table that fits is laid out whole; colour is not width and never wraps', async (t) => {
  const rows = [['SIGNAL', 'STATUS'], ['policy_deny_rate', '\x1b[31mfail\x1b[0m']]
  t.same(table(rows, 80), ['SIGNAL            STATUS', 'policy_deny_rate  \x1b[31mfail\x1b[0m'])
  t.same(paragraph('  - a reason long enough to wrap at twenty', 20), ['  - a reason long', '    enough to wrap', '    at twenty'])
  t.same(pack(['VERDICT FAIL', 'score 0', 'stage canary-1', 'window a .. b'], 31), ['VERDICT FAIL  score 0', '  stage canary-1  window a .. b'])
})
