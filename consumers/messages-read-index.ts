// What the unread counts read: a slim entry per message (sender, mentions, position, reply or not,
// deleted or not) in the read-state store, and the default markers that keep a channel someone
// joins from counting as thousands unread: read up to their first post, up to just before their
// first mention, up to a private channel's creation (its access mark, in stream order; a member
// added later: consumers/channels-read-state.ts) (docs/chat-state.md). In a group of its
// own: a slow read-state store holds back neither the message store nor the fanout.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { before, type IndexChange, type Marker } from '../plugins/read-state/store.ts'
import { mentionedUsers } from './messages-mentions.ts'

export default defineTopicHandler({
  name: 'messages-read-index',
  topic: topics.messages,
  mode: 'shared',
  group: 'read-state',
  async handleBatch (events, { app }) {
    const changes: IndexChange[] = []
    const defaults = new Map<string, Marker>() // the first per user and channel in the batch
    const byDefault = (m: Marker) => { const key = `${m.userId}\n${m.channelId}`; if (!defaults.has(key)) defaults.set(key, m) }
    for (const { event, position } of events) {
      if (event.type === 'message.created') {
        const message = event.data
        const mentions = mentionedUsers(message.content).filter((u) => u !== message.senderId)
        // replies (threads) carry `parentId`: indexed as such, and never counted as unread
        const parentId = (message as { parentId?: string }).parentId
        changes.push({ type: 'create', message: { id: message.id, channelId: message.channelId, senderId: message.senderId, position, mentions, ...(parentId !== undefined ? { parentId } : {}) } })
        byDefault({ userId: message.senderId, channelId: message.channelId, messageId: message.id, position, readAt: event.at })
        for (const userId of mentions) byDefault({ userId, channelId: message.channelId, messageId: null, position: before(position), readAt: event.at })
      } else if (event.type === 'message.deleted') {
        changes.push({ type: 'delete', id: event.data.id })
      } else if (event.type === 'channel.access') {
        for (const userId of event.data.members) byDefault({ userId, channelId: event.channelId, messageId: null, position, readAt: event.at })
      }
    }
    await app.readState.store.index(changes)
    await app.readState.store.ensure([...defaults.values()])
  }
})
