// Every instance delivers each notification to its own connections of the user: the personal
// channel `user:<id>`.
import { NotificationEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'notifications-fanout',
  topic: 'notifications',
  mode: 'broadcast',
  schema: NotificationEvent,
  async handle (event, { app }) {
    app.fanout.publish(`user:${event.userId}`, event.type, event.data)
  }
})
