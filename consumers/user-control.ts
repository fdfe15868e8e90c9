// Commands about a user's connections, cluster-wide (admin API): every instance closes its own
// sockets of the user. Each close reports `disconnected` (admin_disconnect) as usual.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'user-control',
  topic: topics.userControl,
  mode: 'broadcast',
  async handle (event, { app, log }) {
    const { hub } = app.fanout
    const mine = [...hub.connectionsOf(event.userId)] // a copy: each close leaves the hub's set
    for (const conn of mine) hub.close(conn, event.data.code, event.data.reason)
    if (mine.length) log.info({ userId: event.userId, connections: mine.length }, 'closed the user\'s connections (admin)')
  }
})
