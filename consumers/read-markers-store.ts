// Read markers into the read-state store, one write per user and channel per batch (folded in log
// order: forward only, mark as unread the one way back, a replay changes nothing), then a throttled
// `receipt.read` to the channel for each marker that moved forward in a small channel.
import { topics } from '../schemas/topics.ts'
import type { ReceiptEvent } from '../schemas/read-state.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { coalesce, type Marker } from '../plugins/read-state/store.ts'

export default defineTopicHandler({
  name: 'read-markers-store',
  topic: topics.readMarkers,
  mode: 'shared',
  group: 'read-state',
  async handleBatch (events, { app }) {
    const { store, receipts } = app.readState
    const changes = coalesce(events.map(({ event, position }) => ({ userId: event.userId, ...event.data, at: event.at, applied: position })))
    const moved = (await store.mark(changes)).filter((m): m is Marker & { messageId: string } => m.messageId !== null)
    if (moved.length === 0) return
    // Receipts only in channels of at most RECEIPTS_MAX_READERS readers, from users who keep them on
    const max = app.config.RECEIPTS_MAX_READERS
    const channelIds = [...new Set(moved.map((m) => m.channelId))]
    const small = new Set((await Promise.all(channelIds.map(async (c) => await store.readers(c, max) <= max ? c : null))).filter((c) => c !== null))
    const off = await store.receiptsOff([...new Set(moved.map((m) => m.userId))])
    for (const m of moved) {
      if (!small.has(m.channelId) || off.has(m.userId)) continue
      const event: ReceiptEvent = { v: 1, type: 'receipt.read', channelId: m.channelId, at: new Date().toISOString(), data: { userId: m.userId, messageId: m.messageId } }
      receipts.offer(`${m.userId}\n${m.channelId}`, async () => { await app.events.produce('receipts', m.channelId, event) })
    }
  }
})
