/**
 * Debian's Chromium (/usr/bin/chromium), driven by playwright-core (which never downloads a
 * browser of its own), for tests that look at pages as a person does. Every page is watched:
 * the requests it makes and the errors its console reports are recorded, so a test can say
 * that nothing left the gate and nothing broke. Any host but loopback resolves to nothing,
 * so a page that reached for a CDN would fail visibly, not silently work on this machine.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { hasCommand, needTool } from './tools.js'

export const CHROMIUM = '/usr/bin/chromium'

/** Where the browser tests write what they saw (gitignored; two of them are copied into docs/images). */
export const SCREENSHOTS = fileURLToPath(new URL('../browser/screenshots/', import.meta.url))

interface Teardown { teardown: (fn: () => unknown) => void, comment: (...args: unknown[]) => void }

export async function browserFor (t: Teardown & Parameters<typeof needTool>[0]): Promise<BrowserContext | undefined> {
  if (!needTool(t, 'chromium', hasCommand(CHROMIUM, ['--version']), 'Debian package chromium (/usr/bin/chromium)')) return undefined
  const profile = mkdtempSync(join(tmpdir(), 'acg-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  mkdirSync(SCREENSHOTS, { recursive: true })
  t.comment(`screenshots: ${SCREENSHOTS}`)
  return context
}

export interface Watched { requests: string[], errors: string[] }

/** Records every request the page makes and every console error or uncaught exception. */
export function watch (page: Page): Watched {
  const w: Watched = { requests: [], errors: [] }
  page.on('request', (r) => { w.requests.push(r.url()) })
  page.on('requestfailed', (r) => { w.errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`) })
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') w.errors.push(`console ${m.type()}: ${m.text()}`) })
  page.on('pageerror', (e) => { w.errors.push(`page error: ${e.message}`) })
  return w
}
