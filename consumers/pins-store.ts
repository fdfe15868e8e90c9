// Pins into the pin store, each change applied only above the version its pin holds (replays and
// an older change that the log received late change nothing). An applied unpin also gives its
// place back, in case the request that made it could not (it crashed between the log and Redis).
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError } from '../plugins/external/errors.ts'

export default defineTopicHandler({
  name: 'pins-store',
  topic: topics.pins,
  mode: 'shared',
  async handle (event, { app }) {
    const { channelId } = event
    const { messageId, userId, version } = event.data
    const pinned = event.type === 'pin.added'
    const applied = await app.pins.store.apply({ channelId, messageId, pinned, userId, at: event.at, version })
    if (applied && !pinned) await app.pins.reservations.release(channelId, messageId, version)
    // A pin that passed its message lookup just before the message's deletion was accepted, and
    // took its place after the deletion's unpin (consumers/messages-pins.ts): unpinned here.
    if (applied && pinned && (await app.recentMessages.get(messageId))?.state === 'deleted') {
      await app.pins.unpin(channelId, messageId, null).catch((err: Error) => {
        throw new TransientError(`could not unpin deleted message ${messageId}: ${err.message}`, { cause: err })
      })
    }
  }
})
