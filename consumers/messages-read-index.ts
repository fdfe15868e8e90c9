// What the unread counts read (docs/chat-state.md, "How it counts"): the `messages` stream handed to
// the read-state store in stream order, which numbers each channel's messages (a counter per channel),
// keeps its deletions and each user's mentions, moves a sender's marker to their own post (posting
// reads the channel), and places the default markers that keep a channel someone joins from counting
// as thousands unread: read up to just before their first mention, up to a private channel's access
// mark for its members (a member added later: consumers/channels-read-state.ts). One owner per
// partition, so a channel's counter has one writer. In a group of its own: a slow read-state store
// holds back neither the message store nor the fanout. The batch's span lets the store keep the
// counters it wrote while it handles a partition's batches back to back.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import type { BatchSpan, IndexChange } from '../plugins/read-state/store.ts'
import { mentionedUsers } from './messages-mentions.ts'

export default defineTopicHandler({
  name: 'messages-read-index',
  topic: topics.messages,
  mode: 'shared',
  group: 'read-state',
  // a store write per channel per batch: bigger batches, fewer writes (READ_STATE_LINGER_MS)
  lingerMs: (config) => config.READ_STATE_LINGER_MS,
  async handleBatch (events, { app }) {
    const changes: IndexChange[] = []
    const spans = new Map<string, BatchSpan>()
    for (const { event, position } of events) {
      const offset = Number(position.offset)
      const span = spans.get(position.epoch)
      if (!span) spans.set(position.epoch, { epoch: position.epoch, first: offset, last: offset })
      else span.last = Math.max(span.last, offset)
      if (event.type === 'message.created') {
        const message = event.data
        const mentions = mentionedUsers(message.content).filter((u) => u !== message.senderId)
        // replies (threads) carry `parentId`: indexed as such, and never counted as unread
        const parentId = (message as { parentId?: string }).parentId
        changes.push({ type: 'create', at: event.at, message: { id: message.id, channelId: message.channelId, senderId: message.senderId, position, mentions, ...(parentId !== undefined ? { parentId } : {}) } })
      } else if (event.type === 'message.deleted') {
        changes.push({ type: 'delete', id: event.data.id, channelId: event.data.channelId, position })
      } else if (event.type === 'channel.access') {
        changes.push({ type: 'access', channelId: event.channelId, members: event.data.members, position, at: event.at })
      }
    }
    await app.readState.store.index(changes, [...spans.values()])
  }
})
