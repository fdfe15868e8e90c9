// The connection registry contract: which identified connections are open on which instance, each
// instance's lease on them, and per user whether any is open anywhere (user status).
//
// The lease is fenced by a generation. `start` opens a new generation of an instance's lease;
// `renew` extends it only while it is live, so once a generation lapses (the instance was killed,
// frozen or cut off for longer than the lease) it is over for good: nothing is recorded under it any
// more and its connections are frozen. A reaper claims them (one claimant at a time, the claim
// expires if the reaper dies), reports each one `disconnected` (instance_lost) and removes it. The
// instance, once it learns its generation is over, closes those sockets (1012) and starts a new
// generation: a claim never touches a live generation, so a live instance is never reclaimed.
// A connection a reaper removed is remembered on its user (`ended`), so a late `add` of it cannot
// bring it back online. docs/connections.md, "The lease".
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

/** A connection recorded under a generation of its instance's lease. */
export interface RecordedConnection extends LiveConnection { gen: number }

/** A user's status changed with this write (first connection in anywhere, last one out). */
export type StatusChange = UserStatus

/** `gen`: the lease is this run's. `heldBy`: another run holds it and renewed it at `renewedAt`. */
export type LeaseStart = { gen: number } | { heldBy: string, renewedAt: number }

/** The connections of an instance's lapsed generations, claimed by one reaper until it finishes. */
export interface Claim { instanceId: string, token: string, connections: RecordedConnection[] }

/** `lease_lost`: the generation is over (not recorded). `ended`: a reaper already reported the connection. */
export type AddResult = { recorded: true, change: StatusChange | null } | { recorded: false, why: 'lease_lost' | 'ended' }

export interface ConnectionRegistry {
  readonly kind: 'embedded' | 'redis'
  /**
   * Opens a new generation of the instance's lease for `ttlMs`, for the process `run`. Refused
   * (`heldBy`) while another run holds a live lease, unless that run has not renewed it since
   * `takeover` (the `renewedAt` an earlier refusal answered): then it is dead, and this run takes over.
   */
  start (instanceId: string, run: string, ttlMs: number, takeover?: number): Promise<LeaseStart>
  /** Extends generation `gen` by `ttlMs`; false when it is over (lapsed, or another generation started). */
  renew (instanceId: string, gen: number, ttlMs: number): Promise<boolean>
  /** Ends generation `gen` at once (graceful stop): connections still recorded are reaped now. */
  release (instanceId: string, gen: number): Promise<void>
  /** Records an open connection under its generation, then on its user (a change when they came online). */
  add (conn: RecordedConnection): Promise<AddResult>
  /** Whether the connection is still recorded on the instance (not reported by a reaper). */
  has (instanceId: string, connectionId: string): Promise<boolean>
  /**
   * Forgets a connection, on its user first, then on its instance: `removed` false when it was not
   * recorded; a change when its user went offline. `reaped`: remember it on the user as ended.
   */
  remove (instanceId: string, connectionId: string, userId: string, reaped?: boolean): Promise<{ removed: boolean, change: StatusChange | null }>
  /**
   * Claims, for `claimTtlMs`, the connections of one instance's lapsed generations (of `instanceId`
   * only, when given). Null when there is nothing to reap.
   */
  claim (claimTtlMs: number, instanceId?: string): Promise<Claim | null>
  /** Keeps a claim while it is being reported; false when it lapsed and another reaper took it. */
  extendClaim (claim: Claim, claimTtlMs: number): Promise<boolean>
  /** Ends a claim once its connections are reported. */
  finishClaim (claim: Claim): Promise<void>
  /** Connections recorded on an instance, every generation. */
  connectionsOf (instanceId: string): Promise<RecordedConnection[]>
  /** Users' statuses, in the order asked. */
  statuses (userIds: string[]): Promise<UserStatus[]>
  /** A user's open connections across the cluster, oldest first. */
  list (userId: string): Promise<LiveConnection[]>
}

export interface RegistryOptions {
  /** milliseconds since the epoch; injectable so tests can lapse leases without waiting (on Redis, sent to every script instead of Redis's TIME) */
  now?: () => number
}

/** How long a reaped connection is remembered on its user: far beyond any add still in flight. */
export const ENDED_TTL_MS = 24 * 3600 * 1000

export const byConnectedAt = (a: LiveConnection, b: LiveConnection) => (a.connectedAt < b.connectedAt ? -1 : a.connectedAt > b.connectedAt ? 1 : 0)

/** The record without its generation (what the API shows). */
export const live = ({ gen: _gen, ...conn }: RecordedConnection): LiveConnection => conn
