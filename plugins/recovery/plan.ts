// Reconnect recovery: which missed message events a resubscribing client gets, and the proof that
// they are all of them. Never a partial recovery: either every event of the channel after `since`
// is replayed (recovered: true) or none is (recovered: false, the client reloads over HTTP).
// Offsets are partition offsets (channels share partitions), so a channel's offsets have holes:
// completeness is proven with windows ("this source saw every record of the partition in
// (floor, high]"), never by counting offsets.
import type { Position } from '../../schemas/message.ts'
import { frames } from '../../fanout/protocol.ts'
import type { SubscribeResult } from '../../fanout/types.ts'

/** One message event as a source keeps it: its offset and the `event` frame exactly as published. */
export interface RecoveredEvent { offset: string, frame: string }

/**
 * What one source knows of a channel in one epoch: every event of the channel with an offset in
 * (floor, high] is in `events` (oldest first). `floor` may be "-1" (everything since offset 0).
 */
export interface ChannelWindow {
  epoch: string
  floor: string
  high: string
  events: readonly RecoveredEvent[]
  /** set by a shared log that left the events unread because they exceed the replay budget (the window then proves nothing) */
  overBudget?: boolean
}

/**
 * Plans the replay for a client that last saw `since`. `local` is this instance's buffer (its
 * `high` is what this instance has already published, so it is where the client will stand);
 * `shared` (Redis) may reach further back. Returns null when the two cannot prove completeness.
 */
export function planRecovery (since: Position, local: ChannelWindow | null, shared: ChannelWindow | null = null): SubscribeResult | null {
  if (!local || local.epoch !== since.epoch) return null
  const from = BigInt(since.offset)
  const high = BigInt(local.high)
  // Ahead of what this instance has published: a future (or forged) position, or a lagging instance.
  if (from > high) return null
  const byOffset = new Map<bigint, string>()
  if (from < BigInt(local.floor)) {
    // The local buffer starts too late: the shared log must cover (since, local floor] without a hole.
    if (!shared || shared.epoch !== since.epoch) return null
    if (from < BigInt(shared.floor) || BigInt(shared.high) < BigInt(local.floor)) return null
    for (const e of shared.events) {
      const offset = BigInt(e.offset)
      if (offset > from && offset <= high) byOffset.set(offset, e.frame)
    }
  }
  for (const e of local.events) {
    const offset = BigInt(e.offset)
    if (offset > from) byOffset.set(offset, e.frame)
  }
  const replay = [...byOffset.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, frame]) => frame)
  // Live frames at or below `high` were already published, hence replayed: the hub drops them.
  return { position: { epoch: local.epoch, offset: local.high }, recovered: true, replay }
}

/**
 * What a later event made of a message: deleted, or its current text. Replay serves current state,
 * so every source applies it to the message's earlier frames (`revise`).
 */
export type Revision = { id: string, deleted: true } | { id: string, deleted?: false, content: string, editedAt: string }

/** The revision a message event makes: an edit or a deletion; null for a new message. */
export function revisionOf (event: { type: string, data: { id: string, content?: string, editedAt?: string } }): Revision | null {
  if (event.type === 'message.deleted') return { id: event.data.id, deleted: true }
  if (event.type === 'message.updated') return { id: event.data.id, content: event.data.content ?? '', editedAt: event.data.editedAt ?? '' }
  return null
}

/**
 * The event frame `frame` as its message stands after `revision`, or null when the frame is not an
 * event of that message. A deleted message's frames become its deletion (same channel and position,
 * no text); an edited one's carry the current text and edit time. Channel, position and type (for
 * an edit) stay, so the offsets of a replay, hence its completeness proof, are unchanged.
 */
export function revise (frame: string, revision: Revision): string | null {
  // Cheap test first: message ids are hex, and JSON escapes quotes inside strings, so only the
  // frame's own `"id"` field can hold this text (then parsing confirms it).
  if (!frame.includes(`"id":${JSON.stringify(revision.id)}`)) return null
  const f = JSON.parse(frame) as { channel: string, position?: Position, type: string, data?: Record<string, unknown> }
  if (f.data?.id !== revision.id) return null
  if (revision.deleted) return frames.event(f.channel, 'message.deleted', { id: revision.id, channelId: f.data.channelId ?? f.channel }, f.position)
  if (f.type === 'message.deleted') return frame
  return frames.event(f.channel, f.type, { ...f.data, content: revision.content, editedAt: revision.editedAt }, f.position)
}

/** A decimal offset minus one, as a string ("0" → "-1"). */
export function before (offset: string): string {
  return (BigInt(offset) - 1n).toString()
}
