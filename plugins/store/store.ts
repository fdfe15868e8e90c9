// The store contract: every message, durably; written only by topic handlers, idempotently.
import type { Message } from '../../schemas/message.ts'
import type { PageQuery } from '../cache/cache.ts'

export interface MessageStore {
  readonly kind: 'embedded' | 'mongo'
  /** Inserts or replaces a message by id (a redelivered event changes nothing). */
  upsert (message: Message): Promise<void>
  /** Sets fields of a stored message; false when there is no such message. */
  patch (id: string, changes: Partial<Message>): Promise<boolean>
  remove (id: string): Promise<void>
  get (id: string): Promise<Message | null>
  /** Newest first, ids below `before` when given. */
  page (channelId: string, query: PageQuery): Promise<Message[]>
  ping (): Promise<void>
  close (): Promise<void>
}

export interface StoreOptions { database: string }
