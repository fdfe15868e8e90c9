// Every instance delivers typing and presence events to its own subscribers of the channel.
// Ephemeral: no store, no cache, no position (a reconnecting client is not replayed them).
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'user-activity-fanout',
  topic: topics.userActivity,
  mode: 'broadcast',
  async handle (event, { app }) {
    app.fanout.publish(event.channelId, event.type, event.data)
  }
})
