import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Message } from './message.ts'

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
export const MessageEvent = Type.Union([MessageCreated])
export type MessageEvent = Static<typeof MessageEvent>
