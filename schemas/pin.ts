// Pins: messages a channel keeps at hand, at most PINS_MAX per channel, newest pin first.
import { Type, type Static } from '@sinclair/typebox'
import { ChannelId, Message } from './message.ts'
import { MessageId } from './message-change.ts'

export const PinParams = Type.Object({ channelId: ChannelId, messageId: MessageId })

/**
 * The data of `pin.added` / `pin.removed`. `version` orders the changes of one pin as the requests
 * were answered (the reservation's clock, not the log's order): the store keeps the highest, and so
 * should a client that applies live events.
 */
export const PinChange = Type.Object({
  messageId: Type.String({ minLength: 1 }),
  version: Type.Integer({ minimum: 1, description: 'orders the changes of one pin: keep the highest per message' }),
  userId: Type.Optional(Type.String({ minLength: 1, description: 'who pinned or unpinned it; absent when the message was deleted' })),
  deleted: Type.Optional(Type.Literal(true, { description: 'unpinned because the message was deleted' }))
})
export type PinChange = Static<typeof PinChange>

/** One entry of a channel's pins. */
export const Pin = Type.Object({
  message: Message,
  pinnedBy: Type.String(),
  pinnedAt: Type.String({ format: 'date-time' })
})
export type Pin = Static<typeof Pin>

export const PinList = Type.Object({
  pins: Type.Array(Pin, { description: 'newest pin first; a pinned message the store does not hold yet is left out until it does' })
})
