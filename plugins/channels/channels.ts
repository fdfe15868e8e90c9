// The channel store contract: channels created explicitly, with their members.
import type { Channel } from '../../schemas/channel.ts'

export type { Channel } from '../../schemas/channel.ts'

export interface ChannelStore {
  readonly kind: 'embedded' | 'mongo'
  /** Stores a new channel; false when one with that id exists (never overwrites). */
  create (channel: Channel): Promise<boolean>
  get (id: string): Promise<Channel | null>
  /** Adds a member (idempotent); false when there is no such channel. */
  addMember (id: string, userId: string): Promise<boolean>
  /** Removes a member (idempotent); false when there is no such channel. */
  removeMember (id: string, userId: string): Promise<boolean>
  ping (): Promise<void>
  close (): Promise<void>
}

export type Access = 'read' | 'write'
