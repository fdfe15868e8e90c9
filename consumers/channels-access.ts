// Every instance drops its copy of a changed channel (so access checks never read the store per
// request) and ends the live subscriptions of users who may no longer read it: subscribed while it
// was public and it was then created private, or removed from its members.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'channels-access',
  topic: topics.channels,
  mode: 'broadcast',
  // api instances keep their copy of channels current too (every post checks access)
  roles: ['api', 'fanout'],
  async handle (event, { app }) {
    const { channelId } = event
    app.channels.forget(channelId) // this instance's copy predates the change
    if (!app.roles.has('fanout')) return // an api-only instance has no subscribers
    const { hub } = app.fanout
    hub.refreshAccess(channelId) // subscribes in flight check again before they go live
    for (const conn of [...hub.subscribersOf(channelId)]) {
      const reason = await app.channels.refusal(conn.user ? { id: conn.user } : null, channelId, 'read')
      if (reason && hub.unsubscribe(conn, channelId)) hub.error(conn, 'forbidden', reason)
    }
  }
})
