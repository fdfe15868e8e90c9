// A deleted message leaves its channel's pins: its place is given back and a `pin.removed` (marked
// `deleted`) goes into the log, so the store and the channel's subscribers drop it. A redelivered
// deletion finds no place held and produces nothing.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError, isTransient } from '../plugins/external/errors.ts'

export default defineTopicHandler({
  name: 'messages-pins',
  topic: topics.messages,
  mode: 'shared',
  // Redis (the places), the log and at times MongoDB: a group of its own, so an outage of one of
  // them holds back neither the store's writes nor the cache's
  group: 'pins',
  async handle (event, { app }) {
    if (event.type !== 'message.deleted') return
    try {
      await app.pins.unpin(event.channelId, event.data.id, null)
    } catch (err) {
      if (isTransient(err) || (err as { statusCode?: number }).statusCode === 503) throw new TransientError(`could not unpin deleted message ${event.data.id}: ${(err as Error).message}`, { cause: err })
      throw err
    }
  }
})
