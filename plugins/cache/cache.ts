// The cache contract: a hot copy of each channel's newest messages, always a contiguous newest range.
import type { Message } from '../../schemas/message.ts'
import type { MessageChange } from '../store/store.ts'

export interface PageQuery { before?: string, limit: number }

export interface MessageCache {
  readonly kind: 'embedded' | 'redis'
  /**
   * Adds a new message, with any changes `patch` kept for it, unless it is cached already or removed:
   * a redelivered create never undoes a later edit or reaction. Keeps the newest `recent` per
   * channel and refreshes the TTL.
   */
  upsert (message: Message): Promise<void>
  /**
   * The store handler's changes of one partition, in order, as `upsert` (creates, with their
   * position), `patch` (edits) and `remove` (deletes) would apply them; creates in one round trip
   * per batch (one script per channel, pipelined).
   */
  apply (changes: MessageChange[]): Promise<void>
  /**
   * Patches a cached message; a message that is not cached stays uncached, but the changes are kept
   * (like `remove`'s tombstone) and applied by a later `fill`, whose store read may predate them.
   */
  patch (channelId: string, id: string, changes: Partial<Message>): Promise<void>
  /** Drops a message and remembers it is gone, so a concurrent fill cannot bring it back. */
  remove (channelId: string, id: string): Promise<void>
  /**
   * Warms the cache from the store after a miss: adds messages not already cached (a newer cached
   * copy wins) and not removed. `complete` says the list holds the channel's whole history.
   */
  fill (channelId: string, messages: Message[], complete: boolean): Promise<void>
  /** Newest first; null when the cache cannot answer the whole page (a miss). */
  page (channelId: string, query: PageQuery): Promise<Message[] | null>
  ping (): Promise<void>
  close (): Promise<void>
}

export interface CacheOptions { recent: number, ttlSeconds: number, keyPrefix: string }
