// What a user is told on their own channel `user:<id>`.
import { Type, type Static } from '@sinclair/typebox'

/** Someone wrote `@<userId>` in a message. `id` is the same on redelivery: clients drop duplicates by it. */
export const MentionNotification = Type.Object({
  id: Type.String({ description: '<messageId>:<userId>; the same for a redelivered notification' }),
  kind: Type.Literal('mention'),
  messageId: Type.String(),
  channelId: Type.String(),
  from: Type.String({ description: 'the sender\'s user id' }),
  fromName: Type.String(),
  excerpt: Type.String({ description: 'the start of the message, at most 140 characters' }),
  createdAt: Type.String({ format: 'date-time' })
})
export type MentionNotification = Static<typeof MentionNotification>

/** Someone replied in a thread the user is in (its parent's author, or one of its participants). */
export const ReplyNotification = Type.Object({
  id: Type.String({ description: '<replyId>:<userId>; the same for a redelivered notification' }),
  kind: Type.Literal('reply'),
  messageId: Type.String({ description: 'the reply' }),
  parentId: Type.String({ description: 'the message whose thread it is in' }),
  channelId: Type.String(),
  from: Type.String({ description: 'the replier\'s user id' }),
  fromName: Type.String(),
  excerpt: Type.String({ description: 'the start of the reply, at most 140 characters' }),
  createdAt: Type.String({ format: 'date-time' })
})
export type ReplyNotification = Static<typeof ReplyNotification>
