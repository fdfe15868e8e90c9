// The read-state store contract: each user's read marker per channel, a slim index of each channel's
// messages with their sequence numbers, the counters that number them, per user and channel the
// mentions, and the users' receipt settings. Written only by topic handlers (markers, the index) and
// the settings route; state never goes backwards (docs/chat-state.md).
import { compareOffsets, type Position } from '../../schemas/message.ts'

/** A user's place in a channel: everything at or before `position` is read. */
export interface Marker {
  userId: string
  channelId: string
  /** The message the marker is at; null when it is not at one (mark as unread, a default). */
  messageId: string | null
  /** null: before the channel's first message (everything counts). */
  position: Position | null
  readAt: string
  /** A default (first subscribe, first post, first mention, added as a member), not set by the user. */
  implicit?: boolean
  /**
   * The channel's sequence number at the marker (its countable messages at or before it, in its
   * epoch), when the handler that placed it knew it (defaults, own posts); otherwise `ref` says
   * which indexed message to read it from when counting.
   */
  seq?: number
  /** A marker set by the user: the message it was set on; `before` after a mark as unread (just before it). */
  ref?: MarkerRef
}

export interface MarkerRef { messageId: string, before: boolean }

/**
 * One store write: the markers of one user and channel in a batch, folded (`coalesce`). `forward`
 * moves the marker only if `position` is further on; `set` (a mark as unread was among them) moves it
 * wherever it says. `applied` is the log position of the last marker record folded in: a write at or
 * below the one the stored marker last took (a replay, a stale consumer) changes nothing.
 */
export interface MarkerChange extends Marker {
  mode: 'forward' | 'set'
  applied: Position
}

/** A message as the counts need it. */
export interface IndexedMessage {
  id: string
  channelId: string
  senderId: string
  position: Position
  /** Users it mentions (`@<userId>`). */
  mentions: string[]
  /** A thread reply: replies are not counted. */
  parentId?: string
}

/**
 * What the index handler hands the store, in the channel's stream order, each with its position:
 * a message (`at`: its event's time, the readAt of the markers it places), a deletion, and a private
 * channel's access mark (its members count the channel read up to there).
 */
export type IndexChange =
  | { type: 'create', message: IndexedMessage, at: string }
  | { type: 'delete', id: string, channelId: string, position: Position }
  | { type: 'access', channelId: string, members: string[], position: Position, at: string }

/**
 * The stretch of the stream a batch covers, per epoch (partition): the offsets of its first and last
 * events, every event counted, not only the changes. A batch that starts just after the last one the
 * store indexed on that epoch follows it with nothing between: the store may keep what it wrote for
 * those channels instead of reading it back (plugins/read-state/mongo.ts).
 */
export interface BatchSpan { epoch: string, first: number, last: number }

export interface Counts { unread: number, mentions: number }

export interface ReadStateStore {
  readonly kind: 'embedded' | 'mongo'
  /**
   * Applies folded marker changes (one write each); resolves with the markers that moved. A change
   * whose `applied` is exactly the record the stored marker last took (a retry of a batch whose
   * announcement failed) changes nothing and is reported again, so the announcement is at least once.
   */
  mark (changes: MarkerChange[]): Promise<Marker[]>
  /** Default markers: each is stored only where the user has none in that channel yet. */
  ensure (markers: Marker[]): Promise<void>
  /** The user's markers, every channel. */
  markers (userId: string): Promise<Marker[]>
  /**
   * Folds a batch of the `messages` stream (plugins/read-state/sequence.ts): numbers new messages,
   * keeps deletions and mentions, places default markers and moves senders' markers to their own
   * posts; the channels' counters are written last. A change at or before the last one its channel's
   * counter took (a replay) changes nothing. `span`: the stretch of the stream the batch covers.
   */
  index (changes: IndexChange[], span?: BatchSpan[]): Promise<void>
  /** The channel's last indexed message, with the channel's sequence number there (when known); null when it has none. */
  head (channelId: string): Promise<{ messageId: string, position: Position, seq?: number } | null>
  /**
   * The counts of the user's channels, one entry per marker, each stopping at `max` + 1: a constant
   * number of store reads whatever the channels' history (counts.ts), except for a channel whose
   * marker cannot be numbered yet (its message not indexed yet, or indexed before sequence numbers),
   * which is counted by `count`.
   */
  unread (userId: string, markers: Marker[], max: number): Promise<Map<string, Counts>>
  /**
   * The fallback count: messages after `after` (null: all) in the marker's epoch, each count stopping
   * at `max` + 1: unread ones (not `userId`'s, not deleted, not replies) and those mentioning `userId`.
   */
  count (channelId: string, userId: string, after: Position | null, max: number): Promise<Counts>
  /** How many users hold a marker in the channel, counting at most `max` + 1. */
  readers (channelId: string, max: number): Promise<number>
  /** Markers in the channel at or after `position` (same epoch), at most `max`, receipts-off users left out. */
  readBy (channelId: string, position: Position, max: number): Promise<Marker[]>
  /** Users among `userIds` who turned receipts off. */
  receiptsOff (userIds: string[]): Promise<Set<string>>
  setReceipts (userId: string, on: boolean): Promise<void>
  ping (): Promise<void>
  close (): Promise<void>
}

/** Compares two positions of one stream; another epoch counts as later (the stream was re-created). */
export function comparePositions (a: Position | null, b: Position | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1
  if (a.epoch !== b.epoch) return 1
  return compareOffsets(a.offset, b.offset)
}

/** The place just before a message: marking it unread makes it (and what follows) count again. */
export function before (position: Position): Position | null {
  const offset = BigInt(position.offset)
  return offset === 0n ? null : { epoch: position.epoch, offset: String(offset - 1n) }
}

/** Whether the stored marker last took exactly this change's record (a retried batch). */
export function sameRecord (current: { applied?: Position } | undefined, change: MarkerChange): boolean {
  return current?.applied !== undefined && current.applied.epoch === change.applied.epoch && current.applied.offset === change.applied.offset
}

/** The marker a change leaves in place of `current`; null when it changes nothing. */
export function applyChange (current: (Marker & { applied?: Position }) | undefined, change: MarkerChange): Marker & { applied: Position } | null {
  if (current?.applied && current.applied.epoch === change.applied.epoch && compareOffsets(change.applied.offset, current.applied.offset) <= 0) return null
  if (change.mode === 'forward' && current && comparePositions(change.position, current.position) <= 0) return null
  const { mode: _mode, ...marker } = change
  return { ...marker, implicit: undefined, seq: undefined }
}

/** A marker event as folded by `coalesce`. */
export interface MarkerInput { userId: string, channelId: string, messageId: string, position: Position, unread: boolean, at: string, applied: Position }

/**
 * Folds a batch's markers (in log order) into one change per user and channel: forwards keep the
 * furthest; a mark as unread resets, and the forwards after it move on from there.
 */
export function coalesce (inputs: MarkerInput[]): MarkerChange[] {
  const folded = new Map<string, MarkerChange>()
  for (const m of inputs) {
    const key = `${m.userId}\n${m.channelId}`
    const prev = folded.get(key)
    const target = m.unread ? before(m.position) : m.position
    const base = { userId: m.userId, channelId: m.channelId, readAt: m.at, applied: m.applied }
    if (m.unread) {
      folded.set(key, { ...base, mode: 'set', messageId: null, position: target, ref: { messageId: m.messageId, before: true } })
    } else if (!prev || comparePositions(target, prev.position) > 0) {
      folded.set(key, { ...base, mode: prev?.mode ?? 'forward', messageId: m.messageId, position: target, ref: { messageId: m.messageId, before: false } })
    } else {
      folded.set(key, { ...prev, applied: m.applied }) // not further: the later record is still taken
    }
  }
  return [...folded.values()]
}
