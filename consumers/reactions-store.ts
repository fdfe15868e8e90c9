// Reactions onto their message in the store (a set per emoji, never behind the last position applied:
// redelivery and a stale consumer's write change nothing), then the store's resulting reactions onto
// the cached copy. One handler, so the cache never runs ahead of the store or needs its own merge logic.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError } from '../plugins/external/errors.ts'

export class MessageNotFoundYet extends Error {
  constructor (messageId: string) {
    super(`message ${messageId} is not in the store (not stored yet, or deleted)`)
    this.name = 'MessageNotFoundYet'
  }
}

export default defineTopicHandler({
  name: 'reactions-store',
  topic: topics.reactions,
  mode: 'shared',
  async handle (event, { app, position }) {
    const { messageId, emoji, userId } = event.data
    // with its position: a stale write after a rebalance cannot undo a later reaction
    const reactions = await app.store.react(messageId, emoji, userId, event.type === 'reaction.added', position)
    // Topics are not ordered with each other: the message may still be on its way to the store.
    // One its post recorded lately (and not deleted) will be there: wait for it however long the
    // store takes (an outage); otherwise retry with backoff, then dead-letter (never dropped silently).
    if (!reactions) {
      if ((await app.recentMessages.get(messageId))?.state === 'posted') throw new TransientError(`message ${messageId} is posted but not stored yet`)
      throw new MessageNotFoundYet(messageId)
    }
    await app.cache.patch(event.channelId, messageId, { reactions })
  }
})
