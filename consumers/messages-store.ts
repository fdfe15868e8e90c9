// Every message event into the durable store, idempotently (upsert by message id).
import { MessageEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'messages-store',
  topic: 'messages',
  mode: 'shared',
  schema: MessageEvent,
  async handle (event, { app, position }) {
    switch (event.type) {
      case 'message.created':
        await app.store.upsert({ ...event.data, position })
        break
    }
  }
})
