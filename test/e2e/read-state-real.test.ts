// Two instances of one deployment on Kafka, Redis and MongoDB: a user reads a channel on one device
// (through instance A) and their other device, connected to instance B, clears its badge.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { handled } from '../helper.ts'
import { as } from '../chat.ts'
import { buildReal, cleanupReal, realNames, requireServices } from '../services.ts'
import { client, listen } from '../client/harness.ts'
import type { Position } from '../../schemas/message.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  t.test('read on instance A: the device on instance B gets read.updated and its unread count goes to 0', async (t) => {
    const names = realNames('readstate')
    t.teardown(() => cleanupReal(names))
    const a = await buildReal(t, { names })
    const b = await buildReal(t, { names })
    // shared handlers run on whichever instance holds the partition
    const handledOnEither = (handler: string, position: Position) => Promise.race([a, b].map((app) => handled(app, handler, position)))
    const postOn = async (app: FastifyInstance, user: string, content: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as(user), payload: { channelId: 'general', content } })
      t.equal(res.statusCode, 201)
      const message = res.json()
      await handledOnEither('messages-read-index', message.position)
      return message
    }
    await postOn(a, 'alice', 'hello from alice') // her channel, read up to her first post
    const m = await postOn(b, 'bob', 'hi alice')

    const onB = await listen(b)
    const phone = client(t, { url: onB.ws, api: onB.api, user: { id: 'alice' } })
    t.match(await phone.unread.next('change', (c) => c.channelId === 'general'), { unread: 1 }, 'the phone on B: one unread')
    const cleared = phone.unread.next('change', (c) => c.channelId === 'general' && c.unread === 0)

    const res = await a.inject({ method: 'PUT', url: '/api/channels/general/read', headers: as('alice'), payload: { messageId: m.id } })
    t.equal(res.statusCode, 204, 'the desktop reads on A')
    t.match(await cleared, { unread: 0, mentions: 0, lastReadMessageId: m.id }, 'the phone on B cleared its badge')
  })
}
