// Keeps each channel's recent messages hot in the cache (recent-N, TTL), a batch at a time,
// idempotently; edits patch the cached copy and deletions drop it with a tombstone, so history never
// serves stale text.
import { topics } from '../schemas/topics.ts'
import { isMessageEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { messageChange } from '../plugins/store/store.ts'

export default defineTopicHandler({
  name: 'messages-cache',
  topic: topics.messages,
  mode: 'shared',
  // Redis only: goes on while the store waits out a MongoDB outage (docs/operations.md)
  group: 'cache',
  async handleBatch (events, { app }) {
    const changes = events.flatMap(({ event, position }) => isMessageEvent(event) ? [messageChange(event, position)] : [])
    if (changes.length > 0) await app.cache.apply(changes)
  }
})
