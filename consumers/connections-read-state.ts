// A user's first subscribe to a channel counts it as read up to its newest message then (a default
// marker, stored only where the user has none): joining a busy channel does not show it as
// thousands unread. Topics are not ordered with each other, so a message still on its way to the
// index may count as unread: a default is a floor, never a marker the user set.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { isServerNamedChannel } from '../schemas/channel-kinds.ts'
import type { Marker } from '../plugins/read-state/store.ts'

export default defineTopicHandler({
  name: 'connections-read-state',
  topic: topics.connections,
  mode: 'shared',
  async handleBatch (events, { app }) {
    const { store } = app.readState
    const subscribed = new Map<string, { userId: string, channelId: string, at: string }>()
    for (const { event } of events) {
      if (event.type !== 'subscribed') continue
      const channelId = event.data.channel
      if (isServerNamedChannel(channelId)) continue
      subscribed.set(`${event.userId}\n${channelId}`, { userId: event.userId, channelId, at: event.at })
    }
    if (subscribed.size === 0) return
    const heads = new Map<string, Awaited<ReturnType<typeof store.head>>>()
    for (const { channelId } of subscribed.values()) if (!heads.has(channelId)) heads.set(channelId, await store.head(channelId))
    await store.ensure([...subscribed.values()].map(({ userId, channelId, at }): Marker => {
      const head = heads.get(channelId)
      return { userId, channelId, messageId: head?.messageId ?? null, position: head?.position ?? null, readAt: at, ...(head?.seq !== undefined ? { seq: head.seq } : {}) }
    }))
  }
})
