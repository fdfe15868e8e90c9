// Shapes of the HTTP API; the OpenAPI document is generated from these.
import { Type, type Static } from '@sinclair/typebox'
import { ChannelId, HistoryMessage, Message, MessageContent, UserId } from './message.ts'

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String({ description: 'what was wrong, in words a user can act on' })
}, { $id: 'ErrorResponse' })

const Name = Type.String({ minLength: 1, maxLength: 64 })

/** The body of a post; `maxLength` is MESSAGE_MAX_LENGTH. */
export const PostMessageBody = (maxLength: number) => Type.Object({
  channelId: ChannelId,
  content: MessageContent(maxLength, `at most ${maxLength} characters (MESSAGE_MAX_LENGTH), not blank`),
  senderId: Type.Optional(Type.Unsafe<string>({ ...UserId, description: 'with auth off only; the token decides otherwise' })),
  senderName: Type.Optional(Name),
  nonce: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'the same nonce from the same sender returns the first message' })),
  parentId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{24}$', description: 'reply in the thread of this message (of the same channel, not itself a reply)' })),
  alsoInChannel: Type.Optional(Type.Boolean({ description: 'a reply also shown in the channel\'s history (a message that is not a reply is there anyway)' }))
}, { additionalProperties: false })
export type PostMessageBody = Static<ReturnType<typeof PostMessageBody>>

export const ChannelParams = Type.Object({ channelId: ChannelId })

export const HistoryQuery = Type.Object({
  before: Type.Optional(Type.String({ pattern: '^[0-9a-f]{24}$', description: 'a message id: returns older messages' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 }))
}, { additionalProperties: false })

export const HistoryPage = Type.Object({
  messages: Type.Array(HistoryMessage, { description: 'newest first; a deleted message with replies is a placeholder `{id, channelId, deleted: true, thread}`' }),
  nextBefore: Type.Union([Type.String(), Type.Null()], { description: 'pass as `before` for the next older page; null at the start of the channel' })
})

export const RepliesQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: '^[0-9a-f]{24}$', description: 'a reply id: returns newer replies' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 }))
}, { additionalProperties: false })

export const RepliesPage = Type.Object({
  replies: Type.Array(Message, { description: 'oldest first' }),
  nextAfter: Type.Union([Type.String(), Type.Null()], { description: 'pass as `after` for the next page; null when this page is the last so far' })
})
