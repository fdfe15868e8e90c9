// A channel's counts from its counter, not from its history (docs/chat-state.md, "How it counts"):
// unread = the channel's sequence number − the marker's − the deletions after the marker; mentions =
// the user's mention list after the marker. Shared by both stores.
import type { Counts, Marker } from './store.ts'
import type { ChannelCounter, IndexEntry, MentionList } from './sequence.ts'

/** The indexed message a marker's number is read from, when the marker does not carry it. */
export function refOf (m: Marker): { messageId: string, before: boolean } | undefined {
  if (m.seq !== undefined || m.position === null) return undefined
  // a marker stored before `ref` existed is at its message
  return m.ref ?? (m.messageId !== null ? { messageId: m.messageId, before: false } : undefined)
}

/** The channel's number at a marker set on `entry`'s message; undefined when it was indexed before numbers. */
export function seqOf (ref: { before: boolean }, entry: IndexEntry): number | undefined {
  if (entry.seq === undefined) return undefined
  // just before a countable message: one less; a reply has the number of the message before it
  return ref.before && entry.parentId === undefined ? entry.seq - 1 : entry.seq
}

/**
 * The counts at `marker`, each stopping at `max` + 1; null when the marker cannot be numbered
 * (no counter yet, its message not indexed yet or indexed before numbers): the caller counts that
 * channel the old way.
 */
export function countsAt (marker: Marker, counter: ChannelCounter | undefined, entry: IndexEntry | undefined, list: MentionList | undefined, max: number): Counts | null {
  if (!counter) return null
  const position = marker.position
  // another epoch's marker counts in its own epoch only: nothing there is new
  if (position !== null && position.epoch !== counter.epoch) return { unread: 0, mentions: 0 }
  let seq: number
  if (position === null) seq = 0
  else if (marker.seq !== undefined) seq = marker.seq
  else {
    const ref = refOf(marker)
    const at = ref && entry && entry.epoch === counter.epoch ? seqOf(ref, entry) : undefined
    if (at === undefined) return null
    seq = at
  }
  const deleted = counter.deleted.filter((s) => s > seq && s <= counter.seq).length
  const unread = Math.max(0, counter.seq - seq - deleted)
  const after = position === null ? -1 : Number(position.offset)
  const mentions = list && list.epoch === counter.epoch ? list.offsets.filter((o) => o > after).length : 0
  return { unread: Math.min(unread, max + 1), mentions: Math.min(mentions, max + 1) }
}
