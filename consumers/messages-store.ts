// Every message event into the durable store, a batch at a time: creates inserted once (a
// redelivered one finds its message or tombstone), edits and deletes applied only when newer than
// the last event applied to the message (see the store contract). A reply is counted into its
// parent's thread in the same batch; the threads it changed then go onto the parent's cached copy
// (as reactions do, consumers/reactions-store.ts) and out to the channel as `thread.updated`.
import { topics } from '../schemas/topics.ts'
import { isMessageEvent, type ThreadUpdated } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { messageChange } from '../plugins/store/store.ts'
import { TransientError } from '../plugins/external/errors.ts'

export default defineTopicHandler({
  name: 'messages-store',
  topic: topics.messages,
  mode: 'shared',
  async handleBatch (events, { app }) {
    const changes = events.flatMap(({ event, position }) => isMessageEvent(event) ? [messageChange(event, position)] : [])
    if (changes.length === 0) return
    // A failure below retries the batch: the store counts each reply once, and a thread is a
    // state, so patching and announcing it again is harmless.
    for (const { id, channelId, thread } of await app.store.apply(changes)) {
      await app.cache.patch(channelId, id, { thread })
      const event: ThreadUpdated = { v: 1, type: 'thread.updated', channelId, at: new Date().toISOString(), data: { messageId: id, thread } }
      try {
        await app.events.produce('threads', channelId, event)
      } catch (err) {
        throw new TransientError(`could not announce the thread of ${id}: ${(err as Error).message}`, { cause: err })
      }
    }
  }
})
