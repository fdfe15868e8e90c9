// Edits, deletions, reactions and mentions end to end: HTTP → log → handlers → history and
// WebSocket subscribers. Run on embedded and on the real services.
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.ts'
import { Client, handled } from '../helper.ts'
import { as, handledBy, lastOn, MESSAGE_HANDLERS, post, recordProduced } from '../chat.ts'

type MakeApp = (t: Test, config?: Partial<Config>) => Promise<FastifyInstance>

async function connect (t: Test, app: FastifyInstance, user?: string) {
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws${user ? `?user=${user}` : ''}`)
  t.teardown(() => client.close())
  await client.next((f) => f.op === 'ready')
  return client
}

export function chatSuite (t: Test, makeApp: MakeApp, channelName: (base: string) => string = (b) => b) {
  t.test('edits, deletions and reactions reach subscribers and history, from the cache and the store', async (t) => {
    const app = await makeApp(t, { CACHE_RECENT: 3 })
    const channel = channelName('room')
    const produced = recordProduced(app)
    const history = async (limit: number) => {
      const res = await app.inject({ url: `/api/channels/${channel}/messages?limit=${limit}` })
      return { cache: res.headers['x-cache'], messages: res.json().messages as Array<Record<string, any>> }
    }
    const m: Array<Record<string, any>> = []
    for (let i = 0; i < 4; i++) m.push(await post(app, channel, `m${i}`))
    // the cache now holds m1..m3 (recent 3); m0 only the store has
    const client = await connect(t, app)
    await client.subscribe(channel)
    const event = (type: string) => client.next((f) => f.op === 'event' && f.type === type)

    for (const target of [m[0], m[2]]) {
      const res = await app.inject({ method: 'PATCH', url: `/api/messages/${target.id}`, headers: as('alice'), payload: { content: `${target.content} (edited)` } })
      t.equal(res.statusCode, 200)
      const frame = await event('message.updated')
      t.same(frame, { op: 'event', channel, position: frame.position, type: 'message.updated', data: { id: target.id, channelId: channel, content: res.json().content, editedAt: res.json().editedAt } }, 'message.updated with the new text')
      t.match(frame.position, { epoch: String, offset: /^[0-9]+$/ }, 'it carries its stream position')
      await handledBy(app, MESSAGE_HANDLERS, frame.position)
      Object.assign(target, res.json())
    }
    t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${m[3].id}`, headers: as('alice') })).statusCode, 204)
    const deleted = await event('message.deleted')
    t.same(deleted, { op: 'event', channel, position: deleted.position, type: 'message.deleted', data: { id: m[3].id, channelId: channel } })
    await handledBy(app, MESSAGE_HANDLERS, deleted.position)

    const hit = await history(2)
    t.equal(hit.cache, 'hit')
    t.same(hit.messages, [m[2], m[1]], 'cache hit: the edit shows, the deleted message does not')
    t.equal(hit.messages[0].content, 'm2 (edited)')
    const miss = await history(10)
    t.equal(miss.cache, 'miss')
    t.same(miss.messages, [m[2], m[1], m[0]], 'cache miss: the store has the edits and not the deleted message')
    t.ok(miss.messages[2].editedAt, 'editedAt kept')

    t.equal((await app.inject({ method: 'PUT', url: `/api/messages/${m[2].id}/reactions/%F0%9F%91%8D`, headers: as('bob') })).statusCode, 204)
    const added = await event('reaction.added')
    t.same(added, { op: 'event', channel, type: 'reaction.added', data: { messageId: m[2].id, emoji: '👍', userId: 'bob' } }, 'reaction.added, without a position')
    await handled(app, 'reactions-store', lastOn(produced, 'reactions'))
    t.same((await history(2)).messages[0].reactions, { '👍': ['bob'] }, 'history shows who reacted')
    t.same((await history(10)).messages[0].reactions, { '👍': ['bob'] }, 'from the store too')
    t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${m[2].id}/reactions/%F0%9F%91%8D`, headers: as('bob') })).statusCode, 204)
    t.same(await event('reaction.removed'), { op: 'event', channel, type: 'reaction.removed', data: { messageId: m[2].id, emoji: '👍', userId: 'bob' } })
    await handled(app, 'reactions-store', lastOn(produced, 'reactions'))
    const after = await history(10)
    t.same(after.messages[0].reactions ?? {}, {}, 'the reaction is gone')
    t.same(after.messages.map((x) => x.id), [m[2].id, m[1].id, m[0].id], 'the deleted message never came back')
  })

  t.test('a mention notifies each mentioned user once, on their own channel, never the sender', async (t) => {
    const app = await makeApp(t)
    const channel = channelName('mentions')
    const produced = recordProduced(app)
    const ownChannel = async (user: string) => {
      const client = await connect(t, app, user)
      // identified connections may already be subscribed to their channel by the server
      const answer = await client.subscribe(`user:${user}`)
      t.ok(answer.op === 'subscribed' || answer.code === 'already_subscribed', `${user} listens on user:${user}`)
      return client
    }
    const alice = await ownChannel('alice')
    const bob = await ownChannel('bob')
    const content = 'hey @alice, @alice and @bob: see alice@example.com and @carol.'
    const message = await post(app, channel, content, 'bob')
    await handled(app, 'messages-mentions', message.position)
    const notifications = produced.filter((p) => p.topic === 'notifications')
    t.same(notifications.map((n) => n.key), ['alice', 'carol'], 'one per mentioned user, keyed by user, not the sender')

    const frame = await alice.next((f) => f.op === 'event' && f.type === 'notification')
    t.same(frame, {
      op: 'event',
      channel: 'user:alice',
      type: 'notification',
      data: { id: `${message.id}:alice`, kind: 'mention', messageId: message.id, channelId: channel, from: 'bob', fromName: 'bob', excerpt: content, createdAt: message.createdAt }
    })
    await Promise.all(notifications.map((n) => handled(app, 'notifications-fanout', n.position)))
    t.equal(alice.frames.filter((f) => f.type === 'notification').length, 1, 'alice is told once')
    t.notOk(bob.frames.some((f) => f.type === 'notification'), 'the sender is not told about himself')

    const edit = await app.inject({ method: 'PATCH', url: `/api/messages/${message.id}`, headers: as('bob'), payload: { content: 'now also @dave' } })
    t.equal(edit.statusCode, 200)
    await handled(app, 'messages-mentions', lastOn(produced, 'messages'))
    t.equal(produced.filter((p) => p.topic === 'notifications').length, 2, 'an edit notifies nobody')
  })

  t.test('a mention in a private channel notifies members only', async (t) => {
    const app = await makeApp(t)
    const channel = channelName('private-mentions')
    const created = await app.inject({ method: 'POST', url: '/api/channels', headers: as('bob'), payload: { id: channel, private: true, members: ['alice'] } })
    t.equal(created.statusCode, 201)
    const produced = recordProduced(app)
    const message = await post(app, channel, 'secret plans for @alice and @mallory', 'bob')
    await handled(app, 'messages-mentions', message.position)
    t.same(produced.filter((p) => p.topic === 'notifications').map((n) => n.key), ['alice'], 'the non-member is not told (nor shown the excerpt)')
  })
}
