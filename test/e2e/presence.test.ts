// Presence, typing and personal channels end to end on the embedded services.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, connectAs as connect, presenceUpdate } from '../helper.ts'

const isActivity = (f: Record<string, any>) => f.op === 'event' && f.channel === 'lobby'

const present = async (app: FastifyInstance) => (await app.inject({ url: '/api/channels/lobby/presence' })).json()

t.test('a user is present while one of its connections is subscribed; join and leave once', async (t) => {
  const app = await build(t)
  const { client: bob, id: bobId } = await connect(app, t, 'bob')
  t.match(await bob.next((f) => f.op === 'subscribed'), { channel: 'user:bob' }, 'subscribed to its personal channel on connect')
  const bobJoined = presenceUpdate(app, bobId)
  await bob.subscribe('lobby')
  t.match(await bobJoined, { change: 'join', announced: true })
  t.same(await present(app), { users: [{ userId: 'bob' }] })
  t.same(await bob.next(isActivity), { op: 'event', channel: 'lobby', type: 'presence.join', data: { userId: 'bob' } }, 'its own join, no position: ephemeral')

  const first = await connect(app, t, 'alice')
  const second = await connect(app, t, 'alice')
  await first.client.subscribe('lobby')
  t.same(await bob.next(isActivity), { op: 'event', channel: 'lobby', type: 'presence.join', data: { userId: 'alice' } })
  const again = presenceUpdate(app, second.id)
  await second.client.subscribe('lobby')
  t.match(await again, { change: 'join', announced: false }, 'a second connection is no second join')
  t.same(await present(app), { users: [{ userId: 'alice' }, { userId: 'bob' }] })

  const firstGone = presenceUpdate(app, first.id)
  await first.client.close()
  t.match(await firstGone, { change: 'leave', announced: false }, 'alice is still connected once')
  t.same((await present(app)).users.map((u: { userId: string }) => u.userId), ['alice', 'bob'])

  second.client.send({ op: 'unsubscribe', channel: 'lobby' })
  t.same(await bob.next(isActivity), { op: 'event', channel: 'lobby', type: 'presence.leave', data: { userId: 'alice' } })
  t.same(await present(app), { users: [{ userId: 'bob' }] })
  t.equal(bob.frames.filter((f) => isActivity(f) && f.type === 'presence.join' && f.data.userId === 'alice').length, 1, 'one join for alice\'s two connections')
})

t.test('anonymous connections are not present and have no personal channel', async (t) => {
  const app = await build(t)
  const { client } = await connect(app, t)
  t.match(await client.subscribe('lobby'), { op: 'subscribed', channel: 'lobby' })
  await app.presence.settled()
  t.same(await present(app), { users: [] })
  t.notOk(client.frames.some((f) => f.op === 'subscribed' && String(f.channel).startsWith('user:')))
})

t.test('the personal channel delivers what is published to user:<id>', async (t) => {
  const app = await build(t)
  const { client } = await connect(app, t, 'alice')
  await client.next((f) => f.op === 'subscribed' && f.channel === 'user:alice')
  app.fanout.publish('user:alice', 'notification', { kind: 'mention' })
  t.match(await client.next((f) => f.op === 'event'), { channel: 'user:alice', type: 'notification', data: { kind: 'mention' } })
})

t.test('typing: 202 and a typing event to the channel; bad requests change nothing', async (t) => {
  const app = await build(t)
  const { client: bob } = await connect(app, t, 'bob')
  await bob.subscribe('lobby')
  t.match(await bob.next(isActivity), { type: 'presence.join', data: { userId: 'bob' } })
  const typing = (headers: Record<string, string>, channel = 'lobby') => app.inject({ method: 'POST', url: `/api/channels/${channel}/typing`, headers })

  const anonymous = await typing({})
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.json(), { statusCode: 401, error: 'Unauthorized', message: /typing needs a user/ })
  const badChannel = await typing({ 'x-user-id': 'carol' }, 'no%20spaces')
  t.equal(badChannel.statusCode, 400)
  t.match(badChannel.json().message, /channelId/)

  const res = await typing({ 'x-user-id': 'carol', 'x-user-name': 'Carol' })
  t.equal(res.statusCode, 202)
  t.equal(res.body, '')
  t.same(await bob.next(isActivity), { op: 'event', channel: 'lobby', type: 'typing', data: { userId: 'carol', name: 'Carol' } }, 'the first activity: the refused requests produced nothing')
  t.same(await present(app), { users: [{ userId: 'bob' }] }, 'typing is not presence')
})
