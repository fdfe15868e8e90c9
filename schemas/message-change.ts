// Shapes of edits and deletions: the HTTP bodies and params, and the data of their events.
import { Type, type Static } from '@sinclair/typebox'
import { MessageContent } from './message.ts'

/** Message ids are ObjectId hex; anything else cannot name a message. */
export const MessageId = Type.String({ pattern: '^[0-9a-f]{24}$', description: 'a message id (24 hex digits)' })

export const MessageParams = Type.Object({ id: MessageId })

/** The body of an edit; `maxLength` is MESSAGE_MAX_LENGTH. */
export const EditMessageBody = (maxLength: number) => Type.Object({
  content: MessageContent(maxLength, `the new text; at most ${maxLength} characters (MESSAGE_MAX_LENGTH), not blank`)
}, { additionalProperties: false })
export type EditMessageBody = Static<ReturnType<typeof EditMessageBody>>

/** Which message an event is about. */
export const MessageRef = Type.Object({ id: Type.String({ minLength: 1 }), channelId: Type.String({ minLength: 1 }) })
export type MessageRef = Static<typeof MessageRef>

/** The data of `message.updated`: the new text and when it changed. */
export const MessageEdit = Type.Composite([MessageRef, Type.Object({
  content: Type.String(),
  editedAt: Type.String({ format: 'date-time' })
})])
export type MessageEdit = Static<typeof MessageEdit>
