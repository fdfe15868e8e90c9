// A client-visible topic needs no handler file: a catalogue entry that declares `fanout` is relayed
// to sockets by the handler the registry derives from it (plugins/topic-relay.ts), per event type
// or by one route, given as an app option or by a plugin through `app.topicHandlers.addTopic`.
import t from 'tap'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Envelope } from '../../schemas/events.ts'
import { defineTopic, topics } from '../../schemas/topics.ts'
import { personalChannel } from '../../schemas/channel-kinds.ts'
import { relayOf } from '../../plugins/topic-relay.ts'
import { build, connectAs, handled } from '../helper.ts'

// A test-only topic: a poke is shown in the channel, a nudge goes to its user alone, and a tally
// is internal (not a client event: never sent to sockets).
const Poke = Type.Object({ from: Type.String() })
const PokeEvent = Type.Union([
  Envelope('poke.sent', Poke),
  Type.Object({ v: Type.Literal(1), type: Type.Literal('poke.nudge'), userId: Type.String(), channelId: Type.String(), at: Type.String(), data: Poke }),
  Envelope('poke.tally', Type.Object({ count: Type.Integer() }))
])
const pokes = defineTopic({
  name: 'test-pokes',
  key: 'channelId',
  schema: PokeEvent,
  positioned: false,
  clientEvents: ['poke.sent', 'poke.nudge'],
  fanout: {
    'poke.sent': (event) => event.channelId,
    'poke.nudge': (event) => personalChannel(event.userId)
  },
  description: 'test pokes'
})
const at = new Date().toISOString()
/** A frame of this topic (presence frames of the same channel come and go beside them). */
const isPoke = (f: Record<string, any>) => f.op === 'event' && f.type.startsWith('poke.')

t.test('the built-in client-visible topics are relayed from the catalogue; messages keep their own handler', async (t) => {
  const app = await build(t)
  const names = app.topicHandlers.list.filter((h) => h.mode === 'broadcast').map((h) => h.name)
  for (const name of ['reactions-fanout', 'user-activity-fanout', 'notifications-fanout', 'user-status-fanout', 'messages-fanout']) {
    t.ok(names.includes(name), `${name} runs`)
  }
  t.equal(relayOf(topics.messages), undefined, 'messages declare no fanout: consumers/messages-fanout.ts delivers them')
  t.equal(relayOf(topics.channels), undefined, 'an internal topic gets no relay')
})

t.test('a catalogue entry with fanout delivers to sockets without a handler file', async (t) => {
  const app = await build(t, {}, { topics: [pokes] })
  t.ok(app.topicHandlers.list.some((h) => h.name === 'test-pokes-fanout' && h.mode === 'broadcast'), 'its relay is registered')
  const { client: ada } = await connectAs(app, t, 'ada')
  const { client: bob } = await connectAs(app, t, 'bob')
  t.equal((await ada.subscribe('lobby')).op, 'subscribed')
  t.equal((await bob.subscribe('lobby')).op, 'subscribed')

  const tally = await app.events.produce('test-pokes', 'lobby', { v: 1, type: 'poke.tally', channelId: 'lobby', at, data: { count: 1 } })
  t.equal((await handled(app, 'test-pokes-fanout', tally)).outcome, 'ok', 'an internal event is handled')
  await app.events.produce('test-pokes', 'lobby', { v: 1, type: 'poke.sent', channelId: 'lobby', at, data: { from: 'bob' } })
  const poke = await ada.next(isPoke)
  t.match(poke, { channel: 'lobby', type: 'poke.sent', data: { from: 'bob' } }, 'the channel event reaches a subscriber, and the internal one before it did not')
  t.notOk('position' in poke, 'an unpositioned topic sends no position')
  t.match(await bob.next(isPoke), { channel: 'lobby', type: 'poke.sent' }, 'and every subscriber')

  // routed per event type: a nudge goes to its user's personal channel, not to the channel
  await app.events.produce('test-pokes', 'lobby', { v: 1, type: 'poke.nudge', userId: 'bob', channelId: 'lobby', at, data: { from: 'ada' } })
  t.match(await bob.next(isPoke), { channel: 'user:bob', type: 'poke.nudge', data: { from: 'ada' } })
  const last = await app.events.produce('test-pokes', 'lobby', { v: 1, type: 'poke.sent', channelId: 'lobby', at, data: { from: 'ada' } })
  await handled(app, 'test-pokes-fanout', last)
  t.match(await ada.next(isPoke), { type: 'poke.sent', data: { from: 'ada' } }, 'ada never got bob\'s nudge: her next event is the later poke')
})

t.test('a plugin declares the same topic through app.topicHandlers.addTopic', async (t) => {
  const app = await build(t, {}, {}, fp(async (app: FastifyInstance) => { app.topicHandlers.addTopic(pokes) }, { dependencies: ['topic-handlers'] }))
  const { client } = await connectAs(app, t, 'cy')
  await client.subscribe('den')
  await app.events.produce('test-pokes', 'den', { v: 1, type: 'poke.sent', channelId: 'den', at, data: { from: 'cy' } })
  t.match(await client.next(isPoke), { channel: 'den', type: 'poke.sent', data: { from: 'cy' } })
  t.throws(() => app.topicHandlers.addTopic({ ...pokes, name: 'too-late' }), /added after the consumers started/, 'adding after ready is refused')
})
