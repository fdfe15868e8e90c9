// Every instance ends the live subscriptions of users who may no longer read a channel: subscribed
// while it was public and it was then created private, or removed from its members.
import { ChannelAccessChanged } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'channels-access',
  topic: 'channels',
  mode: 'broadcast',
  schema: ChannelAccessChanged,
  async handle (event, { app }) {
    const { channelId } = event
    app.channels.forget(channelId) // this instance's copy predates the change
    const { hub } = app.fanout
    for (const conn of [...hub.connections()]) {
      if (!conn.channels.has(channelId)) continue
      const reason = await app.channels.refusal(conn.user ? { id: conn.user } : null, channelId, 'read')
      if (reason && hub.unsubscribe(conn, channelId)) hub.error(conn, 'forbidden', reason)
    }
  }
})
