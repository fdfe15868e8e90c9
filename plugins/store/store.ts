// The store contract: every message, durably; written only by topic handlers, idempotently.
import type { Message } from '../../schemas/message.ts'

/** emoji → ids of the users who reacted with it. */
export type Reactions = NonNullable<Message['reactions']>
import type { PageQuery } from '../cache/cache.ts'

export interface MessageStore {
  readonly kind: 'embedded' | 'mongo'
  /**
   * Inserts a new message by id. A message already there is left as it is: it changes only through
   * `patch` and `react`, so a redelivered create never undoes a later edit or reaction.
   */
  upsert (message: Message): Promise<void>
  /** Sets fields of a stored message; false when there is no such message. */
  patch (id: string, changes: Partial<Message>): Promise<boolean>
  remove (id: string): Promise<void>
  /**
   * Adds (`on`) or removes the user's reaction to a message, as a set: repeating it changes nothing.
   * An emoji nobody reacts with any more disappears. Resolves with the message's reactions after
   * the change, or null when there is no such message.
   */
  react (id: string, emoji: string, userId: string, on: boolean): Promise<Reactions | null>
  get (id: string): Promise<Message | null>
  /** Newest first, ids below `before` when given. */
  page (channelId: string, query: PageQuery): Promise<Message[]>
  ping (): Promise<void>
  close (): Promise<void>
}

export interface StoreOptions { database: string }
