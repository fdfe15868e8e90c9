// Every instance delivers each message event to its own subscribers (broadcast: one group per instance).
// An edit or a deletion also revises the message's earlier frames in this instance's recovery
// buffer, so a client that resubscribes later is replayed current state (docs/recovery.md).
// Written by hand, not derived from the catalogue's `fanout` (plugins/topic-relay.ts): it does more
// than relay. Its frames carry positions and are built by the builder replays share, a redelivery
// the hub drops is no delivery for the latency metric, and edits revise the recovery buffer.
// An access mark (a private channel created, a member removed) comes in order with the channel's
// messages: the subscribers it excludes are dropped before anything later is delivered.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { messageFrame } from '../fanout/protocol.ts'
import { revisionOf } from '../plugins/recovery/plan.ts'
import { memberRefusal } from '../plugins/channels/index.ts'

export default defineTopicHandler({
  name: 'messages-fanout',
  topic: topics.messages,
  mode: 'broadcast',
  async handle (event, { app, position }) {
    const { hub } = app.fanout
    if (event.type === 'channel.access') {
      const { channelId, data: channel } = event
      app.channels.forget(channelId) // later checks read the change from the store
      hub.refreshAccess(channelId) // subscribes in flight check again before they go live
      for (const conn of [...hub.subscribersOf(channelId)]) {
        const reason = memberRefusal(channel, conn.user, channelId, 'read')
        if (reason && hub.unsubscribe(conn, channelId)) hub.error(conn, 'forbidden', reason)
      }
      return
    }
    const published = hub.publishFrame(event.channelId, messageFrame(event, position), position)
    // post→delivery latency, once per event; a redelivery the hub did not send again is no delivery
    if (published.outcome !== 'redelivery-dropped') app.deliveryLatency.observe(event.at)
    const revision = revisionOf(event)
    if (revision) app.recovery.buffer.revise(event.channelId, position, revision)
  }
})
