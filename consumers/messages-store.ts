// Every message event into the durable store, a batch at a time: creates inserted once (a
// redelivered one finds its message or tombstone), edits and deletes applied only when newer than
// the last event applied to the message (see the store contract).
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { messageChange } from '../plugins/store/store.ts'

export default defineTopicHandler({
  name: 'messages-store',
  topic: topics.messages,
  mode: 'shared',
  async handleBatch (events, { app }) {
    await app.store.apply(events.map(({ event, position }) => messageChange(event, position)))
  }
})
