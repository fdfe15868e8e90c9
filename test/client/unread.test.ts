// client.unread and channel.markRead against a switchboard on the embedded services.
import t from 'tap'
import { build, handled } from '../helper.ts'
import { lastOn, post, recordProduced } from '../chat.ts'
import { client, listen } from './harness.ts'

t.test('client.unread: seeded at connect, kept current by live messages and mentions, cleared on every device by a debounced markRead', async (t) => {
  const app = await build(t)
  const { api, ws } = await listen(app)
  const produced = recordProduced(app)
  const posted = async (content: string, user = 'bob') => {
    const m = await post(app, 'general', content, user)
    await handled(app, 'messages-read-index', m.position)
    return m
  }
  await posted('mine, first', 'alice') // alice's channel from her first post on
  const one = await posted('one')
  const two = await posted('two')

  const desktop = client(t, { url: ws, api, user: { id: 'alice' } })
  const seeded = await desktop.unread.next('change', (c) => c.channelId === 'general')
  t.match(seeded, { unread: 2, mentions: 0, capped: false }, 'seeded from GET /api/users/me/unread')
  const general = desktop.channel('general')
  await general.next('subscribed')

  const counted = desktop.unread.next('change', (c) => c.channelId === 'general' && c.unread === 4 && c.mentions === 1)
  await posted('three')
  await posted('four, @alice')
  t.match(await counted, { unread: 4, mentions: 1 }, 'a live message by someone else counts, a mention notification too')
  t.equal(desktop.unread.get('general')?.unread, 4)

  // a second device that does not subscribe to the channel: its counts come from the server
  const phone = client(t, { url: ws, api, user: { id: 'alice' } })
  t.match(await phone.unread.next('change', (c) => c.channelId === 'general'), { unread: 4, mentions: 1 })

  const last = await posted('five')
  await desktop.unread.next('change', (c) => c.channelId === 'general' && c.unread === 5)
  const desktopCleared = desktop.unread.next('change', (c) => c.channelId === 'general' && c.unread === 0)
  const phoneCleared = phone.unread.next('change', (c) => c.channelId === 'general' && c.unread === 0)
  const before = produced.filter((p) => p.topic === 'read-markers').length
  // reading as messages scroll past: three calls, one request for the last
  await Promise.all([general.markRead(one.id), general.markRead(two.id), general.markRead(last.id)])
  const markers = produced.filter((p) => p.topic === 'read-markers').slice(before)
  t.equal(markers.length, 1, 'debounced: one marker')
  t.equal(JSON.parse(markers[0].value).data.messageId, last.id, 'for the last message named')
  t.match(await desktopCleared, { unread: 0, mentions: 0, lastReadMessageId: last.id }, 'this device: cleared by its own read.updated')
  t.match(await phoneCleared, { unread: 0, mentions: 0 }, 'the other device: read.updated, then the server\'s counts')

  const back = phone.unread.next('change', (c) => c.channelId === 'general' && c.unread === 1)
  await phone.channel('general').markUnread(last.id)
  t.match(await back, { unread: 1, lastReadMessageId: null }, 'mark as unread: the message counts again on the other device')

  const ownPost = desktop.unread.next('change', (c) => c.channelId === 'general' && c.unread === 0 && c.lastReadMessageId !== last.id)
  const mine = await posted('mine again', 'alice')
  t.match(await ownPost, { unread: 0, mentions: 0, lastReadMessageId: mine.id, position: mine.position }, 'her own post reads the channel: the device that sees it clears its badge')
  t.match((await desktop.api.unread()).channels.find((c) => c.channelId === 'general'), { unread: 0, lastReadMessageId: mine.id }, 'as the server counts it')
})

t.test('the API calls: receipts and the receipts setting', async (t) => {
  const app = await build(t)
  const { api, ws } = await listen(app)
  const produced = recordProduced(app)
  const m = await post(app, 'small', 'hello', 'bob')
  await handled(app, 'messages-read-index', m.position) // bob's default marker: his first post
  const alice = client(t, { url: ws, api, user: { id: 'alice' }, autoConnect: false })
  await alice.api.markRead('small', m.id)
  await handled(app, 'read-markers-store', lastOn(produced, 'read-markers'))
  t.same((await alice.api.receipts(m.id)).readBy?.map((r) => r.userId).sort(), ['alice', 'bob'])
  t.same(await alice.api.settings({ receipts: false }), { receipts: false })
  t.same((await alice.api.receipts(m.id)).readBy?.map((r) => r.userId), ['bob'], 'alice is hidden now')
})
