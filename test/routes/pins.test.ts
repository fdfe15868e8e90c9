import t from 'tap'
import { build, connectAs, handled } from '../helper.ts'
import { as, lastOn, lastRecord, post, recordProduced } from '../chat.ts'
import type { FastifyInstance } from 'fastify'

const url = (channelId: string, messageId: string) => `/api/channels/${channelId}/pins/${messageId}`
const pinned = async (app: FastifyInstance, channelId: string, user = 'alice') => {
  const res = await app.inject({ url: `/api/channels/${channelId}/pins`, headers: as(user) })
  if (res.statusCode !== 200) throw new Error(`GET pins: ${res.statusCode} ${res.body}`)
  return res.json().pins as Array<{ message: { id: string, content: string }, pinnedBy: string, pinnedAt: string }>
}

t.test('PUT pins (204, once however often), GET lists the pinned messages newest pin first, DELETE unpins (204, idempotent)', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const [first, second] = [await post(app, 'general', 'first'), await post(app, 'general', 'second')]
  const send = async (method: 'PUT' | 'DELETE', id: string, user = 'bob') => {
    const res = await app.inject({ method, url: url('general', id), headers: as(user) })
    t.equal(res.statusCode, 204, `${method} ${id === first.id ? 'first' : 'second'} by ${user}: 204`)
    await handled(app, 'pins-store', lastOn(produced, 'pins'))
  }
  await send('PUT', first.id)
  const event = JSON.parse(lastRecord(produced, 'pins').value)
  t.match(event, { v: 1, type: 'pin.added', channelId: 'general', data: { messageId: first.id, userId: 'bob', version: Number } })
  t.equal(lastRecord(produced, 'pins').key, 'general', 'keyed by channel')
  await send('PUT', second.id, 'carol')
  await send('PUT', first.id, 'carol')
  const pins = await pinned(app, 'general')
  t.same(pins.map((p) => [p.message.content, p.pinnedBy]), [['second', 'carol'], ['first', 'bob']], 'newest pin first; pinned twice is one pin, where it was')
  t.match(pins[1], { message: { id: first.id, channelId: 'general', senderId: 'alice' }, pinnedAt: String })
  await send('DELETE', first.id)
  t.match(JSON.parse(lastRecord(produced, 'pins').value), { type: 'pin.removed', data: { messageId: first.id, userId: 'bob' } })
  await send('DELETE', first.id)
  t.same((await pinned(app, 'general')).map((p) => p.message.content), ['second'])
  t.equal(await app.pins.reservations.count('general'), 1, 'one place taken')
})

t.test('at most PINS_MAX (50) per channel: of 55 concurrent pins 50 get 204 and 5 a 409; an unpin frees a place', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 0 })
  const produced = recordProduced(app)
  const messages = []
  for (let i = 0; i < 55; i++) messages.push(await post(app, 'busy', `message ${i}`))
  const answers = await Promise.all(messages.map((m) => app.inject({ method: 'PUT', url: url('busy', m.id), headers: as('bob') })))
  const refused = answers.filter((a) => a.statusCode === 409)
  t.equal(answers.filter((a) => a.statusCode === 204).length, 50, '50 pinned')
  t.equal(refused.length, 5, '5 refused')
  t.match(refused[0].json(), { statusCode: 409, error: 'Conflict', message: /channel busy has 50 pinned messages already \(PINS_MAX\)/ })
  t.equal(produced.filter((p) => p.topic === 'pins').length, 50, 'a refused pin never reaches the log')
  await handled(app, 'pins-store', lastOn(produced, 'pins'))
  const pins = await pinned(app, 'busy')
  t.equal(pins.length, 50, 'every 204 is stored: the store refuses none')
  const pinnedIds = new Set(pins.map((p) => p.message.id))
  const left = messages.find((m) => !pinnedIds.has(m.id))
  t.equal((await app.inject({ method: 'PUT', url: url('busy', left.id), headers: as('bob') })).statusCode, 409, 'the 51st: 409')
  t.equal((await app.inject({ method: 'DELETE', url: url('busy', pins[0].message.id), headers: as('bob') })).statusCode, 204)
  t.equal((await app.inject({ method: 'PUT', url: url('busy', left.id), headers: as('bob') })).statusCode, 204, 'the place an unpin freed is taken')
  await handled(app, 'pins-store', lastOn(produced, 'pins'))
  t.equal((await pinned(app, 'busy')).length, 50)
})

t.test('who may pin: any identified user of a public channel, members of a private one; a non-member is answered as for an unknown id', async (t) => {
  const app = await build(t)
  const open = await post(app, 'general', 'public')
  const unknown = 'f'.repeat(24)
  t.equal((await app.inject({ method: 'PUT', url: url('general', open.id) })).statusCode, 401, 'no identity: 401')
  t.match((await app.inject({ method: 'PUT', url: url('general', open.id) })).json(), { message: /pinning a message needs a user/ })
  t.equal((await app.inject({ method: 'DELETE', url: url('general', open.id) })).statusCode, 401)

  t.equal((await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'secret', private: true, members: ['bob'] } })).statusCode, 201)
  const hidden = await post(app, 'secret', 'members only', 'alice')
  for (const method of ['PUT', 'DELETE'] as const) {
    const outsider = await app.inject({ method, url: url('secret', hidden.id), headers: as('carol') })
    const none = await app.inject({ method, url: url('secret', unknown), headers: as('carol') })
    t.equal(outsider.statusCode, 404, `${method} by a non-member: 404`)
    t.same(outsider.json(), JSON.parse(none.body.replace(unknown, hidden.id)), `${method}: the same answer as for an unknown id`)
    t.equal(none.statusCode, 404)
  }
  t.equal((await app.inject({ url: '/api/channels/secret/pins', headers: as('carol') })).statusCode, 403, 'GET by a non-member: 403, as history')
  t.equal((await app.inject({ method: 'PUT', url: url('secret', hidden.id), headers: as('bob') })).statusCode, 204, 'a member pins')
  t.equal((await app.inject({ method: 'PUT', url: url('general', hidden.id), headers: as('bob') })).statusCode, 404, 'a message of another channel: 404')
  const wrong = await app.inject({ method: 'PUT', url: url('general', hidden.id), headers: as('bob') })
  t.match(wrong.json(), { message: `no message ${hidden.id} in channel general` })
  t.equal((await app.inject({ method: 'PUT', url: url('general', 'nothex'), headers: as('bob') })).statusCode, 400, 'not a message id: 400')
})

t.test('pin.added and pin.removed reach the channel\'s subscribers; a deleted message leaves the pins with its pin.removed', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const message = await post(app, 'general', 'pin then delete')
  const { client } = await connectAs(app, t, 'carol')
  t.equal((await client.subscribe('general')).op, 'subscribed')
  t.equal((await app.inject({ method: 'PUT', url: url('general', message.id), headers: as('bob') })).statusCode, 204)
  const added = await client.next((f) => f.op === 'event' && f.type === 'pin.added')
  t.match(added, { channel: 'general', data: { messageId: message.id, userId: 'bob', version: Number } })
  t.notOk('position' in added, 'no position: not part of the message stream, never replayed')
  await handled(app, 'pins-store', lastOn(produced, 'pins'))
  t.equal((await pinned(app, 'general')).length, 1)

  t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('alice') })).statusCode, 204)
  const removed = await client.next((f) => f.op === 'event' && f.type === 'pin.removed')
  t.match(removed, { channel: 'general', data: { messageId: message.id, deleted: true } })
  t.ok(removed.data.version > added.data.version, 'a later version than the pin')
  await handled(app, 'pins-store', lastOn(produced, 'pins'))
  t.same(await pinned(app, 'general'), [], 'gone from the pins')
  t.equal(await app.pins.reservations.count('general'), 0, 'its place given back')
  t.same(await app.pins.store.list('general'), [], 'and from the store')
})

t.test('a redelivered deletion and replayed pin events change nothing', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const [kept, gone] = [await post(app, 'general', 'kept'), await post(app, 'general', 'gone')]
  for (const m of [kept, gone]) t.equal((await app.inject({ method: 'PUT', url: url('general', m.id), headers: as('bob') })).statusCode, 204)
  t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${gone.id}`, headers: as('alice') })).statusCode, 204)
  const deletion = lastRecord(produced, 'messages')
  await handled(app, 'messages-pins', deletion.position)
  const pinEvents = produced.filter((p) => p.topic === 'pins')
  t.equal(pinEvents.length, 3, 'two pins and the deletion\'s unpin')
  await handled(app, 'pins-store', pinEvents[2].position)
  const before = await app.pins.store.list('general')

  // the same records again, as a consumer that lost its partition would see them
  const pinsBefore = produced.filter((p) => p.topic === 'pins').length
  for (const p of pinEvents) await app.bus.produce('pins', p.key, p.value)
  await app.bus.produce('messages', deletion.key, deletion.value)
  await handled(app, 'messages-pins', lastOn(produced, 'messages'))
  await handled(app, 'pins-store', lastOn(produced, 'pins'))
  t.equal(produced.filter((p) => p.topic === 'pins').length, pinsBefore + 3, 'the redelivered deletion produced no second unpin')
  t.same(await app.pins.store.list('general'), before, 'the store is unchanged')
  t.same((await pinned(app, 'general')).map((p) => p.message.content), ['kept'])
  t.equal(await app.pins.reservations.count('general'), 1)
})

t.test('a pin that lands after its message\'s deletion is unpinned; deletions in a channel without pins make no reservation state', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const message = await post(app, 'quiet', 'deleted before its pin lands')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('alice') })).statusCode, 204)
  await handled(app, 'messages-pins', lastOn(produced, 'messages'))
  t.equal(produced.filter((p) => p.topic === 'pins').length, 0, 'nothing was pinned: no unpin')
  t.same(await app.pins.reservations.pin('quiet', 'f'.repeat(24), 50, Date.now() * 1000), { outcome: 'unloaded' }, 'no places made for the channel')

  // a PUT that passed its lookup just before the deletion was accepted, and reserved just after its handler
  t.equal(await app.pins.pin('quiet', message.id, 'bob'), true)
  const pinEvent = lastOn(produced, 'pins')
  await handled(app, 'pins-store', pinEvent)
  const unpin = produced.filter((p) => p.topic === 'pins').at(-1)!
  t.not(unpin.position.offset, pinEvent.offset, 'the store handler produced an unpin')
  t.match(JSON.parse(unpin.value), { type: 'pin.removed', data: { messageId: message.id, deleted: true } })
  await handled(app, 'pins-store', unpin.position)
  t.same(await app.pins.store.list('quiet'), [])
  t.equal(await app.pins.reservations.count('quiet'), 0, 'its place given back')
})
