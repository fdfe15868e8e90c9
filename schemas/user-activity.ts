// Ephemeral user activity in a channel: who is typing, who joined or left. Never stored, no position.
import { Type, type Static } from '@sinclair/typebox'

/** The data of `typing`, `presence.join` and `presence.leave`: the user it is about. */
export const ActivityUser = Type.Object({
  userId: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.Optional(Type.String({ maxLength: 64 }))
}, { $id: 'ActivityUser' })
export type ActivityUser = Static<typeof ActivityUser>

/** GET /api/channels/:channelId/presence */
export const PresenceResponse = Type.Object({
  users: Type.Array(ActivityUser, { description: 'users with a live connection subscribed to the channel' })
})
export type PresenceResponse = Static<typeof PresenceResponse>
