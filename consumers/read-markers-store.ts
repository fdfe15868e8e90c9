// Read markers into the read-state store, one write per user and channel per batch (folded in log
// order: forward only, mark as unread the one way back, a replay changes nothing). Each marker that
// moved is announced as `read.updated` to the user's devices (after the write: a device that reloads
// its counts sees the new marker) and, moved forward in a small channel, as a throttled
// `receipt.read` to the channel.
import { topics } from '../schemas/topics.ts'
import type { ReadUpdatedEvent, ReceiptEvent } from '../schemas/read-state.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError } from '../plugins/external/errors.ts'
import { coalesce, type Marker } from '../plugins/read-state/store.ts'

export default defineTopicHandler({
  name: 'read-markers-store',
  topic: topics.readMarkers,
  mode: 'shared',
  async handleBatch (events, { app }) {
    const { store, receipts } = app.readState
    const changes = coalesce(events.map(({ event, position }) => ({ userId: event.userId, ...event.data, at: event.at, applied: position })))
    const moved = await store.mark(changes)
    // after the write: a batch that failed to write is retried, and counted once it succeeds
    app.readState.stats.markerWrites += changes.length
    if (moved.length === 0) return
    try {
      // a failure retries the batch: the store reports these markers again (the same records), so they are announced at least once
      await Promise.all(moved.map((m) => app.events.produce('read-updates', m.userId, {
        v: 1, type: 'read.updated', userId: m.userId, at: new Date().toISOString(), data: { channelId: m.channelId, messageId: m.messageId, position: m.position, readAt: m.readAt }
      } satisfies ReadUpdatedEvent)))
    } catch (err) {
      throw new TransientError(`could not announce ${moved.length} read markers: ${(err as Error).message}`, { cause: err })
    }
    // Receipts: markers that moved to a message, in channels of at most RECEIPTS_MAX_READERS readers,
    // of users who keep them on
    const forward = moved.filter((m): m is Marker & { messageId: string } => m.messageId !== null)
    if (forward.length === 0) return
    const max = app.config.RECEIPTS_MAX_READERS
    const channelIds = [...new Set(forward.map((m) => m.channelId))]
    const small = new Set((await Promise.all(channelIds.map(async (c) => await store.readers(c, max) <= max ? c : null))).filter((c) => c !== null))
    const off = await store.receiptsOff([...new Set(forward.map((m) => m.userId))])
    for (const m of forward) {
      if (!small.has(m.channelId) || off.has(m.userId)) continue
      const event: ReceiptEvent = { v: 1, type: 'receipt.read', channelId: m.channelId, at: new Date().toISOString(), data: { userId: m.userId, messageId: m.messageId } }
      receipts.offer(`${m.userId}\n${m.channelId}`, async () => { await app.events.produce('receipts', m.channelId, event) })
    }
  }
})
