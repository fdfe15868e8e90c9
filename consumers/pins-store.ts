// Pins into the pin store, each change applied only above the version its pin holds (replays and
// an older change that the log received late change nothing). An applied unpin also gives its
// place back, in case the request that made it could not (it crashed between the log and Redis).
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'pins-store',
  topic: topics.pins,
  mode: 'shared',
  async handle (event, { app }) {
    const { messageId, userId, version } = event.data
    const pinned = event.type === 'pin.added'
    const applied = await app.pins.store.apply({ channelId: event.channelId, messageId, pinned, userId, at: event.at, version })
    if (applied && !pinned) await app.pins.reservations.release(event.channelId, messageId, version)
  }
})
