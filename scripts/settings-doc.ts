/**
 * npm run docs:settings: writes the table of docs/configuration.md (between its
 * `<!-- settings:begin -->` and `<!-- settings:end -->` lines) from src/config/settings.ts.
 * test/config/settings.test.ts fails while the file and the table disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SETTINGS, shownDefault, shownRange, type Setting } from '../src/config/settings.js'

export const CONFIGURATION_DOC = fileURLToPath(new URL('../docs/configuration.md', import.meta.url))
const BLOCK = /(<!-- settings:begin -->\n)[\s\S]*?(<!-- settings:end -->)/

const cell = (text: string): string => text.replace(/\|/g, '\\|')

function row (s: Setting): string {
  const meaning = `${s.meaning}${s.requires === undefined ? '' : ` (read only with \`${s.requires}\`)`}${s.secret === true ? '; a secret: never in logs or errors' : ''}`
  return `| \`${s.name}\` | ${cell(shownDefault(s))} | ${cell(shownRange(s))} | ${cell(meaning)} |`
}

/** The settings table as Markdown. */
export function settingsTable (): string {
  return ['| variable | default | range | meaning |', '|---|---|---|---|', ...SETTINGS.map(row)].join('\n')
}

/** `doc` with its settings block replaced by the table. */
export function withSettingsTable (doc: string): string {
  if (!BLOCK.test(doc)) throw new Error(`${CONFIGURATION_DOC}: no <!-- settings:begin --> ... <!-- settings:end --> block`)
  return doc.replace(BLOCK, (_m, begin: string, end: string) => `${begin}${settingsTable()}\n${end}`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CONFIGURATION_DOC, withSettingsTable(readFileSync(CONFIGURATION_DOC, 'utf8')))
  process.stdout.write(`${CONFIGURATION_DOC}: ${SETTINGS.length} settings\n`)
}
