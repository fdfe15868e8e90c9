// Read state: a user's read marker per channel (on `read-markers`, key userId), the receipts other
// members see in small channels (on `receipts`, key channelId), and the HTTP shapes of both.
import { Type, type Static } from '@sinclair/typebox'
import { ChannelId, Position } from './message.ts'
import { MessageId } from './message-change.ts'

/** The body of `PUT /api/channels/:channelId/read`. */
export const ReadBody = Type.Object({
  messageId: MessageId,
  unread: Type.Optional(Type.Boolean({ description: 'true: mark as unread, the marker moves to just before this message (the one way back)' }))
}, { additionalProperties: false })
export type ReadBody = Static<typeof ReadBody>

/** A marker as the user sets it: the message read up to, and its place in the channel's stream. */
export const ReadMarker = Type.Object({
  channelId: Type.String(),
  messageId: Type.String({ description: 'the message named by the request' }),
  position: Position,
  unread: Type.Boolean({ description: 'true: back to just before the message (mark as unread); false: read up to and including it' })
})
export type ReadMarker = Static<typeof ReadMarker>

/** A marker set by a user, on `read-markers` (key userId): the durable request, folded into the store. */
export const ReadMarkerEvent = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('read.marked'),
  userId: Type.String({ minLength: 1 }),
  at: Type.String({ description: 'when the marker was set (ISO time); receipts show it as readAt' }),
  data: ReadMarker
})
export type ReadMarkerEvent = Static<typeof ReadMarkerEvent>

/** Where a user's marker is now, after it moved in the store: on `read-updates`, delivered on `user:<id>`. */
export const ReadUpdated = Type.Object({
  channelId: Type.String(),
  messageId: Type.Union([Type.String(), Type.Null()], { description: 'the message the marker is at; null after a mark as unread' }),
  position: Type.Union([Position, Type.Null()], { description: 'messages after it are unread; null: before the channel\'s first message' }),
  readAt: Type.String({ format: 'date-time' })
})
export const ReadUpdatedEvent = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('read.updated'),
  userId: Type.String({ minLength: 1 }),
  at: Type.String({ description: 'when the event was produced (ISO time)' }),
  data: ReadUpdated
})
export type ReadUpdatedEvent = Static<typeof ReadUpdatedEvent>

/** A member's marker moved in a small channel (throttled: at most one per user and channel per second). */
export const ReceiptEvent = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('receipt.read'),
  channelId: Type.String({ minLength: 1 }),
  at: Type.String({ description: 'when the event was produced (ISO time)' }),
  data: Type.Object({ userId: Type.String(), messageId: Type.String() })
})
export type ReceiptEvent = Static<typeof ReceiptEvent>

export const ChannelUnread = Type.Object({
  channelId: Type.String(),
  unread: Type.Integer({ minimum: 0, description: 'messages after the marker, not deleted, not thread replies (posting moves the marker to your own post); at most UNREAD_MAX' }),
  capped: Type.Boolean({ description: 'true: there are more than UNREAD_MAX (show "999+")' }),
  mentions: Type.Integer({ minimum: 0, description: 'messages after the marker that mention the user; at most UNREAD_MAX' }),
  lastReadMessageId: Type.Union([Type.String(), Type.Null()], { description: 'the message the marker is at; null when it is not at a message (before the first, a mark as unread, a default)' }),
  position: Type.Union([Position, Type.Null()], { description: 'the marker\'s place in the channel\'s stream (messages after it count); null: before the first message' })
})
export type ChannelUnread = Static<typeof ChannelUnread>
export const UnreadResponse = Type.Object({ channels: Type.Array(ChannelUnread) })
export type UnreadResponse = Static<typeof UnreadResponse>

export const Receipt = Type.Object({ userId: Type.String(), readAt: Type.String({ format: 'date-time' }) })
export const ReceiptsResponse = Type.Object({
  readBy: Type.Union([Type.Array(Receipt), Type.Null()], { description: 'users whose marker is at or after the message; null above RECEIPTS_MAX_READERS' }),
  reason: Type.Optional(Type.String({ description: 'why readBy is null' }))
})
export type ReceiptsResponse = Static<typeof ReceiptsResponse>

/** A user's own settings for read state (`PUT /api/users/me/settings`). */
export const UserSettings = Type.Object({
  receipts: Type.Boolean({ description: 'false: your markers still count for you, but you appear in no readBy and send no receipt.read' })
}, { additionalProperties: false })
export type UserSettings = Static<typeof UserSettings>

export const ReadParams = Type.Object({ channelId: ChannelId })
