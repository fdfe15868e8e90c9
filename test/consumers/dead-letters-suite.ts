// Poison events on each topic land in `<topic>.dlq` with the reason and the original payload, once
// per consumer of the topic (naming its handlers), and the partition keeps moving. Run on embedded and on real Kafka.
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { DeadLetter } from '../../plugins/topic-handlers.ts'
import type { Position } from '../../schemas/message.ts'
import { handled } from '../helper.ts'
import { post } from '../chat.ts'

/** Reads `<topic>.dlq` from its start; `until` resolves once the letters satisfy the predicate. */
export async function readDeadLetters (t: Test, app: FastifyInstance, topic: string) {
  const letters: DeadLetter[] = []
  let waiter: { check: () => boolean, resolve: () => void } | undefined
  const consumer = await app.bus.consume({
    name: `test-dlq-${topic}`,
    topic: `${topic}.dlq`,
    mode: 'shared',
    handle: async (record) => {
      letters.push(JSON.parse(record.value.toString()))
      if (waiter?.check()) waiter.resolve()
    }
  })
  t.teardown(() => consumer.stop())
  return {
    letters,
    until: (check: () => boolean) => new Promise<void>((resolve) => { if (check()) resolve(); else waiter = { check, resolve } })
  }
}

/** A valid event for each topic, keyed like the poison so it shares its partition. */
type ValidEvent = (app: FastifyInstance, key: string) => Promise<Position>

export function deadLetterSuite (t: Test, makeApp: (t: Test) => Promise<FastifyInstance>) {
  const topics: Record<string, { key: string, valid: ValidEvent }> = {
    messages: {
      key: 'dlq-room',
      valid: (app, key) => app.events.produce('messages', key, { v: 1, type: 'message.created', channelId: key, at: new Date().toISOString(), data: { id: '0123456789abcdef01234567', channelId: key, senderId: 'u1', senderName: 'U1', content: 'after the poison', createdAt: new Date().toISOString() } })
    },
    reactions: {
      key: 'dlq-room',
      valid: async (app, key) => {
        const target = await post(app, key, 'react here')
        return app.events.produce('reactions', key, { v: 1, type: 'reaction.added', channelId: key, at: new Date().toISOString(), data: { messageId: target.id, emoji: '👍', userId: 'u2' } })
      }
    },
    'user-activity': {
      key: 'dlq-room',
      valid: (app, key) => app.events.produce('user-activity', key, { v: 1, type: 'typing', channelId: key, at: new Date().toISOString(), data: { userId: 'u1' } })
    },
    notifications: {
      key: 'dlq-user',
      valid: (app, key) => app.events.produce('notifications', key, { v: 1, type: 'notification', userId: key, at: new Date().toISOString(), data: { id: 'm:dlq-user', kind: 'mention', messageId: 'm', channelId: 'c', from: 'u1', fromName: 'U1', excerpt: 'hi', createdAt: new Date().toISOString() } })
    }
  }

  for (const [topic, { key, valid }] of Object.entries(topics)) {
    t.test(`${topic}: invalid JSON and schema-invalid events go to ${topic}.dlq; the next event is handled`, async (t) => {
      const app = await makeApp(t)
      const mine = app.topicHandlers.list.filter((h) => h.topic.name === topic)
      const handlers = mine.map((h) => h.name)
      // parsed and validated once per consumer (topic, delivery mode and group): one letter each, naming its handlers
      const consumers = new Set(mine.map((h) => `${h.mode}.${h.group ?? ''}`)).size
      t.ok(handlers.length > 0, `${topic} has handlers: ${handlers.join(', ')}`)
      const dlq = await readDeadLetters(t, app, topic)
      const notJson = '{"v":1,"type":'
      const wrongShape = JSON.stringify({ v: 1, type: 'no.such.event', channelId: key, at: 'now', data: {} })
      const first = await app.bus.produce(topic, key, notJson)
      const second = await app.bus.produce(topic, key, wrongShape)
      const next = await valid(app, key)

      await dlq.until(() => dlq.letters.length >= consumers * 2)
      for (const handler of handlers) {
        const letters = dlq.letters.filter((l) => l.handler.split(',').includes(handler))
        t.match(letters.find((l) => l.offset === first.offset), { topic, partition: first.partition, reason: 'invalid JSON', payload: notJson }, `${handler}: invalid JSON, with the payload`)
        t.match(letters.find((l) => l.offset === second.offset), { topic, partition: second.partition, reason: /^schema: /, payload: wrongShape }, `${handler}: schema failure, with the payload`)
        t.equal((await handled(app, handler, next)).outcome, 'ok', `${handler}: the next event on the partition is handled`)
      }
      t.equal(dlq.letters.length, consumers * 2, 'one letter per poison record and consumer, not one per handler')
      t.equal(next.epoch, `${first.epoch}`, 'the valid event shared the poison\'s partition')
    })
  }
}
