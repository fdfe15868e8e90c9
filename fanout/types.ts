// The hub's contracts: what transports hand it, what hooks receive, what stats it keeps.
import type { Position } from '../schemas/message.ts'
import type { FrameBudgetOptions } from './frame-budget.ts'

export type TransportName = 'uws' | 'fastify'

/** What the upgrade request tells about the client (query `token`, `user`; remote address). */
export interface AuthRequest { token?: string, user?: string, ip: string }
export interface Identity {
  userId: string
  name?: string
  /** ms since the epoch: the hub closes the connection then with 4401 (the token's `exp`) */
  expiresAt?: number
}

/** One connection as hooks see it. `channels` holds live subscriptions only. */
export interface Connection {
  readonly id: string
  readonly user: string | undefined
  readonly name: string | undefined
  readonly ip: string
  readonly transport: TransportName
  readonly channels: ReadonlySet<string>
  /** How it ended, once it has (in `onDisconnect`): the close code (null when none was seen) and who closed it. */
  readonly ended?: { readonly code: number | null, readonly by: 'server' | 'client' }
}

/** What `onSubscribe` answers: where the client now stands, and frames it missed (oldest first). */
export interface SubscribeResult {
  position: Position | null
  recovered: boolean
  /** pre-serialised `event` frames sent after `subscribed` and before live frames */
  replay?: string[]
}

/** Extension points; all optional, all async. Notifications are added with `hub.addHook` (all run), decisions set once with `hub.setDecision` (fanout/hooks.ts). */
export interface FanoutHooks {
  /** Identity of an upgrading client; throw (or return an Error) to answer 401. Null/undefined: anonymous. */
  authenticate (req: AuthRequest): Promise<Identity | null | undefined | Error>
  /** Throw an error with a snake_case `code` (default `forbidden` style) to refuse a subscribe. */
  authorizeSubscribe (conn: Connection, channel: string): Promise<void>
  /** Recovery: where the client stands after the replay. Default: channel position, recovered false. */
  onSubscribe (conn: Connection, channel: string, since: Position | undefined, start: Position | null): Promise<SubscribeResult>
  /** After a subscription went live (presence). */
  onSubscribed (conn: Connection, channel: string): Promise<void>
  /** The hub refused the replay `onSubscribe` answered (`frames` of them), as it did not fit in `maxReplayBytes` beside what the socket had queued: the client got `recovered: false` (its owner counts it). */
  onReplayRefused (conn: Connection, channel: string, frames: number): Promise<void>
  /** After a live subscription ended by an unsubscribe (a disconnect calls `onDisconnect` instead). */
  onUnsubscribed (conn: Connection, channel: string): Promise<void>
  onConnect (conn: Connection): Promise<void>
  /** Called once the connection is gone; `conn.channels` still lists what it was subscribed to. */
  onDisconnect (conn: Connection): Promise<void>
}

/** A socket as the transport exposes it to the hub. Calls after close must be harmless no-ops. */
export interface SocketHandle {
  send (frame: string): void
  /** Bytes sent to this socket and not yet written out (what the client has still to read); the
   *  hub budgets each replay against it. A transport that cannot tell leaves it out (counted as 0). */
  buffered? (): number
  subscribe (channel: string): void
  unsubscribe (channel: string): void
  close (code: number, reason: string): void
}

/** A live subscriber as its transport sees it: the handle the transport gave the hub at `connect`. */
export interface Subscriber {
  readonly transport: TransportName
  readonly handle: SocketHandle
}

/**
 * A transport delivers one pre-serialised frame to a channel's live subscribers. The hub's index is
 * the one record of who is subscribed: `subscribers` holds those of every transport, and each
 * transport hands the frame to its own.
 */
export interface Transport {
  readonly name: TransportName
  /** returns how many sockets the frame was handed to */
  publish (channel: string, frame: string, subscribers: ReadonlySet<Subscriber>): number
}

/**
 * What a publish did. `sent`: handed to `deliveries` sockets; `no-subscribers`: published with no
 * live socket on the channel here (still seen by `onPublished` taps and by subscribes in flight);
 * `redelivery-dropped`: a positioned event at or below the channel's last position, not sent again.
 */
export type PublishResult =
  | { readonly outcome: 'sent', readonly deliveries: number }
  | { readonly outcome: 'no-subscribers' | 'redelivery-dropped', readonly deliveries: 0 }

/** A tap on every event the hub publishes (not on redeliveries it drops), called synchronously. */
export type PublishedListener = (channel: string, frame: string, position: Position | undefined) => void

/** pino-compatible subset, so the hub stays framework-free. */
export interface FanoutLogger {
  debug (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

export interface FanoutHubOptions {
  hooks?: Partial<FanoutHooks>
  /** per connection (live + in flight); default 100 */
  maxSubscriptions?: number
  /** largest client frame in bytes, larger ones get `frame_too_large`; default 16384 */
  maxPayload?: number
  /** open connections on this instance, both transports; upgrades beyond get HTTP 503; default unlimited */
  maxConnections?: number
  /** bytes a socket may hold queued once a replay is sent (what it already has buffered + the replay + live frames buffered meanwhile); a replay that does not fit answers `recovered: false`; default unlimited (the plugin: half of WS_MAX_BACKPRESSURE) */
  maxReplayBytes?: number
  /** live frames buffered for one subscribe in flight before it fails with `busy`; default 1000 */
  maxPendingFrames?: number
  /** client frames per connection: `burst` at once, then `rate` per second; default 20/s, bursts of 200 */
  frameBudget?: FrameBudgetOptions
  logger?: FanoutLogger
}

/** Plain counters, read by /metrics. */
export interface FanoutStats {
  connections: Record<TransportName, number>
  /** Live subscriptions (connection × channel) on this instance; a gauge, not a counter. */
  subscriptions: number
  published: number
  deliveries: number
  slowClientsDropped: number
  errorFrames: number
  /** Positioned events at or below the channel's last sent position (redeliveries), not sent again. */
  replaysDropped: number
  /** Client frames dropped for exceeding the connection's frame budget. */
  framesRateLimited: number
  /** Connections closed with 4029 for sending on past the frame budget. */
  rateLimitedClosed: number
  /** Recoveries answered `recovered: false` because the replay would not fit in the socket's send budget (with what it already had queued). */
  replaysOverBudget: number
  /** Connections closed with 4401 when their token expired. */
  tokensExpired: number
}
