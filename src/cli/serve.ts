import { readConfig } from '../config/env.js'
import { SETTINGS, shownDefault, shownRange } from '../config/settings.js'
import { runServer } from '../http/server.js'
import { EXIT_OK, parseOptions, type Command } from './command.js'
import { wrapWords } from './table.js'

/** Markdown as plain text for a terminal: a link becomes its text and the docs page, code loses its backticks. */
const plain = (markdown: string): string => markdown
  .replace(/\(\[[^\]]*\]\(([^)#]*)[^)]*\)\)/g, '(docs/$1)')
  .replace(/\[([^\]]*)\]\(([^)#]*)[^)]*\)/g, '$1 (docs/$2)')
  .replace(/`/g, '')

/** One variable of the settings table (src/config/settings.ts): its name, default and range, then its meaning. */
function settingHelp (s: (typeof SETTINGS)[number]): string {
  const shown = plain(shownDefault(s))
  const head = `${s.name} (${shown.startsWith('unset') ? shown : `default ${shown}`}; ${plain(shownRange(s))}${s.requires === undefined ? '' : `; read with ${s.requires}`})`
  return [...wrapWords(head, 78).map((l, i) => `${i === 0 ? '  ' : '      '}${l}`), ...wrapWords(plain(s.meaning), 74).map((l) => `      ${l}`)].join('\n')
}

export const serve: Command = {
  name: 'serve',
  summary: 'run the score service (HTTP API for Argo and curl)',
  usage: `usage: agent-canary-gate serve

Configured by environment variables (docs/configuration.md):
${SETTINGS.map(settingHelp).join('\n')}

Logs are JSON lines on stdout; the line "Server listening at http://HOST:PORT" gives the address.`,
  async run (argv, io) {
    parseOptions({ args: argv, options: {} }, serve)
    await runServer(readConfig(io.env))
    return EXIT_OK
  },
}
