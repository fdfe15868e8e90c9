// Threads end to end: HTTP → log → the store, cache and notification handlers → history, replies
// and WebSocket subscribers. Run on the embedded services and on the real ones.
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.ts'
import { connectAs, handled } from '../helper.ts'
import { as, handledBy, lastRecord, MESSAGE_HANDLERS, post, recordProduced } from '../chat.ts'

type MakeApp = (t: Test, config?: Partial<Config>) => Promise<FastifyInstance>

/** Posts a reply as `user` and waits until it is stored (and its parent's thread counted) and cached. */
async function reply (app: FastifyInstance, parent: { id: string, channelId: string }, content: string, user: string, extra: Record<string, unknown> = {}) {
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as(user), payload: { channelId: parent.channelId, content, parentId: parent.id, ...extra } })
  if (res.statusCode !== 201) throw new Error(`reply failed: ${res.statusCode} ${res.body}`)
  await handledBy(app, [...MESSAGE_HANDLERS, 'messages-replies'], res.json().position)
  return res.json()
}

const history = async (app: FastifyInstance, channelId = 'general') => {
  const res = await app.inject({ url: `/api/channels/${channelId}/messages` })
  return { cache: res.headers['x-cache'], messages: res.json().messages }
}

export function threadsSuite (t: Test, build: MakeApp) {
  t.test('a reply carries its parentId, counts into the parent\'s thread, is announced, and stays out of history', async (t) => {
    const app = await build(t)
    const produced = recordProduced(app)
    const parent = await post(app, 'general', 'lunch?', 'alice')
    t.equal((await history(app)).cache, 'miss', 'the first read warms the cache')
    const { client } = await connectAs(app, t, 'watcher')
    await client.subscribe('general')
    const r1 = await reply(app, parent, 'yes', 'bob')
    const live = await client.next((f) => f.op === 'event' && f.type === 'message.created')
    t.match(live, { channel: 'general', position: r1.position, data: { id: r1.id, parentId: parent.id, content: 'yes' } }, 'the reply reaches the channel\'s subscribers, with its position')
    const updated = await client.next((f) => f.op === 'event' && f.type === 'thread.updated')
    t.same(updated, { op: 'event', channel: 'general', type: 'thread.updated', data: { messageId: parent.id, thread: { replyCount: 1, lastReplyAt: r1.createdAt, participants: ['bob'] } } }, 'and so does thread.updated, without a position')
    t.equal(r1.parentId, parent.id, 'the 201 carries parentId')
    t.notOk('alsoInChannel' in r1, 'not also in the channel unless asked')
    const created = JSON.parse(lastRecord(produced, 'messages').value)
    t.match(created, { type: 'message.created', data: { id: r1.id, parentId: parent.id } }, 'message.created carries parentId')
    const announced = JSON.parse(lastRecord(produced, 'threads').value)
    t.match(announced, { v: 1, type: 'thread.updated', channelId: 'general', data: { messageId: parent.id, thread: { replyCount: 1, lastReplyAt: r1.createdAt, participants: ['bob'] } } })
    t.equal(lastRecord(produced, 'threads').key, 'general', 'keyed by channel')
    const r2 = await reply(app, parent, 'me too', 'carol')
    const r3 = await reply(app, parent, 'noon', 'bob')
    const shown = await history(app)
    t.equal(shown.cache, 'hit', 'answered by the cache')
    t.same(shown.messages.map((m: { id: string }) => m.id), [parent.id], 'replies stay out of the channel\'s history')
    t.same(shown.messages[0].thread, { replyCount: 3, lastReplyAt: r3.createdAt, participants: ['bob', 'carol'] }, 'the cached parent has its thread')
    t.same((await app.store.page('general', { limit: 10 })).map((m) => m.thread), [{ replyCount: 3, lastReplyAt: r3.createdAt, participants: ['bob', 'carol'] }], 'and the stored one')

    const replies = await app.inject({ url: `/api/messages/${parent.id}/replies` })
    t.equal(replies.statusCode, 200)
    t.same(replies.json().replies.map((m: { content: string }) => m.content), ['yes', 'me too', 'noon'], 'oldest first')
    t.equal(replies.json().nextAfter, null)
    const first = await app.inject({ url: `/api/messages/${parent.id}/replies?limit=2` })
    t.same(first.json().replies.map((m: { id: string }) => m.id), [r1.id, r2.id])
    t.equal(first.json().nextAfter, r2.id)
    const next = await app.inject({ url: `/api/messages/${parent.id}/replies?limit=2&after=${r2.id}` })
    t.same(next.json().replies.map((m: { id: string }) => m.id), [r3.id], 'after pages on')

    const also = await reply(app, parent, 'posted here too', 'dave', { alsoInChannel: true })
    t.equal(also.alsoInChannel, true)
    t.same((await history(app)).messages.map((m: { id: string }) => m.id), [also.id, parent.id], 'a reply alsoInChannel is in history (cached)')
    t.same((await app.store.page('general', { limit: 10 })).map((m) => m.id), [also.id, parent.id], 'and in the store\'s page')
  })

  t.test('the parent must exist, be readable, be of the same channel and not be a reply', async (t) => {
    const app = await build(t)
    const parent = await post(app, 'general', 'a parent', 'alice')
    const r = await reply(app, parent, 'a reply', 'bob')
    const other = await post(app, 'random', 'elsewhere', 'alice')
    const send = (payload: Record<string, unknown>, user = 'bob') => app.inject({ method: 'POST', url: '/api/messages', headers: as(user), payload: { channelId: 'general', content: 'x', ...payload } })

    let res = await send({ parentId: r.id })
    t.equal(res.statusCode, 400)
    t.match(res.json().message, `parentId ${r.id} is itself a reply (threads are one level): reply to its parent ${parent.id}`)
    res = await send({ parentId: other.id })
    t.equal(res.statusCode, 400)
    t.match(res.json().message, `parentId ${other.id} is a message of another channel`)
    res = await send({ alsoInChannel: true })
    t.equal(res.statusCode, 201, 'alsoInChannel without parentId: a message in the channel, as it asks')
    t.notOk('alsoInChannel' in res.json(), 'not marked: it is no reply')
    res = await send({ parentId: 'ffffffffffffffffffffffff' })
    t.equal(res.statusCode, 404)
    t.match(res.json().message, 'no message ffffffffffffffffffffffff')
    res = await send({ parentId: 'not-an-id' })
    t.equal(res.statusCode, 400, 'a parentId that cannot be an id')
    t.match(res.json().message, 'parentId')

    // read-your-writes: a reply to a parent posted a moment ago, before the store has it
    const fresh = await app.inject({ method: 'POST', url: '/api/messages', headers: as('alice'), payload: { channelId: 'general', content: 'just now' } })
    res = await send({ parentId: fresh.json().id })
    t.equal(res.statusCode, 201, 'the parent just posted is found')
    const early = await app.inject({ url: `/api/messages/${fresh.json().id}/replies` })
    t.equal(early.statusCode, 200, 'its replies can be read before the store has the parent')

    t.equal((await app.inject({ url: '/api/messages/ffffffffffffffffffffffff/replies' })).statusCode, 404, 'replies of an unknown id: 404')
  })

  t.test('a private channel\'s thread answers a non-member exactly like an unknown id', async (t) => {
    const app = await build(t)
    const produced = recordProduced(app)
    const created = await app.inject({ method: 'POST', url: '/api/channels', headers: as('owner'), payload: { id: 'secret', private: true, members: ['bob'] } })
    t.equal(created.statusCode, 201)
    const parent = await post(app, 'secret', 'members only', 'owner')
    await reply(app, parent, 'indeed', 'bob')
    const member = await app.inject({ url: `/api/messages/${parent.id}/replies`, headers: as('bob') })
    t.equal(member.statusCode, 200)
    t.equal(member.json().replies.length, 1)
    const unknown = await app.inject({ url: '/api/messages/ffffffffffffffffffffffff/replies', headers: as('eve') })
    const outsider = await app.inject({ url: `/api/messages/${parent.id}/replies`, headers: as('eve') })
    t.equal(outsider.statusCode, 404)
    t.same(outsider.json(), { ...unknown.json(), message: unknown.json().message.replace('ffffffffffffffffffffffff', parent.id) }, 'the same answer as an unknown id')
    const post404 = await app.inject({ method: 'POST', url: '/api/messages', headers: as('eve'), payload: { channelId: 'general', content: 'peek', parentId: parent.id } })
    t.equal(post404.statusCode, 404, 'replying to it from elsewhere: 404, not "another channel"')
    await app.inject({ method: 'DELETE', url: `/api/messages/${parent.id}`, headers: as('owner') })
    await handled(app, 'messages-store', lastRecord(produced, 'messages').position)
    const afterDelete = await app.inject({ url: `/api/messages/${parent.id}/replies`, headers: as('eve') })
    t.equal(afterDelete.statusCode, 404, 'nor once the parent is a placeholder')
  })

  t.test('a reply notifies the parent\'s author and the participants, never the replier', async (t) => {
    const app = await build(t)
    const produced = recordProduced(app)
    const notified = () => produced.filter((p) => p.topic === 'notifications').map((p) => JSON.parse(p.value))
    const parent = await post(app, 'general', 'who is in?', 'alice')
    const r1 = await reply(app, parent, 'me', 'bob')
    t.same(notified().map((n) => n.userId), ['alice'], 'the author, not bob')
    t.match(notified()[0].data, { id: `${r1.id}:alice`, kind: 'reply', messageId: r1.id, parentId: parent.id, channelId: 'general', from: 'bob', excerpt: 'me' })
    produced.length = 0
    await reply(app, parent, 'me too', 'carol')
    t.same(notified().map((n) => n.userId).sort(), ['alice', 'bob'], 'the author and the participants')
    produced.length = 0
    await reply(app, parent, 'ok @carol', 'alice')
    t.same(notified().map((n) => [n.userId, n.data.kind]).sort(), [['bob', 'reply'], ['carol', 'mention']], 'a mentioned participant gets the mention only; the author replying is not told')
  })

  t.test('deleting a parent keeps its thread readable: a placeholder in history, its replies still listed', async (t) => {
    const app = await build(t)
    const produced = recordProduced(app)
    const parent = await post(app, 'general', 'secret plan', 'alice')
    const lonely = await post(app, 'general', 'no replies', 'alice')
    await history(app) // warm the cache
    const r = await reply(app, parent, 'count me in', 'bob')
    for (const m of [parent, lonely]) {
      const res = await app.inject({ method: 'DELETE', url: `/api/messages/${m.id}`, headers: as('alice') })
      t.equal(res.statusCode, 204)
      await handledBy(app, MESSAGE_HANDLERS, lastRecord(produced, 'messages').position)
    }
    t.same(JSON.parse(lastRecord(produced, 'messages').value).data, { id: lonely.id, channelId: 'general' }, 'message.deleted unchanged')
    const thread = { replyCount: 1, lastReplyAt: r.createdAt, participants: ['bob'] }
    const cached = await history(app)
    t.equal(cached.cache, 'hit')
    t.same(cached.messages, [{ id: parent.id, channelId: 'general', deleted: true, thread, position: parent.position }], 'cached: the placeholder, no text, no author; the other deleted message is gone')
    t.same(await app.store.page('general', { limit: 10 }), cached.messages, 'the store\'s page says the same')
    t.equal(await app.store.get(parent.id), null, 'the parent itself is deleted')
    const replies = await app.inject({ url: `/api/messages/${parent.id}/replies` })
    t.equal(replies.statusCode, 200)
    t.same(replies.json().replies.map((m: { id: string }) => m.id), [r.id], 'the thread is still readable')
    const repost = await app.inject({ method: 'POST', url: '/api/messages', headers: as('bob'), payload: { channelId: 'general', content: 'hello?', parentId: parent.id } })
    t.equal(repost.statusCode, 404, 'no new replies to a deleted message')
  })

  t.test('edits, deletions and reactions work on replies as on messages', async (t) => {
    const app = await build(t)
    const produced = recordProduced(app)
    const parent = await post(app, 'general', 'parent', 'alice')
    const r = await reply(app, parent, 'first take', 'bob')
    const edited = await app.inject({ method: 'PATCH', url: `/api/messages/${r.id}`, headers: as('bob'), payload: { content: 'second take' } })
    t.equal(edited.statusCode, 200)
    await handled(app, 'messages-store', lastRecord(produced, 'messages').position)
    const reacted = await app.inject({ method: 'PUT', url: `/api/messages/${r.id}/reactions/${encodeURIComponent('👍')}`, headers: as('alice') })
    t.equal(reacted.statusCode, 204)
    await handled(app, 'reactions-store', lastRecord(produced, 'reactions').position)
    t.match((await app.inject({ url: `/api/messages/${parent.id}/replies` })).json().replies, [{ id: r.id, content: 'second take', reactions: { '👍': ['alice'] }, parentId: parent.id }])
    const deleted = await app.inject({ method: 'DELETE', url: `/api/messages/${r.id}`, headers: as('bob') })
    t.equal(deleted.statusCode, 204)
    await handled(app, 'messages-store', lastRecord(produced, 'messages').position)
    t.same((await app.inject({ url: `/api/messages/${parent.id}/replies` })).json().replies, [], 'a deleted reply leaves the thread')
    t.match(JSON.parse(lastRecord(produced, 'threads').value).data, { messageId: parent.id, thread: { replyCount: 0 } }, 'and is counted out (announced)')
    const shown = await history(app)
    t.same(shown.messages.map((m: { id: string, thread?: { replyCount: number } }) => [m.id, m.thread?.replyCount]), [[parent.id, 0]], `history says so (${shown.cache})`)
  })

  t.test('a nonce repeats a reply only for the same parent', async (t) => {
    const app = await build(t)
    const [a, b] = [await post(app, 'general', 'a', 'alice'), await post(app, 'general', 'b', 'alice')]
    const send = (parentId: string) => app.inject({ method: 'POST', url: '/api/messages', headers: as('bob'), payload: { channelId: 'general', content: 'same', parentId, nonce: 'n1' } })
    const first = await send(a.id)
    t.equal(first.statusCode, 201)
    const again = await send(a.id)
    t.equal(again.statusCode, 201)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.json().id, first.json().id, 'the first reply, not a second one')
    const other = await send(b.id)
    t.equal(other.statusCode, 409, 'the same nonce for another parent')
    t.match(other.json().message, 'nonce "n1" was already used')
  })
}
