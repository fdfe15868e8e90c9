// The connection registry contract: which identified connections are open on which instance, each
// instance's lease on them, and per user whether any is open anywhere (user status). An instance
// that stops renewing its lease (killed, frozen, cut off) loses its connections to whichever
// instance claims the lapsed lease first: that one reports them disconnected (instance_lost), once.
import type { UserStatus } from '../../schemas/connections.ts'
import type { TransportName } from '../../fanout/types.ts'

/** One open connection as the registry records it. */
export interface LiveConnection {
  connectionId: string
  userId: string
  instanceId: string
  transport: TransportName
  connectedAt: string
}

/** A user's status changed with this write (first connection anywhere in, last one out). */
export type StatusChange = UserStatus

export interface ConnectionRegistry {
  readonly kind: 'embedded' | 'redis'
  /**
   * Takes (`first`) or renews the instance's lease for `ttlMs`. False when the lease is no longer
   * this instance's: it lapsed and was claimed, so its connections were reported lost.
   */
  renew (instanceId: string, ttlMs: number, first?: boolean): Promise<boolean>
  /** Gives up the lease (graceful stop); connections still recorded stay for a reaper to report. */
  release (instanceId: string): Promise<void>
  /** Records an open connection; a change when its user just came online. */
  add (conn: LiveConnection): Promise<StatusChange | null>
  /** Whether the connection is still recorded on the instance (not claimed by a reaper). */
  has (instanceId: string, connectionId: string): Promise<boolean>
  /** Forgets a connection: `removed` false when it was not recorded; a change when its user went offline. */
  remove (instanceId: string, connectionId: string, userId: string): Promise<{ removed: boolean, change: StatusChange | null }>
  /**
   * Claims one instance whose lease lapsed (or whose reaper lapsed in turn) for `claimTtlMs`, so only
   * the caller reports it; its recorded connections. Null when there is none.
   */
  claimLapsed (claimTtlMs: number): Promise<{ instanceId: string, connections: LiveConnection[] } | null>
  /** Ends a claim once every connection of the instance has been removed. */
  finishClaim (instanceId: string): Promise<void>
  /** Connections recorded on an instance (its own leftovers after a restart with the same id). */
  connectionsOf (instanceId: string): Promise<LiveConnection[]>
  /** Users' statuses, in the order asked. */
  statuses (userIds: string[]): Promise<UserStatus[]>
  /** A user's open connections across the cluster, oldest first. */
  list (userId: string): Promise<LiveConnection[]>
}

export interface RegistryOptions {
  /** milliseconds since the epoch; injectable so tests can lapse leases without waiting (embedded only: Redis uses its own clock) */
  now?: () => number
}
