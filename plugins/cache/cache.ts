// The cache contract: a hot copy of each channel's newest messages, always a contiguous newest range.
// Each entry knows the range it covers: from a floor id up (every message of the channel at or
// above it is cached, or was removed), or the whole history (`complete`). A page is a hit only
// within it, so a hit never skips a message.
import type { HistoryMessage, Message } from '../../schemas/message.ts'
import type { MessageChange } from '../store/store.ts'

export interface PageQuery { before?: string, limit: number }

export interface MessageCache {
  readonly kind: 'embedded' | 'redis'
  /** What the per-channel bounds dropped (this instance's writes), read by /metrics. */
  readonly stats: CacheStats
  /**
   * Adds a new message, with any changes `patch` kept for it, unless it is cached already or removed
   * (a redelivered create never undoes a later edit or reaction) or below the entry's floor (a
   * message between it and the floor may be missing). A channel with no entry starts one at this
   * message. Keeps the newest `recent` per channel (the floor follows) and refreshes the TTL.
   * A reply not posted `alsoInChannel` is never cached: it is not in the channel's history.
   */
  upsert (message: Message): Promise<void>
  /**
   * The cache handler's changes of one partition, in order, as `upsert` (creates, with their
   * position), `patch` (edits) and `remove` (deletes) would apply them, except that edits are
   * versioned by their position: an edit at or below the last one applied to its message (a
   * redelivery) changes nothing, cached or parked, and a delete of a cached parent with replies
   * leaves its placeholder (`DeletedParent`, which takes `thread` patches only, and is removed when
   * one says its last reply is gone) where the store leaves one. One script per channel, pipelined: a batch of
   * creates and deletes is one round trip, a batch with edits two (their JSON is merged here).
   */
  apply (changes: MessageChange[]): Promise<void>
  /**
   * Patches a cached message; a message that is not cached stays uncached, but the changes are kept
   * (parked, like `remove`'s tombstone) and applied by the `fill` or create that brings the message
   * (its store read may predate them), which clears them: a parked patch is applied once, never
   * again over fresher data.
   */
  patch (channelId: string, id: string, changes: Partial<Message>): Promise<void>
  /** Drops a message and remembers it is gone, so a concurrent fill cannot bring it back. */
  remove (channelId: string, id: string): Promise<void>
  /**
   * Warms the cache from the store after a miss: adds messages not already cached (a newer cached
   * copy wins) and not removed. `messages` is the store's newest page: every stored message at or
   * above the lowest id it adds is in it, while what was cached below may lack messages the cache
   * handler has not reached yet, so the entry's floor becomes that id (cached messages below it are
   * dropped). `complete` says the list holds the channel's whole history (no floor).
   */
  fill (channelId: string, messages: HistoryMessage[], complete: boolean): Promise<void>
  /** Newest first; null when the cache cannot answer the whole page (a miss). */
  page (channelId: string, query: PageQuery): Promise<HistoryMessage[] | null>
  ping (): Promise<void>
  close (): Promise<void>
}

export interface CacheOptions {
  recent: number
  ttlSeconds: number
  /** tombstones kept per channel (lowest ids dropped first); default 1000 */
  tombstones?: number
  /** parked patches kept per channel (lowest ids dropped first); default 100 */
  parked?: number
}

/**
 * Tombstones and parked patches never expire on an active channel (every write refreshes its TTL),
 * so each channel keeps at most `tombstones` and `parked` of them; these count what was dropped.
 */
export interface CacheStats { tombstonesTrimmed: number, parkedTrimmed: number }

export const CACHE_DEFAULTS = { tombstones: 1000, parked: 100 } as const

/** A cached entry after a patch: a deleted parent's placeholder takes its thread and nothing else. */
export function revised (message: HistoryMessage, changes: Partial<Message>): HistoryMessage {
  if (!('deleted' in message)) return { ...message, ...changes }
  return changes.thread ? { ...message, thread: changes.thread } : message
}

/** A deleted parent's placeholder whose replies are all deleted: it leaves history, as in the store. */
export function emptied (message: HistoryMessage): boolean {
  return message.deleted === true && message.thread.replyCount === 0
}
