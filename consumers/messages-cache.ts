// Keeps each channel's recent messages hot in the cache (recent-N, TTL), idempotently.
import { MessageEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'messages-cache',
  topic: 'messages',
  mode: 'shared',
  schema: MessageEvent,
  async handle (event, { app, position }) {
    switch (event.type) {
      case 'message.created':
        await app.cache.upsert({ ...event.data, position })
        break
    }
  }
})
