// Members of a private channel count it as read up to its newest message when they were added
// (a default marker, stored only where the member has none): being added to a busy channel does
// not show thousands unread. The `channels` topic says only that the channel changed: its members
// are read from the store, once per change.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'channels-read-state',
  topic: topics.channels,
  mode: 'shared',
  async handleBatch (events, { app }) {
    const { store } = app.readState
    const changed = new Map(events.map(({ event }) => [event.channelId, event.at]))
    for (const [channelId, at] of changed) {
      const channel = await app.channels.store.get(channelId)
      if (!channel?.private) continue
      const head = await store.head(channelId)
      await store.ensure(channel.members.map((userId) => ({ userId, channelId, messageId: head?.messageId ?? null, position: head?.position ?? null, readAt: at, ...(head?.seq !== undefined ? { seq: head.seq } : {}) })))
    }
  }
})
