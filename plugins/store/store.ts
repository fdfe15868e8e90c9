// The store contract: every message, durably; written only by topic handlers, idempotently.
import { compareOffsets, THREAD_PARTICIPANTS_MAX, type DeletedParent, type HistoryMessage, type Message, type Position, type Thread } from '../../schemas/message.ts'
import type { MessageEvent } from '../../schemas/events.ts'

/** emoji → ids of the users who reacted with it. */
export type Reactions = NonNullable<Message['reactions']>
import type { PageQuery } from '../cache/cache.ts'

/**
 * One change of the `messages` stream, as the store handler applies it: `position` is the event's
 * own place in the stream (a create's is also the message's `position`).
 */
export type MessageChange =
  | { type: 'create', message: Message, position: Position }
  | { type: 'update', id: string, channelId: string, changes: Pick<Message, 'content' | 'editedAt'>, position: Position }
  | { type: 'delete', id: string, channelId: string, position: Position }

/** A parent's thread as a batch of replies left it (the store handler announces it and patches the cache). */
export interface ThreadState { id: string, channelId: string, thread: Thread }

/** Replies of a thread, oldest first: ids above `after` when given. */
export interface RepliesQuery { after?: string, limit: number }

export interface MessageStore {
  readonly kind: 'embedded' | 'mongo'
  /**
   * Applies a partition's changes in stream order, in as few round trips as it can (MongoDB: one
   * unordered insert of the creates, one bulk write of the rest). State never goes backwards:
   * - a message is inserted once; a redelivered create finds it (or its tombstone) and changes nothing;
   * - each stored message remembers the position of the last event applied to it, and an event at or
   *   below it (a replay) changes nothing, so edits cannot revert;
   * - a delete leaves a tombstone (no text), so a late or replayed create never brings it back;
   *   a deleted parent with replies keeps its thread (history shows it as a `DeletedParent`);
   * - a reply's create also counts it into its parent's `thread`, and its delete counts it out, in
   *   the same batch, guarded by the position of the last reply event counted (the parent's own),
   *   so a redelivered reply counts once; a deleted parent whose replies are all deleted leaves
   *   history.
   * Resolves with the threads the batch's replies touched, as they stand after it.
   */
  apply (changes: MessageChange[]): Promise<ThreadState[]>
  /**
   * Adds (`on`) or removes the user's reaction to a message, as a set: repeating it changes nothing.
   * An emoji nobody reacts with any more disappears. Resolves with the message's reactions after
   * the change, or null when there is no such message. With the event's `position`, reactions
   * never go backwards either: the message remembers the position of the last reaction applied to
   * it, and one at or below it (a replay, or a write still in flight from a consumer that lost its
   * partition in a rebalance) changes nothing.
   */
  react (id: string, emoji: string, userId: string, on: boolean, position?: Position): Promise<Reactions | null>
  /** The message; null when there is none or it was deleted. */
  get (id: string): Promise<Message | null>
  /**
   * Newest first, ids below `before` when given; deleted messages are left out, except a deleted
   * parent with replies (its placeholder), and so are replies not posted `alsoInChannel`.
   */
  page (channelId: string, query: PageQuery): Promise<HistoryMessage[]>
  /** A thread's replies, oldest first; deleted ones are left out. */
  replies (parentId: string, query: RepliesQuery): Promise<Message[]>
  /** The placeholder of a deleted parent with replies; null for any other id. */
  deletedParent (id: string): Promise<DeletedParent | null>
  ping (): Promise<void>
  close (): Promise<void>
}

/** Whether `position` is at or below `last` in the same stream (a replay: nothing to apply). */
export function replayed (position: Position, last: Position | undefined): boolean {
  return last !== undefined && last.epoch === position.epoch && compareOffsets(position.offset, last.offset) <= 0
}

/** The change a `messages` event makes to its message (the store and cache handlers share it). */
export function messageChange (event: MessageEvent, position: Position): MessageChange {
  switch (event.type) {
    case 'message.created': return { type: 'create', message: { ...event.data, position }, position }
    case 'message.updated': return { type: 'update', id: event.data.id, channelId: event.channelId, changes: { content: event.data.content, editedAt: event.data.editedAt }, position }
    case 'message.deleted': return { type: 'delete', id: event.data.id, channelId: event.channelId, position }
  }
}

/** The thread after one more reply: counted, its time, its author among the first participants. */
export function threadWithReply (thread: Thread | undefined, reply: Message): Thread {
  const participants = thread?.participants ?? []
  const joins = !participants.includes(reply.senderId) && participants.length < THREAD_PARTICIPANTS_MAX
  return { replyCount: (thread?.replyCount ?? 0) + 1, lastReplyAt: reply.createdAt, participants: joins ? [...participants, reply.senderId] : participants }
}

/** The thread after one of its replies was deleted: counted out (the time and participants stay). */
export function threadWithoutReply (thread: Thread | undefined): Thread | undefined {
  return thread && { ...thread, replyCount: Math.max(0, thread.replyCount - 1) }
}

/**
 * The reactions after `userId` adds (`on`) or takes back `emoji`, as plain data (an emptied emoji
 * disappears, others keep their order); null when that changes nothing. Any string is only a key.
 */
export function reacted (reactions: Reactions | undefined, emoji: string, userId: string, on: boolean): Reactions | null {
  const entries = Object.entries(reactions ?? {})
  const users = entries.find(([e]) => e === emoji)?.[1] ?? []
  if (users.includes(userId) === on) return null
  const kept = on ? [...users, userId] : users.filter((u) => u !== userId)
  const others = entries.filter(([e]) => e !== emoji)
  if (kept.length === 0) return Object.fromEntries(others)
  return Object.fromEntries(users.length === 0 ? [...entries, [emoji, kept]] : entries.map(([e, u]) => [e, e === emoji ? kept : u]))
}
