// Keeps each channel's recent messages hot in the cache (recent-N, TTL), idempotently; edits patch
// the cached copy and deletions drop it with a tombstone, so history never serves stale text.
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
      case 'message.updated':
        await app.cache.patch(event.channelId, event.data.id, { content: event.data.content, editedAt: event.data.editedAt })
        break
      case 'message.deleted':
        await app.cache.remove(event.channelId, event.data.id)
        break
    }
  }
})
