// Offline notifications on the real services, two instances: a mention of a user with no live
// connection anywhere goes to `notifications.offline` once; of a user online on either instance, never.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { connectAs } from '../helper.ts'
import { buildReal, cleanupReal, realNames, requireServices, unique } from '../services.ts'
import { topics } from '../../schemas/topics.ts'
import { defineTopicHandler } from '../../plugins/topic-handlers.ts'
import type { NotificationEvent } from '../../schemas/events.ts'
import type { HandledRecord } from '../../plugins/topic-handlers.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('offline')
  t.teardown(() => cleanupReal(names))
  const pushed: NotificationEvent[] = []
  let onPush: (() => void) | undefined
  const pushLog = defineTopicHandler({
    name: 'test-push-sender',
    topic: topics.notificationsOffline,
    mode: 'broadcast',
    async handle (event) { pushed.push(event); onPush?.() }
  })
  const a = await buildReal(t, { names }, { handlers: [pushLog] })
  const b = await buildReal(t, { names })

  /** Resolves once `count` notifications were handled by the offline handler, on either instance. */
  const handledOffline = (apps: FastifyInstance[], count: number) => new Promise<HandledRecord[]>((resolve) => {
    const seen: HandledRecord[] = []
    for (const app of apps) {
      app.topicHandlers.events.on('handled', (h) => {
        if (h.handler !== 'notifications-offline') return
        seen.push(h)
        if (seen.length === count) resolve(seen)
      })
    }
  })
  let producedOffline = 0
  for (const app of [a, b]) app.events.emitter.on('produced', (p) => { if (p.topic === 'notifications.offline' && p.outcome === 'ok') producedOffline++ })

  t.test('a mention of an offline user is pushed once; of an online user, never', async (t) => {
    const online = unique('olive')
    const offline = unique('oscar')
    await connectAs(b, t, online)
    await b.connections.settled()
    t.equal((await a.connections.statuses([online]))[0].status, 'online', `${online} is online on B, as A sees it`)

    const both = handledOffline([a, b], 2)
    const arrived = new Promise<void>((resolve) => { onPush = resolve })
    const res = await a.inject({ method: 'POST', url: '/api/messages', payload: { channelId: unique('room'), content: `hi @${online} and @${offline}`, senderId: 'sam' } })
    t.equal(res.statusCode, 201)
    const message = res.json()
    const outcomes = await both
    t.same(outcomes.map((h) => h.outcome), ['ok', 'ok'], 'both notifications handled')
    await arrived
    t.equal(producedOffline, 1, 'one offline notification produced: the online user got none')
    t.equal(pushed.length, 1)
    t.match(pushed[0], { type: 'notification', userId: offline, data: { id: `${message.id}:${offline}`, kind: 'mention', messageId: message.id, from: 'sam' } }, 'for the offline user, with a dedupe id')
  })
}
