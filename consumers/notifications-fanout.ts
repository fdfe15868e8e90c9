// Every instance delivers each notification to its own connections of the user: the personal
// channel `user:<id>`.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'notifications-fanout',
  topic: topics.notifications,
  mode: 'broadcast',
  async handle (event, { app }) {
    app.fanout.publish(`user:${event.userId}`, event.type, event.data)
  }
})
