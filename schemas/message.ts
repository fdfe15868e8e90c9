import { Type, type Static } from '@sinclair/typebox'
import { codePoints, Text } from './formats.ts'

/** A channel id as used in URLs, topics' keys and the WebSocket protocol. */
export const ChannelId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$', description: 'letters, digits and _ . : -' })

/**
 * A user id, as token subjects and the auth-off identity carry it. Channel-safe and at most 120
 * characters, because it also names the user's personal channel `user:<id>`.
 */
export const USER_ID = /^[A-Za-z0-9_.:-]{1,120}$/
export const UserId = Type.String({ minLength: 1, maxLength: 120, pattern: '^[A-Za-z0-9_.:-]+$', description: 'letters, digits and _ . : -' })

/** What `trim()` removes (ECMA-262 WhiteSpace and LineTerminator): a text of only these is blank. */
export const BLANK = '\\u0009-\\u000D\\u0020\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF'

/** A message's text, as posted or edited: 1 to `maxLength` characters (code points), not blank. */
export function MessageContent (maxLength: number, description: string) {
  return Text({
    minLength: 1,
    maxLength,
    pattern: `[^${BLANK}]`,
    description,
    explained: (value) => typeof value !== 'string'
      ? 'must be a string'
      : value.trim() === '' ? 'must not be blank' : `must be at most ${maxLength} characters (got ${codePoints(value)})`
  })
}

/** Where an event sits in its channel's message stream; clients resume from it. */
const positionFields = {
  epoch: Type.String({ description: 'changes whenever the stream history could have been lost' }),
  offset: Type.String({ pattern: '^[0-9]+$', description: 'grows with every event of the stream' })
}
export const Position = Type.Object(positionFields, { $id: 'Position', additionalProperties: false })
export type Position = Static<typeof Position>

/** At most this many users are listed in a thread's `participants` (the first to reply). */
export const THREAD_PARTICIPANTS_MAX = 10

/** A parent message's thread (one level: a reply has no thread of its own). */
export const Thread = Type.Object({
  replyCount: Type.Integer({ minimum: 0, description: 'replies posted in the thread' }),
  lastReplyAt: Type.String({ format: 'date-time' }),
  participants: Type.Array(Type.String(), { maxItems: THREAD_PARTICIPANTS_MAX, description: `ids of the first ${THREAD_PARTICIPANTS_MAX} users who replied, in order` })
})
export type Thread = Static<typeof Thread>

export const Message = Type.Object({
  id: Type.String({ description: 'time-sortable id (ObjectId hex); history pages by it' }),
  channelId: Type.String(),
  senderId: Type.String(),
  senderName: Type.String(),
  content: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  editedAt: Type.Optional(Type.String({ format: 'date-time' })),
  position: Type.Optional(Position),
  reactions: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()), { description: 'emoji → user ids who reacted' })),
  parentId: Type.Optional(Type.String({ description: 'a reply: the id of the message whose thread it is in' })),
  alsoInChannel: Type.Optional(Type.Literal(true, { description: 'a reply also shown in the channel\'s history' })),
  thread: Type.Optional(Thread)
}, { $id: 'Message' })
export type Message = Static<typeof Message>

/**
 * What history shows of a deleted message that has replies, so its thread stays readable: no text,
 * no author (the one exception to "a deleted message is gone", docs/chat-state.md).
 */
// Position again, without its $id: a history page's schema holds both shapes, and one $id may appear once.
const PositionInline = Type.Object(positionFields, { additionalProperties: false })
export const DeletedParent = Type.Object({
  id: Type.String(),
  channelId: Type.String(),
  deleted: Type.Literal(true),
  thread: Thread,
  position: Type.Optional(PositionInline)
})
export type DeletedParent = Static<typeof DeletedParent>

/** An entry of a history page: a message, or the placeholder of a deleted parent. */
export const HistoryMessage = Type.Union([Message, DeletedParent])
/** As the schema says; a placeholder's missing fields read as `undefined`, so `m.content` needs no narrowing. */
export type HistoryMessage = (Message & { deleted?: undefined }) | (DeletedParent & { [K in Exclude<keyof Message, keyof DeletedParent>]?: undefined })

/** Whether a message belongs in its channel's history: not a reply, or a reply posted `alsoInChannel`. */
export function inChannel (message: Pick<Message, 'parentId' | 'alsoInChannel'>): boolean {
  return message.parentId === undefined || message.alsoInChannel === true
}

/** The placeholder a deleted message leaves in history: one with replies only (null otherwise). */
export function deletedParent (message: HistoryMessage): DeletedParent | null {
  if (!message.thread || message.thread.replyCount === 0) return null
  const { id, channelId, thread, position } = message
  return { id, channelId, deleted: true, thread, ...(position ? { position } : {}) }
}

/** Compares two Kafka-style decimal offsets without losing precision. */
export function compareOffsets (a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}
