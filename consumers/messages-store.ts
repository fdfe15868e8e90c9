// Every message event into the durable store, a batch at a time: creates inserted once (a
// redelivered one finds its message or tombstone), edits and deletes applied only when newer than
// the last event applied to the message (see the store contract).
import { topics } from '../schemas/topics.ts'
import { isMessageEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { messageChange } from '../plugins/store/store.ts'

export default defineTopicHandler({
  name: 'messages-store',
  topic: topics.messages,
  mode: 'shared',
  async handleBatch (events, { app }) {
    const changes = events.flatMap(({ event, position }) => isMessageEvent(event) ? [messageChange(event, position)] : [])
    if (changes.length > 0) await app.store.apply(changes)
  }
})
