// The recent-messages contract: what the log accepted lately, by message id, shared by every
// instance. The routes that act on one message (edit, delete, react) read it beside the store, so an
// author who acts on a message right after its 201 never meets a store that has not caught up yet.
import type { Message } from '../../schemas/message.ts'

/** A message as its post was accepted, without its text: the routes need who and where, not what. */
export type PostedMessage = Omit<Message, 'content' | 'editedAt' | 'reactions'>

export type RecentMessage = { state: 'posted', message: PostedMessage } | { state: 'deleted' }

export interface RecentMessageStore {
  readonly kind: 'embedded' | 'redis'
  /** Records a message the log accepted, for ttlSeconds; a deletion recorded already is kept. */
  posted (message: PostedMessage, ttlSeconds: number): Promise<void>
  /** Records that the message's deletion was accepted, for ttlSeconds; it replaces `posted`. */
  deleted (id: string, ttlSeconds: number): Promise<void>
  /** What was recorded for the id; undefined when nothing was (or it expired). */
  get (id: string): Promise<RecentMessage | undefined>
}
