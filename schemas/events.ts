import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Message, Thread, type Position } from './message.ts'
import { MessageEdit, MessageRef } from './message-change.ts'
import { ReactionChange } from './reaction.ts'
import { PinChange } from './pin.ts'
import { MentionNotification, ReplyNotification } from './notification.ts'
import { ActivityUser } from './user-activity.ts'

/** Every event on the log is a versioned envelope: {v, type, channelId, at, data}. */
export function Envelope<T extends string, D extends TSchema> (type: T, data: D) {
  return Type.Object({
    v: Type.Literal(1),
    type: Type.Literal(type),
    channelId: Type.String({ minLength: 1 }),
    at: Type.String({ description: 'when the event was produced (ISO time)' }),
    data
  })
}

export const MessageCreated = Envelope('message.created', Message)
/** An edit carries only what changed: reactions live on another topic and must not be overwritten. */
export const MessageUpdated = Envelope('message.updated', MessageEdit)
export const MessageDeleted = Envelope('message.deleted', MessageRef)
export const MessageEvent = Type.Union([MessageCreated, MessageUpdated, MessageDeleted])
export type MessageEvent = Static<typeof MessageEvent>

export const ReactionAdded = Envelope('reaction.added', ReactionChange)
export const ReactionRemoved = Envelope('reaction.removed', ReactionChange)
export const ReactionEvent = Type.Union([ReactionAdded, ReactionRemoved])
export type ReactionEvent = Static<typeof ReactionEvent>

/** Pins on `pins` (key channelId): stored by consumers/pins-store.ts, relayed to the channel. */
export const PinAdded = Envelope('pin.added', PinChange)
export const PinRemoved = Envelope('pin.removed', PinChange)
export const PinEvent = Type.Union([PinAdded, PinRemoved])
export type PinEvent = Static<typeof PinEvent>

/** Notifications are keyed by the user they are for, not by a channel. */
export const NotificationEvent = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('notification'),
  userId: Type.String({ minLength: 1 }),
  at: Type.String({ description: 'when the event was produced (ISO time)' }),
  data: Type.Union([MentionNotification, ReplyNotification])
})
export type NotificationEvent = Static<typeof NotificationEvent>

/**
 * A parent's thread after replies were counted into it, on `threads` (key channelId), produced by the
 * store handler that counts them. A state, not a change: a repeat is harmless. No position, never
 * replayed: a client reloads threads (history, replies) on reconnect.
 */
export const ThreadUpdated = Envelope('thread.updated', Type.Object({ messageId: Type.String(), thread: Thread }))
export type ThreadUpdated = Static<typeof ThreadUpdated>

/** Ephemeral channel activity on `user-activity` (key channelId): delivered, never stored, no position. */
export const Typing = Envelope('typing', ActivityUser)
export const PresenceJoin = Envelope('presence.join', ActivityUser)
export const PresenceLeave = Envelope('presence.leave', ActivityUser)
export const UserActivityEvent = Type.Union([Typing, PresenceJoin, PresenceLeave])
export type UserActivityEvent = Static<typeof UserActivityEvent>

/**
 * Who may use a channel changed (created private, a member removed), on `channels` (key channelId):
 * every instance re-reads the channel and drops its subscribers who may no longer read it.
 */
export const ChannelAccessChanged = Envelope('channel.access', Type.Object({}))
export type ChannelAccessChanged = Static<typeof ChannelAccessChanged>

/**
 * The same change on `messages` (key channelId), in order with the channel's messages: who may read
 * the channel from this point of its stream on. Every instance's fanout drops the subscribers it
 * excludes before it delivers anything later in the partition, so no message accepted after the
 * change's 204 reaches a removed member (docs/security.md). Never stored, cached or sent to clients.
 */
export const ChannelAccessMark = Envelope('channel.access', Type.Object({
  private: Type.Boolean(),
  members: Type.Array(Type.String(), { description: 'the members as stored right after the change' })
}))
export type ChannelAccessMark = Static<typeof ChannelAccessMark>

/** What the `messages` topic carries: the channel's message events, and marks of its access changes. */
export const MessageStreamEvent = Type.Union([MessageCreated, MessageUpdated, MessageDeleted, ChannelAccessMark])
export type MessageStreamEvent = Static<typeof MessageStreamEvent>

/** The message events of a `messages` batch (the stores, the cache and the recovery log skip access marks). */
export const isMessageEvent = (event: MessageStreamEvent): event is MessageEvent => event.type !== 'channel.access'

/**
 * What clients see of a message event (`data` of its `event` frame): a new message carries its
 * position, as history shows it; edits and deletions name their message, and only the frame carries
 * the event's own position. `messageFrame` (fanout/protocol.ts) builds the frame around it, live and for replay.
 */
export function messageEventData (event: MessageEvent, position: Position): unknown {
  return event.type === 'message.created' ? { ...event.data, position } : event.data
}
