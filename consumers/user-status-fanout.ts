// Every instance delivers a user's status changes to its subscribers of `status:<userId>` (contacts
// watching them). Clients keep the highest `version` per user: changes made on two instances can
// arrive out of order, and the current status sent on subscribe can cross a change in flight.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { STATUS_PREFIX } from '../plugins/connections/index.ts'

export default defineTopicHandler({
  name: 'user-status-fanout',
  topic: topics.userStatus,
  mode: 'broadcast',
  async handle (event, { app }) {
    app.fanout.publish(`${STATUS_PREFIX}${event.userId}`, event.type, event.data)
  }
})
