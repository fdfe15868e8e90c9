// The presence contract: who has a live connection subscribed to a channel. A user with several
// connections (tabs, devices, instances) joins with the first and leaves with the last. Entries
// expire `ttlSeconds` after their last refresh, so a crashed instance's users do not linger.
import type { ActivityUser } from '../../schemas/user-activity.ts'

/** One connection's presence in one channel. */
export interface PresenceMember { channel: string, userId: string, connectionId: string }

export interface PresenceStore {
  readonly kind: 'embedded' | 'redis'
  /** Marks the connection present; true when its user was not present before (a join). */
  join (member: PresenceMember, name?: string): Promise<boolean>
  /** Removes the connection; true when it was its user's last one in the channel (a leave). */
  leave (member: PresenceMember): Promise<boolean>
  /** Extends the lifetime of connections that are still open (a connection that expired stays gone). */
  refresh (members: PresenceMember[]): Promise<void>
  /** Users present in the channel, ordered by user id. */
  list (channel: string): Promise<ActivityUser[]>
}

export interface PresenceOptions {
  ttlSeconds: number
  /** milliseconds since the epoch; injectable so tests can expire entries without waiting */
  now?: () => number
}
