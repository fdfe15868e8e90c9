import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, connectAs, handled } from '../helper.ts'
import { as, lastOn, post, recordProduced, type Produced } from '../chat.ts'

/** Posts and waits until the unread index has it too. */
async function posted (app: FastifyInstance, channelId: string, content: string, user: string) {
  const message = await post(app, channelId, content, user)
  await handled(app, 'messages-read-index', message.position)
  return message
}

/** PUT read; on a 204, waits until the store has the marker. */
async function read (app: FastifyInstance, produced: Produced[], user: string, channelId: string, messageId: string, unread?: boolean) {
  const before = produced.length
  const res = await app.inject({ method: 'PUT', url: `/api/channels/${channelId}/read`, headers: as(user), payload: { messageId, ...(unread ? { unread } : {}) } })
  if (res.statusCode === 204) await handled(app, 'read-markers-store', lastOn(produced, 'read-markers'))
  else if (produced.length !== before) throw new Error('a refused marker was produced')
  return res
}

const unread = async (app: FastifyInstance, user: string) => {
  const res = await app.inject({ url: '/api/users/me/unread', headers: as(user) })
  if (res.statusCode !== 200) throw new Error(`unread: ${res.statusCode} ${res.body}`)
  const channels = res.json().channels as Array<{ channelId: string, unread: number, capped: boolean, mentions: number, lastReadMessageId: string | null }>
  return Object.fromEntries(channels.map((c) => [c.channelId, c]))
}

t.test('PUT read: 401 anonymous, 403 a private channel of others, 404 an unknown message or one of another channel, 204 a message just posted', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'secret', private: true, members: ['bob'] } })
  const secret = await posted(app, 'secret', 'hush', 'alice')
  const other = await posted(app, 'random', 'elsewhere', 'bob')
  const anonymous = await app.inject({ method: 'PUT', url: '/api/channels/secret/read', payload: { messageId: secret.id } })
  t.equal(anonymous.statusCode, 401, 'anonymous: 401')
  t.equal((await read(app, produced, 'carol', 'secret', secret.id)).statusCode, 403, 'not a member: 403')
  t.equal((await read(app, produced, 'bob', 'secret', other.id)).statusCode, 404, 'a message of another channel: 404')
  t.equal((await read(app, produced, 'bob', 'secret', 'ffffffffffffffffffffffff')).statusCode, 404, 'an unknown message: 404')
  t.equal((await app.inject({ method: 'PUT', url: '/api/channels/secret/read', headers: as('bob'), payload: { messageId: 'nope' } })).statusCode, 400, 'a malformed id: 400')
  t.notOk(produced.some((p) => p.topic === 'read-markers'), 'nothing produced for a refused marker')
  // read-your-writes: the marker for a message posted a moment ago, before any store has it
  const fresh = await app.inject({ method: 'POST', url: '/api/messages', headers: as('alice'), payload: { channelId: 'secret', content: 'just now' } })
  const res = await read(app, produced, 'bob', 'secret', fresh.json().id)
  t.equal(res.statusCode, 204, 'a message just posted: 204')
  const record = produced.filter((p) => p.topic === 'read-markers').pop()!
  t.equal(record.key, 'bob', 'keyed by user')
  t.match(JSON.parse(record.value), { v: 1, type: 'read.marked', userId: 'bob', data: { channelId: 'secret', messageId: fresh.json().id, position: fresh.json().position, unread: false } })
})

t.test('unread and mention counts: own posts read the channel; deleted and read messages do not count; forward only; mark as unread', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  await posted(app, 'general', 'first of mine', 'alice') // alice's marker: her post
  const b1 = await posted(app, 'general', 'one', 'bob')
  const b2 = await posted(app, 'general', 'two, @alice', 'bob')
  const b3 = await posted(app, 'general', 'three', 'bob')
  const gone = await posted(app, 'general', 'oops', 'carol')
  const del = await app.inject({ method: 'DELETE', url: `/api/messages/${gone.id}`, headers: as('carol') })
  t.equal(del.statusCode, 204)
  await handled(app, 'messages-read-index', lastOn(produced, 'messages'))
  t.match((await unread(app, 'alice')).general, { unread: 3, capped: false, mentions: 1 }, 'three of bob\'s, the mention among them; not the deleted one')

  t.equal((await read(app, produced, 'alice', 'general', b2.id)).statusCode, 204)
  t.same((await unread(app, 'alice')).general, { channelId: 'general', unread: 1, capped: false, mentions: 0, lastReadMessageId: b2.id, position: b2.position }, 'read up to the mention')
  t.equal((await read(app, produced, 'alice', 'general', b1.id)).statusCode, 204, 'an older marker: still 204')
  t.match((await unread(app, 'alice')).general, { unread: 1, lastReadMessageId: b2.id }, 'forward only: the older marker changed nothing')
  t.equal((await read(app, produced, 'alice', 'general', b2.id, true)).statusCode, 204, 'mark as unread')
  t.same((await unread(app, 'alice')).general, { channelId: 'general', unread: 2, capped: false, mentions: 1, lastReadMessageId: null, position: { epoch: b2.position.epoch, offset: String(Number(b2.position.offset) - 1) } }, 'back to just before the message')
  t.equal((await read(app, produced, 'alice', 'general', b3.id)).statusCode, 204)
  t.match((await unread(app, 'alice')).general, { unread: 0, mentions: 0, lastReadMessageId: b3.id })

  const mine = await posted(app, 'general', 'mine again', 'alice')
  t.same((await unread(app, 'alice')).general, { channelId: 'general', unread: 0, capped: false, mentions: 0, lastReadMessageId: mine.id, position: mine.position }, 'her own post reads the channel up to it: it never counts')
  const b4 = await posted(app, 'general', 'four', 'bob')
  t.match((await unread(app, 'alice')).general, { unread: 1, lastReadMessageId: mine.id })
  t.equal((await read(app, produced, 'alice', 'general', b3.id, true)).statusCode, 204)
  t.match((await unread(app, 'alice')).general, { unread: 3, lastReadMessageId: null }, 'marked unread before her own post: b3, her post and b4 count (docs/chat-state.md)')
  t.match((await unread(app, 'carol')).general, { unread: 2, lastReadMessageId: gone.id }, 'carol\'s marker is her post (deleted since): alice\'s and bob\'s after it count')
  t.match((await unread(app, 'bob')).general, { unread: 0, mentions: 0, lastReadMessageId: b4.id }, 'bob\'s marker is at his last post')
  t.equal((await app.inject({ url: '/api/users/me/unread' })).statusCode, 401, 'anonymous: 401')
})

t.test('the unread request reads the store a fixed number of times, whatever the channels\' history', async (t) => {
  const app = await build(t)
  for (const channelId of ['quiet', 'busy']) await posted(app, channelId, 'mine', 'alice')
  const store = app.readState.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const calls: string[] = []
  for (const name of ['markers', 'unread', 'count', 'head']) {
    const original = store[name].bind(store)
    store[name] = async (...args) => { calls.push(name); return await original(...args) }
  }
  const request = async () => { calls.length = 0; return { counts: await unread(app, 'alice'), calls: [...calls] } }
  const before = await request()
  t.match(before.counts, { quiet: { unread: 0 }, busy: { unread: 0 } })
  t.same(before.calls, ['markers', 'unread'], 'the markers, then one read of the counts for every channel')
  for (let n = 0; n < 30; n++) await posted(app, 'busy', `news ${n}, @alice`, 'bob')
  const after = await request()
  t.match(after.counts, { quiet: { unread: 0, mentions: 0 }, busy: { unread: 30, mentions: 30 } })
  t.same(after.calls, before.calls, 'the same calls with 30 messages to count: no count per channel')
})

t.test('UNREAD_MAX caps each count and flags it', async (t) => {
  const app = await build(t, { UNREAD_MAX: 2 })
  const here = await posted(app, 'busy', 'here', 'alice')
  await posted(app, 'busy', '@alice 1', 'bob')
  await posted(app, 'busy', '@alice 2', 'bob')
  t.same((await unread(app, 'alice')).busy, { channelId: 'busy', unread: 2, capped: false, mentions: 2, lastReadMessageId: here.id, position: here.position }, 'at the cap: not flagged')
  await posted(app, 'busy', '@alice 3', 'bob')
  t.same((await unread(app, 'alice')).busy, { channelId: 'busy', unread: 2, capped: true, mentions: 2, lastReadMessageId: here.id, position: here.position }, 'above it: the cap, flagged')
})

t.test('a first mention lists the channel with the mention unread; leaving a private channel drops it', async (t) => {
  const app = await build(t)
  await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'team', private: true, members: ['bob'] } })
  await posted(app, 'team', 'hey @bob', 'alice')
  await posted(app, 'lobby', 'and @bob here', 'alice')
  t.match(await unread(app, 'bob'), { team: { unread: 1, mentions: 1 }, lobby: { unread: 1, mentions: 1 } })
  t.equal((await app.inject({ method: 'DELETE', url: '/api/channels/team/members/bob', headers: as('alice') })).statusCode, 204)
  const after = await unread(app, 'bob')
  t.notOk('team' in after, 'a private channel bob left is not listed')
  t.ok('lobby' in after)
})

t.test('receipts: readBy at or after the message; the opt-out; none above RECEIPTS_MAX_READERS', async (t) => {
  const app = await build(t, { RECEIPTS_MAX_READERS: 3 })
  const produced = recordProduced(app)
  const m1 = await posted(app, 'small', 'one', 'bob')
  const m2 = await posted(app, 'small', 'two', 'bob')
  await read(app, produced, 'alice', 'small', m2.id)
  await read(app, produced, 'carol', 'small', m1.id)
  const receipts = async (id: string, user = 'bob') => (await app.inject({ url: `/api/messages/${id}/receipts`, headers: as(user) })).json()
  t.same((await receipts(m2.id)).readBy.map((r: { userId: string }) => r.userId).sort(), ['alice', 'bob'], 'alice read up to m2, and bob wrote it (his own post is his marker)')
  t.same((await receipts(m1.id)).readBy.map((r: { userId: string }) => r.userId).sort(), ['alice', 'bob', 'carol'], 'm1: bob (his first post), alice, carol')
  t.match((await receipts(m2.id)).readBy.find((r: { userId: string }) => r.userId === 'alice'), { userId: 'alice', readAt: String })
  t.same((await app.inject({ method: 'PUT', url: '/api/users/me/settings', headers: as('alice'), payload: { receipts: false } })).json(), { receipts: false })
  t.same((await app.inject({ url: '/api/users/me/settings', headers: as('alice') })).json(), { receipts: false })
  t.same((await receipts(m2.id)).readBy.map((r: { userId: string }) => r.userId), ['bob'], 'alice turned receipts off: not listed')
  t.equal((await app.inject({ url: `/api/messages/${m2.id}/receipts` })).statusCode, 401, 'anonymous: 401')
  t.equal((await app.inject({ url: '/api/messages/ffffffffffffffffffffffff/receipts', headers: as('bob') })).statusCode, 404)
  await read(app, produced, 'dave', 'small', m1.id) // a fourth reader: above the limit
  t.match(await receipts(m1.id), { readBy: null, reason: /RECEIPTS_MAX_READERS/ })
})

t.test('a private channel\'s receipts answer a non-member like an unknown id', async (t) => {
  const app = await build(t)
  await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'vault', private: true } })
  const m = await posted(app, 'vault', 'mine', 'alice')
  const res = await app.inject({ url: `/api/messages/${m.id}/receipts`, headers: as('eve') })
  t.equal(res.statusCode, 404)
  t.equal((await app.inject({ url: '/api/messages/ffffffffffffffffffffffff/receipts', headers: as('eve') })).json().message.replace(/[0-9a-f]{24}/, 'ID'), res.json().message.replace(/[0-9a-f]{24}/, 'ID'), 'the same answer')
})

t.test('the user\'s other connections get read.updated; the channel\'s subscribers get receipt.read', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const m = await posted(app, 'room', 'look', 'bob')
  const { client: aliceElsewhere } = await connectAs(app, t, 'alice')
  const { client: bob } = await connectAs(app, t, 'bob')
  t.match(await bob.subscribe('room'), { op: 'subscribed' })
  t.equal((await read(app, produced, 'alice', 'room', m.id)).statusCode, 204)
  const updated = await aliceElsewhere.next((f) => f.op === 'event' && f.type === 'read.updated')
  t.match(updated, { channel: 'user:alice', data: { channelId: 'room', messageId: m.id, position: m.position, readAt: String } })
  const receipt = await bob.next((f) => f.op === 'event' && f.type === 'receipt.read')
  t.match(receipt, { channel: 'room', data: { userId: 'alice', messageId: m.id } })
})

t.test('defaults: a first subscribe counts the channel as read up to its newest message; so does being made a member', async (t) => {
  const app = await build(t, { WS_CHURN_WINDOW_MS: 0 })
  const produced = recordProduced(app)
  for (const n of [1, 2, 3]) await posted(app, 'busy', `backlog ${n}`, 'bob')
  const head = await posted(app, 'busy', 'backlog 4', 'bob')
  const { client } = await connectAs(app, t, 'alice')
  const defaulted = new Promise<void>((resolve) => {
    const check = async (h: { handler: string }) => {
      if (h.handler !== 'connections-read-state') return
      if ((await app.readState.store.markers('alice')).some((m) => m.channelId === 'busy')) {
        app.topicHandlers.events.off('handled', check)
        resolve()
      }
    }
    app.topicHandlers.events.on('handled', check)
  })
  t.match(await client.subscribe('busy'), { op: 'subscribed' })
  await defaulted
  t.same((await unread(app, 'alice')).busy, { channelId: 'busy', unread: 0, capped: false, mentions: 0, lastReadMessageId: head.id, position: head.position }, 'joining a busy channel: nothing unread')
  await posted(app, 'busy', 'news', 'bob')
  t.match((await unread(app, 'alice')).busy, { unread: 1 }, 'what comes after counts')

  await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'team', private: true } })
  for (const n of [1, 2]) await posted(app, 'team', `before carol ${n}`, 'alice')
  t.equal((await app.inject({ method: 'PUT', url: '/api/channels/team/members/carol', headers: as('alice') })).statusCode, 204)
  await handled(app, 'channels-read-state', lastOn(produced, 'channels'))
  t.match((await unread(app, 'carol')).team, { unread: 0 }, 'made a member: read up to the newest message then')
  await posted(app, 'team', 'welcome', 'alice')
  t.match((await unread(app, 'carol')).team, { unread: 1 })
})
