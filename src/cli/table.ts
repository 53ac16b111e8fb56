/**
 * Plain-text tables and paragraphs that fit a terminal. A table is laid out at its natural
 * width when that fits; otherwise the widest wrappable columns give up width first, their cells
 * wrapping at spaces (a word longer than its column is cut), until the table fits. Colour
 * escapes are not counted as width, and a coloured cell never wraps.
 */

const ANSI = /\x1b\[[0-9;]*m/g

export function visible (s: string): number {
  return s.replace(ANSI, '').length
}

/** Words of `text` on lines at most `width` long; a longer word is cut. */
export function wrapWords (text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (let word of text.split(' ').filter((w) => w !== '')) {
    // Only a plain word is ever longer than a column: coloured ones are single short marks.
    while (visible(word) > width) {
      if (line !== '') { lines.push(line); line = '' }
      lines.push(word.slice(0, width))
      word = word.slice(width)
    }
    if (line === '') line = word
    else if (visible(line) + 1 + visible(word) <= width) line += ` ${word}`
    else { lines.push(line); line = word }
  }
  if (line !== '' || lines.length === 0) lines.push(line)
  return lines
}

/** A paragraph at most `width` wide, continuation lines indented by `indent` spaces. */
export function paragraph (text: string, width: number, indent = 2): string[] {
  if (visible(text) <= width) return [text]
  const lead = /^ */.exec(text)?.[0] ?? ''
  const [first, ...rest] = wrapWords(text.slice(lead.length), Math.max(10, width - lead.length - indent))
  return [`${lead}${first ?? ''}`, ...rest.map((l) => `${lead}${' '.repeat(indent)}${l}`)]
}

/** Parts joined by two spaces, a new line (indented by two) where the next would pass `width`. */
export function pack (parts: string[], width: number): string[] {
  const lines: string[] = []
  for (const part of parts) {
    const last = lines.at(-1)
    if (last !== undefined && visible(last) + 2 + visible(part) <= width) lines[lines.length - 1] = `${last}  ${part}`
    else lines.push(lines.length === 0 ? part : `  ${part}`)
  }
  return lines
}

/**
 * Rows (the header first) laid out in at most `width` columns: one array of lines per row. A
 * column whose cells hold colour never wraps.
 */
export function layout (rows: string[][], width: number): string[][] {
  const columns = rows[0]?.length ?? 0
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => visible(r[i] ?? ''))))
  const wraps = widths.map((_, i) => rows.every((r) => (r[i] ?? '') === (r[i] ?? '').replace(ANSI, '')))
  const longestWord = widths.map((_, i) => Math.max(...rows.map((r) => Math.max(...(r[i] ?? '').split(' ').map((w) => w.length)))))
  const total = (): number => widths.reduce((a, b) => a + b, 0) + 2 * (columns - 1)
  // First down to each column's longest word, widest column first; then, if still too wide,
  // cutting words, down to 6 characters a column.
  for (const floor of [longestWord, widths.map(() => 6)]) {
    while (total() > width) {
      let widest = -1
      for (let i = 0; i < columns; i++) {
        if (wraps[i] === true && (widths[i] as number) > Math.max(floor[i] as number, visible(rows[0]?.[i] ?? '')) && (widest === -1 || (widths[i] as number) > (widths[widest] as number))) widest = i
      }
      if (widest === -1) break
      widths[widest] = (widths[widest] as number) - 1
    }
  }
  return rows.map((row) => {
    const cells = row.map((cell, i) => (wraps[i] === true ? wrapWords(cell, widths[i] as number) : [cell]))
    const height = Math.max(...cells.map((c) => c.length))
    return Array.from({ length: height }, (_, line) => cells.map((c, i) => {
      const text = c[line] ?? ''
      return i === columns - 1 ? text : text + ' '.repeat(Math.max(0, (widths[i] as number) - visible(text)))
    }).join('  ').trimEnd())
  })
}

/** A table as text lines, at most `width` wide where its columns can wrap. */
export function table (rows: string[][], width: number): string[] {
  return layout(rows, width).flat()
}
