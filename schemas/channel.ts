// Channels created explicitly (POST /api/channels). A channel id never created is public.
import { Type, type Static } from '@sinclair/typebox'
import { ChannelId, UserId } from './message.ts'

export { UserId }

export const Channel = Type.Object({
  id: Type.String(),
  name: Type.String(),
  private: Type.Boolean(),
  ownerId: Type.String({ description: 'the creator: may remove any member' }),
  members: Type.Array(Type.String(), { description: 'who may read, post and subscribe when private' }),
  createdAt: Type.String({ format: 'date-time' })
}, { $id: 'Channel' })
export type Channel = Static<typeof Channel>

export const CreateChannelBody = Type.Object({
  id: ChannelId,
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  private: Type.Optional(Type.Boolean({ default: false })),
  members: Type.Optional(Type.Array(UserId, { maxItems: 1000, description: 'besides the creator, who is always a member' }))
}, { additionalProperties: false })
export type CreateChannelBody = Static<typeof CreateChannelBody>

export const ChannelIdParams = Type.Object({ id: ChannelId })
export const MemberParams = Type.Object({ id: ChannelId, userId: UserId })
