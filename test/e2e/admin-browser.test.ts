// The operator dashboard in a real browser (Debian's Chromium through playwright-core, as the demo
// page's test): /admin asks for the key, then its charts follow the live figures. A screenshot goes to
// test-results/ (ignored by git).
import { mkdirSync } from 'node:fs'
import { test } from 'tap'
import { launchChromium, SCREENSHOTS } from '../browser.ts'
import { build, connectAs } from '../helper.ts'

const ADMIN_KEY = 'admin-key-0123456789abcdefghijkl'

test('the operator dashboard charts live figures once given the admin key', async (t) => {
  const browser = await launchChromium(t)
  if (!browser) return
  const app = await build(t, { ADMIN_API_KEYS: ADMIN_KEY })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${port}`

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.setDefaultTimeout(20_000) // a failure is reported well within tap's timeout
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))
  const chart = (title: string) => page.locator(`figure[data-chart="${title}"]`)

  await page.goto(`${base}/admin`)
  await page.fill('#key', 'wrong-key-0123456789abcdefghij')
  await page.click('#login button')
  await page.locator('#error', { hasText: 'invalid API key' }).waitFor()
  await page.locator('#login').waitFor() // asked again
  t.equal(await page.locator('#logout').isVisible(), false)
  t.pass('a wrong key is refused and asked for again')

  await page.fill('#key', ADMIN_KEY)
  await page.click('#login button')
  await page.locator('#status.online').waitFor()
  t.equal(await page.locator('#login').isVisible(), false, 'the key form is gone')
  t.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.adminKey')), ADMIN_KEY, 'the key is kept for the tab (sessionStorage)')

  // a live connection and a message on a subscribed channel show up on the next polls
  const { client } = await connectAs(app, t, 'ada')
  t.equal((await client.subscribe('general')).op, 'subscribed')
  await chart('connections').locator('.value', { hasText: /^1$/ }).waitFor()
  t.pass('the connections chart shows the live connection')
  const drawn = await chart('connections').locator('svg path').getAttribute('d')
  t.match(drawn, /^M[\d.]+,[\d.]+ h0( L[\d.]+,[\d.]+)+$/, 'its sparkline is drawn, over several samples')

  const posted = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'hello', senderId: 'ada' } })
  t.equal(posted.statusCode, 201)
  await client.next((f) => f.op === 'event' && f.channel === 'general')
  await chart('post→delivery latency').locator('.value', { hasText: /ms/ }).waitFor()
  t.pass('the latency chart shows the percentiles of the delivered message')
  t.equal(await page.locator('nav a[href="/metrics"]').count(), 1, 'a link to the Prometheus metrics')

  mkdirSync(SCREENSHOTS, { recursive: true })
  const screenshot = new URL('admin-dashboard.png', SCREENSHOTS).pathname
  await page.screenshot({ path: screenshot, fullPage: true })
  t.comment(`screenshot: ${screenshot}`)

  // a reload keeps the key (same tab); forgetting it stops the polling and asks again
  await page.reload()
  await page.locator('#status.online').waitFor()
  await page.click('#logout')
  await page.locator('#login').waitFor()
  t.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.adminKey')), null, 'the key is forgotten')
  t.same(pageErrors, [], 'no uncaught errors in the page')
})
