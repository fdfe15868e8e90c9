// Pins on Kafka, Redis and MongoDB, two instances of one deployment: the places are shared, so
// concurrent pins answered by either instance never pass PINS_MAX, and every 204 is stored.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildReal, cleanupReal, realNames, requireServices } from '../services.ts'
import { connectAs } from '../helper.ts'
import { as } from '../chat.ts'

/** Resolves once the instances together have stored `count` pin events (each is handled on one of them). */
function storedPins (apps: FastifyInstance[], count: number): Promise<void> {
  let seen = 0
  return new Promise((resolve) => {
    for (const app of apps) {
      app.topicHandlers.events.on('handled', (h) => {
        if (h.handler === 'pins-store' && h.outcome === 'ok' && ++seen === count) resolve()
      })
    }
  })
}

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  t.test('two instances: of 55 concurrent pins 50 get 204 and are stored, 5 get 409; a deletion unpins', async (t) => {
    const names = realNames('pins')
    t.teardown(() => cleanupReal(names))
    const [a, b] = [await buildReal(t, { names, RATE_LIMIT_MAX: 0 }), await buildReal(t, { names, RATE_LIMIT_MAX: 0 })]
    const channel = 'pins-busy'
    const messages: Array<{ id: string }> = []
    for (let i = 0; i < 55; i++) {
      const res = await (i % 2 ? a : b).inject({ method: 'POST', url: '/api/messages', headers: as('alice'), payload: { channelId: channel, content: `message ${i}` } })
      t.equal(res.statusCode, 201)
      messages.push(res.json())
    }
    const { client } = await connectAs(b, t, 'carol')
    t.equal((await client.subscribe(channel)).op, 'subscribed')
    const fifty = storedPins([a, b], 50)
    // pinned right after their 201s: read-your-writes through the recent-messages record
    const answers = await Promise.all(messages.map((m, i) => (i % 2 ? b : a).inject({ method: 'PUT', url: `/api/channels/${channel}/pins/${m.id}`, headers: as('bob') })))
    t.equal(answers.filter((r) => r.statusCode === 204).length, 50, '50 pinned')
    t.equal(answers.filter((r) => r.statusCode === 409).length, 5, '5 refused')
    await fifty
    const listed = (await b.inject({ url: `/api/channels/${channel}/pins`, headers: as('bob') })).json().pins as Array<{ message: { id: string } }>
    t.equal(listed.length, 50, 'every 204 stored, none refused later')

    const victim = listed[0].message.id
    const unpinned = storedPins([a, b], 1)
    t.equal((await a.inject({ method: 'DELETE', url: `/api/messages/${victim}`, headers: as('alice') })).statusCode, 204)
    t.match(await client.next((f) => f.op === 'event' && f.type === 'pin.removed'), { data: { messageId: victim, deleted: true } })
    await unpinned
    const after = (await a.inject({ url: `/api/channels/${channel}/pins`, headers: as('bob') })).json().pins as Array<{ message: { id: string } }>
    t.equal(after.length, 49)
    t.notOk(after.some((p) => p.message.id === victim), 'the deleted message left the pins')
    t.equal(await a.pins.reservations.count(channel), 49, 'and gave its place back')
  })
}
