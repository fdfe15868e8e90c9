// Headless Chromium for the page tests: Debian's package driven by playwright-core (no browser download).
import { existsSync } from 'node:fs'
import type { Test } from 'tap'
import { chromium, type Browser, type Page, type WebSocketRoute } from 'playwright-core'

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
export const SCREENSHOTS = new URL('../test-results/', import.meta.url)

/** A browser closed in teardown, or undefined (the test planned empty, or failed under REQUIRE_SERVICES=1) when there is no Chromium. */
export async function launchChromium (t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    const reason = `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`
    if (process.env.REQUIRE_SERVICES === '1') { t.fail(`${reason} (REQUIRE_SERVICES=1)`); return }
    console.log(`# skipping: ${reason}`)
    t.plan(0, reason)
    return
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
  t.teardown(() => browser.close())
  return browser
}

/** One demo-page user in a context of its own (own storage), joined to a channel and online; uncaught page errors go to `errors`. */
export async function joinDemo (browser: Browser, base: string, name: string, channel: string, errors: string[], route?: (ws: WebSocketRoute) => void): Promise<Page> {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.setDefaultTimeout(20_000) // a failure is reported well within tap's timeout
  page.on('pageerror', (err) => errors.push(`${name}: ${err.message}`))
  if (route) await page.routeWebSocket(/\/ws/, route)
  await page.goto(base)
  await page.fill('#name', name)
  await page.fill('#channel', channel)
  await page.click('#join button')
  await page.locator('#status.online').waitFor()
  return page
}

/** A message on the demo page, by its text. */
export const demoMessage = (page: Page, text: string) => page.locator('#messages .message', { hasText: text })
