// The demo page in a real browser (test/browser.ts), served from the sources: the page's script is
// bundled on first request. test/build.test.ts drives the same page served by the build.
import { mkdirSync } from 'node:fs'
import { test } from 'tap'
import type { Page, WebSocketRoute } from 'playwright-core'
import { launchChromium, joinDemo, demoMessage as message, SCREENSHOTS } from '../browser.ts'
import { build } from '../helper.ts'

const pageErrors: string[] = []

test('two users chat through the demo page', async (t) => {
  const browser = await launchChromium(t)
  if (!browser) return
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${port}/`

  const ada = await joinDemo(browser, base, 'Ada', 'demo', pageErrors)
  // Grace's socket goes through a route the test can cut, to exercise reconnect and recovery; her
  // next socket waits at `gate` (it stays connecting) until the test lets it through.
  let graceSocket: WebSocketRoute | undefined
  let gate = Promise.resolve()
  const grace = await joinDemo(browser, base, 'Grace', 'demo', pageErrors, async (ws) => { await gate; ws.connectToServer(); graceSocket = ws })

  await ada.locator('#presence li', { hasText: 'Grace' }).waitFor()
  await grace.locator('#presence li', { hasText: 'Ada' }).waitFor()
  t.pass('each sees the other present')

  await ada.fill('#content', 'hello from Ada')
  await ada.press('#content', 'Enter')
  await message(grace, 'hello from Ada').waitFor()
  t.equal(await message(grace, 'hello from Ada').locator('.sender').textContent(), 'Ada', "Grace sees Ada's message, signed")
  t.equal(await message(grace, 'hello from Ada').locator('.edit').isVisible(), false, "Grace cannot edit Ada's message")

  await grace.fill('#content', 'hi Ada')
  await ada.locator('#typing', { hasText: 'Grace is typing' }).waitFor()
  await grace.press('#content', 'Enter')
  await message(ada, 'hi Ada').waitFor()
  t.pass('typing, then the reply, reach Ada')

  await message(grace, 'hello from Ada').hover()
  await message(grace, 'hello from Ada').locator('.add-reaction button', { hasText: '👍' }).click()
  await message(ada, 'hello from Ada').locator('.reactions button', { hasText: '👍 1' }).waitFor()
  t.pass("Grace's reaction reaches Ada")

  await message(ada, 'hello from Ada').locator('.edit').click()
  await ada.fill('#messages .editor', 'hello from Ada, edited')
  await ada.press('#messages .editor', 'Enter')
  await message(grace, 'hello from Ada, edited').locator('.edited').waitFor()
  t.pass("Ada's edit reaches Grace")

  // Cut Grace's socket; what is posted meanwhile must show up after the page reconnects. Her
  // reconnect is held at the gate, so she is away for certain while the post is made (a reconnect
  // of a few milliseconds could otherwise come first, or end "offline" before the test saw it).
  let letThrough!: () => void
  gate = new Promise((resolve) => { letThrough = resolve })
  await graceSocket!.close({ code: 4000, reason: 'test cut' })
  await grace.locator('#status.offline, #status.connecting').waitFor()
  const missed = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'Ada', 'x-user-name': 'Ada' }, payload: { channelId: 'demo', content: 'sent while Grace was away' } })
  t.equal(missed.statusCode, 201)
  t.equal(await message(grace, 'sent while Grace was away').count(), 0, 'not shown while Grace is away')
  letThrough()
  await message(grace, 'sent while Grace was away').waitFor()
  await grace.locator('#status', { hasText: 'resumed' }).waitFor()
  t.pass('after a reconnect Grace resumed from her last position and has the missed message')

  mkdirSync(SCREENSHOTS, { recursive: true })
  await grace.screenshot({ path: new URL('demo-chat.png', SCREENSHOTS).pathname })

  await message(ada, 'hi Ada').hover()
  t.equal(await message(ada, 'hi Ada').locator('.delete').isVisible(), false, "Ada cannot delete Grace's message")
  await message(ada, 'hello from Ada, edited').locator('.delete').click()
  await message(grace, 'hello from Ada, edited').waitFor({ state: 'detached' })
  t.pass("Ada's deletion reaches Grace")
  t.same(pageErrors, [], 'no uncaught errors in either page')
})

test('the demo page shows unread and mention badges, "seen by", a thread panel and the pinned list', async (t) => {
  const browser = await launchChromium(t)
  if (!browser) return
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${port}/`
  const errors: string[] = []
  const channel = (page: Page, id: string) => page.locator(`#channels button[data-channel="${id}"]`)

  const ada = await joinDemo(browser, base, 'Ada', 'state-x', errors)
  const grace = await joinDemo(browser, base, 'Grace', 'state-x', errors)
  // Grace also joins state-y and looks at it; state-x stays subscribed, so its badge stays live
  await grace.fill('#new-channel', 'state-y')
  await grace.press('#new-channel', 'Enter')
  await grace.locator('#channels button[aria-current]', { hasText: 'state-y' }).waitFor()
  await grace.locator('#presence li', { hasText: 'Grace' }).waitFor()

  await ada.fill('#content', 'news for the channel')
  await ada.press('#content', 'Enter')
  await channel(grace, 'state-x').locator('.badge.unread', { hasText: /^1$/ }).waitFor()
  t.equal(await channel(grace, 'state-x').locator('.badge.mentions').count(), 0, 'no mention yet')
  t.pass("Ada's message gives Grace's state-x a badge of 1 unread while she looks at state-y")
  await ada.fill('#content', '@Grace look at this')
  await ada.press('#content', 'Enter')
  await channel(grace, 'state-x').locator('.badge.unread', { hasText: /^2$/ }).waitFor()
  await channel(grace, 'state-x').locator('.badge.mentions', { hasText: '@1' }).waitFor()
  t.pass('a mention adds to both badges')

  await channel(grace, 'state-x').click()
  await message(grace, '@Grace look at this').waitFor()
  // opening state-x marked it read: Ada sees that under her last message, and the badge is gone for good
  await message(ada, '@Grace look at this').locator('.seen', { hasText: 'Seen by Grace' }).waitFor()
  t.pass('"seen by" shows Grace under Ada\'s last message')
  await channel(grace, 'state-y').click()
  await grace.locator('#channels button[aria-current]', { hasText: 'state-y' }).waitFor()
  await channel(grace, 'state-x').locator('.badge').waitFor({ state: 'detached' })
  const counts = await app.inject({ method: 'GET', url: '/api/users/me/unread', headers: { 'x-user-id': 'Grace' } })
  t.match(counts.json().channels.find((c: { channelId: string }) => c.channelId === 'state-x'), { unread: 0, mentions: 0 }, 'the server counts state-x as read for Grace')
  await channel(grace, 'state-x').click()

  // a thread: both open it on Ada's first message; Grace's reply reaches Ada's panel
  for (const page of [ada, grace]) {
    await message(page, 'news for the channel').locator('.open-thread').click()
    await page.locator('#thread-parent', { hasText: 'news for the channel' }).waitFor()
  }
  await grace.fill('#reply-content', 'a reply in the thread')
  await grace.press('#reply-content', 'Enter')
  await ada.locator('#replies .message', { hasText: 'a reply in the thread' }).waitFor()
  await message(ada, 'news for the channel').locator('.open-thread', { hasText: '1 reply' }).waitFor()
  t.equal(await message(ada, 'a reply in the thread').count(), 0, 'the reply stays out of the channel\'s list')
  t.equal(await ada.locator('#replies .message', { hasText: 'a reply in the thread' }).locator('.sender').textContent(), 'Grace', "Grace's reply reaches Ada's thread panel, and the parent counts it")

  await message(grace, 'news for the channel').locator('.pin').click()
  await ada.locator('#pins li', { hasText: 'news for the channel' }).waitFor()
  await message(ada, 'news for the channel').locator('.pin', { hasText: 'Unpin' }).waitFor()
  t.pass("Grace's pin reaches Ada's pinned list")
  await ada.locator('#pins li', { hasText: 'news for the channel' }).locator('.unpin').click()
  await grace.locator('#pins li', { hasText: 'news for the channel' }).waitFor({ state: 'detached' })
  t.pass("Ada's unpin leaves Grace's pinned list")

  mkdirSync(SCREENSHOTS, { recursive: true })
  await ada.screenshot({ path: new URL('demo-chat-state.png', SCREENSHOTS).pathname })
  t.same(errors, [], 'no uncaught errors in either page')
})
