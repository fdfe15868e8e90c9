// The transport-agnostic core: connections, subscriptions, per-channel positions and publish.
// Transports (uWS, @fastify/websocket) hand it sockets and frames; it never imports either.
import { randomUUID } from 'node:crypto'
import { compareOffsets, type Position } from '../schemas/message.ts'
import { CloseCodes, frames } from './protocol.ts'
import { authenticateUpgrade } from './auth.ts'
import { handleClientFrame } from './client-frames.ts'
import { PendingSubscribes, type Pending } from './pending.ts'
import { FrameBudget, type FrameBudgetOptions } from './frame-budget.ts'
import { HubHooks, type DecisionHooks, type DecisionName, type NotificationHooks, type NotificationName } from './hooks.ts'
import type { Connection, FanoutHubOptions, FanoutLogger, FanoutStats, Identity, AuthRequest, PublishedListener, PublishResult, SocketHandle, Transport, TransportName } from './types.ts'

/** Channels whose last position is remembered (any id is a valid channel: the map must not grow forever). */
const MAX_CHANNEL_POSITIONS = 100_000

export type * from './types.ts'
export type { DecisionName, NotificationName } from './hooks.ts'
export { FanoutAuthError } from './auth.ts'

/** A connection as the hub tracks it; hooks see it as a read-only `Connection`. */
interface Conn extends Connection {
  readonly channels: Set<string>
  readonly handle: SocketHandle
  readonly pending: Map<string, Pending<Conn>>
  readonly budget: FrameBudget
  /** closes the connection when its token expires */
  expiry?: NodeJS.Timeout
  closed: boolean
  ended?: { code: number | null, by: 'server' | 'client' }
}

const HOOK_ERROR_CODE = /^[a-z][a-z0-9_]*$/
/** setTimeout's longest delay (about 24.8 days); a later expiry re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1
const noop = () => {}
const silent: FanoutLogger = { debug: noop, warn: noop, error: noop }
const none: ReadonlySet<Conn> = new Set()
const NO_SUBSCRIBERS: PublishResult = { outcome: 'no-subscribers', deliveries: 0 }
const REDELIVERY_DROPPED: PublishResult = { outcome: 'redelivery-dropped', deliveries: 0 }

/** Adds `conn` to the set under `key`, creating it. */
function index<K> (map: Map<K, Set<Conn>>, key: K, conn: Conn): void {
  let set = map.get(key)
  if (!set) map.set(key, set = new Set())
  set.add(conn)
}

/** Removes `conn` from the set under `key`, and the set once empty. */
function unindex<K> (map: Map<K, Set<Conn>>, key: K, conn: Conn): void {
  const set = map.get(key)
  if (set?.delete(conn) && set.size === 0) map.delete(key)
}

export class FanoutHub {
  readonly stats: FanoutStats = { connections: { uws: 0, fastify: 0 }, subscriptions: 0, published: 0, deliveries: 0, slowClientsDropped: 0, errorFrames: 0, replaysDropped: 0, framesRateLimited: 0, rateLimitedClosed: 0, replaysOverBudget: 0, tokensExpired: 0 }
  readonly maxSubscriptions: number
  readonly maxPayload: number
  readonly maxPendingFrames: number
  /** open connections on this instance (both transports); transports refuse upgrades beyond with 503 */
  readonly maxConnections: number
  #unavailable: string | undefined
  /** bytes a socket may hold queued once a replay is sent (what it had buffered + the replay + live frames buffered meanwhile); a replay that does not fit answers recovered: false */
  readonly maxReplayBytes: number
  readonly frameBudget: FrameBudgetOptions
  readonly log: FanoutLogger
  readonly #hooks: HubHooks
  readonly #transports = new Set<Transport>()
  readonly #published: PublishedListener[] = []
  readonly #conns = new Map<string, Conn>()
  /** The one record of live subscriptions (`conn.channels` is its per-socket view): transports deliver from it. */
  readonly #subscribers = new Map<string, Set<Conn>>()
  readonly #byUser = new Map<string, Set<Conn>>()
  readonly #pending = new PendingSubscribes<Conn>()
  readonly #positions = new Map<string, Position>()

  constructor (opts: FanoutHubOptions = {}) {
    this.maxSubscriptions = opts.maxSubscriptions ?? 100
    this.maxPayload = opts.maxPayload ?? 16384
    this.maxPendingFrames = opts.maxPendingFrames ?? 1000
    this.maxConnections = opts.maxConnections ?? Infinity
    this.maxReplayBytes = opts.maxReplayBytes ?? Infinity
    this.frameBudget = { rate: 20, burst: 200, ...opts.frameBudget }
    this.log = opts.logger ?? silent
    this.#hooks = new HubHooks(this.log)
    if (opts.hooks) this.#hooks.addAll(opts.hooks, 'the hooks option')
  }

  /**
   * Adds a notification hook (onConnect, onDisconnect, onSubscribed, onUnsubscribed): every one
   * added runs, in the order added; `owner` (the plugin) names it when it fails. fanout/hooks.ts.
   */
  addHook<K extends NotificationName> (name: K, fn: NotificationHooks[K], owner: string): void { this.#hooks.add(name, fn, owner) }
  /** `addHook` for each of `hooks` (a plugin's several notifications at once). */
  addHooks (hooks: Partial<NotificationHooks>, owner: string): void { this.#hooks.addAll(hooks, owner) }
  /**
   * Sets a decision hook (authenticate, authorizeSubscribe, onSubscribe): one owner each, and a
   * second one throws naming both. `replaces` names the current owner to replace it on purpose.
   */
  setDecision<K extends DecisionName> (name: K, fn: DecisionHooks[K], owner: string, replaces?: string): void { this.#hooks.decide(name, fn, owner, replaces) }
  /** The decision hook set for `name`, if any. */
  decision<K extends DecisionName> (name: K): DecisionHooks[K] | undefined { return this.#hooks.decision(name) }

  /**
   * Taps every event this hub publishes (redeliveries it drops excepted), synchronously and before
   * any socket gets it: reconnect recovery keeps its buffer this way (plugins/recovery/). A tap
   * that throws is logged and stops no delivery. Returns a function that removes the tap.
   */
  onPublished (listener: PublishedListener): () => void {
    this.#published.push(listener)
    return () => {
      const i = this.#published.indexOf(listener)
      if (i !== -1) this.#published.splice(i, 1)
    }
  }

  addTransport (transport: Transport): void { this.#transports.add(transport) }
  removeTransport (transport: Transport): void { this.#transports.delete(transport) }

  /** Who is connecting (undefined: anonymous); throws FanoutAuthError (→ HTTP 401) to refuse. */
  authenticate (req: AuthRequest): Promise<Identity | undefined> { return authenticateUpgrade(this.#hooks.decision('authenticate'), req) }

  /** Registers a socket that has just opened and greets it with `ready`. */
  connect (handle: SocketHandle, transport: TransportName, identity: Identity | undefined, ip: string): Connection {
    const conn: Conn = {
      id: randomUUID(),
      user: identity?.userId,
      name: identity?.name,
      ip,
      transport,
      channels: new Set(),
      handle,
      pending: new Map(),
      budget: new FrameBudget(this.frameBudget),
      closed: false
    }
    this.#conns.set(conn.id, conn)
    if (conn.user !== undefined) index(this.#byUser, conn.user, conn)
    this.stats.connections[transport]++
    if (identity?.expiresAt !== undefined) this.#expireAt(conn, identity.expiresAt)
    this.send(conn, frames.ready(conn.id, conn.user))
    this.#hooks.notify('onConnect', conn)
    return conn
  }

  /**
   * Forgets a connection (idempotent): the transport calls it from its close event with the code it
   * saw, the hub itself (by: 'server') before it closes a socket. `onDisconnect` sees it as `conn.ended`.
   */
  disconnect (connection: Connection, code: number | null = null, by: 'server' | 'client' = 'client'): void {
    const conn = this.#conns.get(connection.id)
    if (!conn) return
    conn.closed = true
    conn.ended = { code, by }
    clearTimeout(conn.expiry)
    this.#conns.delete(conn.id)
    if (conn.user !== undefined) unindex(this.#byUser, conn.user, conn)
    for (const channel of conn.channels) unindex(this.#subscribers, channel, conn)
    this.stats.connections[conn.transport]--
    this.stats.subscriptions -= conn.channels.size
    for (const pending of conn.pending.values()) this.#settle(pending)
    // Channels stay on the object so onDisconnect (presence) can see where the user was.
    this.#hooks.notify('onDisconnect', conn)
  }

  /** Closes a client that cannot keep up; called by transports past the backpressure limit. */
  dropSlowClient (connection: Connection): void {
    const conn = this.#conns.get(connection.id)
    if (!conn) return
    this.stats.slowClientsDropped++
    this.log.warn({ connectionId: conn.id, user: conn.user }, 'slow consumer closed (backpressure limit)')
    this.close(conn, CloseCodes.SLOW_CONSUMER, 'slow consumer')
  }

  /** Closes one connection server side with `code` (admin disconnect, lost lease); false when it is gone already. */
  close (connection: Connection, code: number, reason: string): boolean {
    const conn = this.#conns.get(connection.id)
    if (!conn) return false
    this.disconnect(conn, code, 'server')
    conn.handle.close(code, reason)
    return true
  }

  /** One timer per connection with a token: at its `exp` the socket is closed with 4401 (the client refreshes and reconnects). */
  #expireAt (conn: Conn, at: number): void {
    const delay = at - Date.now()
    if (delay > MAX_TIMER_MS) {
      conn.expiry = setTimeout(() => this.#expireAt(conn, at), MAX_TIMER_MS)
      return
    }
    conn.expiry = setTimeout(() => {
      if (conn.closed) return
      this.stats.tokensExpired++
      this.log.debug({ connectionId: conn.id, user: conn.user }, 'connection closed: token expired')
      this.close(conn, CloseCodes.TOKEN_EXPIRED, 'token expired')
    }, Math.max(0, delay))
  }

  /** Closes every connection (shutdown: 1001), optionally only those of one transport. */
  closeAll (code: number = CloseCodes.GOING_AWAY, reason = 'server shutting down', transport?: TransportName): void {
    for (const conn of [...this.#conns.values()]) {
      if (transport && conn.transport !== transport) continue
      this.close(conn, code, reason)
    }
  }

  /** Every open connection on this instance (shutdown, lost lease); to find some, ask `connectionsOf` or `subscribersOf`. */
  connections (): IterableIterator<Connection> { return this.#conns.values() }

  /**
   * The open connections of `userId` on this instance (a map lookup: its size is checked on every
   * upgrade). A live view: copy it before closing connections while iterating.
   */
  connectionsOf (userId: string): ReadonlySet<Connection> { return this.#byUser.get(userId) ?? none }

  /**
   * The connections live on `channel` (not those still subscribing). A live view: copy it before
   * unsubscribing or closing while iterating, or across an await.
   */
  subscribersOf (channel: string): ReadonlySet<Connection> { return this.#subscribers.get(channel) ?? none }

  /** True when this instance takes no more connections (it holds `maxConnections`, or it stopped
   *  receiving events): transports answer further upgrades with 503. */
  get full (): boolean { return this.#unavailable !== undefined || this.#conns.size >= this.maxConnections }

  /** The refusal of an upgrade while `full`: an Error with statusCode 503. */
  fullError (): Error & { statusCode: 503 } {
    const why = this.#unavailable ?? `this instance holds its maximum of ${this.maxConnections} WebSocket connections`
    return Object.assign(new Error(`${why}; retry later or elsewhere`), { statusCode: 503 as const })
  }

  /** Closes every connection with EVENTS_LOST and refuses new ones for good: this instance can no
   *  longer deliver events (its broadcast consumer stopped), so clients must reconnect elsewhere. */
  stopDelivering (reason: string): void {
    this.#unavailable = reason
    this.closeAll(CloseCodes.EVENTS_LOST, 'this instance stopped receiving events; reconnect')
  }

  /** Handles one client frame within the connection's frame budget. Never throws: every problem becomes an `error` frame. */
  handleFrame (connection: Connection, data: string | ArrayBuffer | Uint8Array, isBinary = false): void {
    const conn = this.#conns.get(connection.id)
    if (!conn) return
    const verdict = conn.budget.take()
    if (verdict === 'ok') return handleClientFrame(this, conn, data, isBinary)
    this.stats.framesRateLimited++
    if (verdict === 'limited') {
      this.error(conn, 'rate_limited', `frames are limited to ${this.frameBudget.rate} per second (bursts of ${this.frameBudget.burst}); this one was ignored`)
    } else if (verdict === 'close') {
      this.stats.rateLimitedClosed++
      this.log.warn({ connectionId: conn.id, user: conn.user }, 'connection closed: frame rate limit')
      this.close(conn, CloseCodes.RATE_LIMITED, 'too many frames')
    }
  }

  /** True while the connection is open and live on the channel (not merely subscribing). */
  isSubscribed (connection: Connection, channel: string): boolean {
    return this.#conns.get(connection.id)?.channels.has(channel) === true
  }

  send (connection: Connection, frame: string): void {
    const conn = this.#conns.get(connection.id)
    if (conn) conn.handle.send(frame)
  }

  error (connection: Connection, code: string, message: string): void {
    this.stats.errorFrames++
    this.send(connection, frames.error(code, message))
  }

  /** The channel's last-seen position, or null before its first positioned event. */
  position (channel: string): Position | null { return this.#positions.get(channel) ?? null }

  /** Serialises the event once and hands the same string to every transport; says what it did. */
  publish (channel: string, type: string, data: unknown, position?: Position): PublishResult {
    if (position && !this.#advance(channel, position)) return REDELIVERY_DROPPED
    return this.#deliver(channel, frames.event(channel, type, data, position), position)
  }

  /** `publish` for an `event` frame built already (message events: `messageFrame` in protocol.ts, the builder replays share). */
  publishFrame (channel: string, frame: string, position?: Position): PublishResult {
    if (position && !this.#advance(channel, position)) return REDELIVERY_DROPPED
    return this.#deliver(channel, frame, position)
  }

  /** Moves the channel's position to `position`; false for a redelivery (at or below it), counted and not sent. */
  #advance (channel: string, position: Position): boolean {
    const last = this.#positions.get(channel)
    // Kafka redelivers the uncommitted tail of a batch after a consumer restart: an event at or
    // below what this channel already sent is a replay, and sockets never see it twice.
    if (last && last.epoch === position.epoch && compareOffsets(position.offset, last.offset) <= 0) {
      this.stats.replaysDropped++
      return false
    }
    // Re-inserted so the map is in order of last use: the least recently active channel goes first.
    this.#positions.delete(channel)
    this.#positions.set(channel, position)
    if (this.#positions.size > MAX_CHANNEL_POSITIONS) this.#positions.delete(this.#positions.keys().next().value!)
    return true
  }

  #deliver (channel: string, frame: string, position: Position | undefined): PublishResult {
    for (const listener of this.#published) {
      try { listener(channel, frame, position) } catch (err) { this.log.error({ err, channel }, 'onPublished listener failed') }
    }
    let delivered = 0
    const subscribers = this.#subscribers.get(channel)
    if (subscribers) for (const transport of this.#transports) delivered += transport.publish(channel, frame, subscribers)
    for (const pending of this.#pending.buffer(channel, frame, position, this.maxPendingFrames)) {
      this.#fail(pending, 'busy', 'too many events arrived while subscribing; retry')
    }
    this.stats.published++
    this.stats.deliveries += delivered
    return delivered === 0 ? NO_SUBSCRIBERS : { outcome: 'sent', deliveries: delivered }
  }

  /** Subscribes a connection (client frame, or server side such as a user's own channel). See pending.ts for the race rule. */
  async subscribe (connection: Connection, channel: string, since?: Position): Promise<boolean> {
    const conn = this.#conns.get(connection.id)
    if (!conn) return false
    if (conn.channels.has(channel) || conn.pending.has(channel)) { this.error(conn, 'already_subscribed', `already subscribed to ${channel}`); return false }
    if (conn.channels.size + conn.pending.size >= this.maxSubscriptions) {
      this.error(conn, 'too_many_subscriptions', `at most ${this.maxSubscriptions} subscriptions per connection`)
      return false
    }
    const start = this.position(channel)
    const pending = this.#pending.start(conn, channel)
    conn.pending.set(channel, pending)
    const authorize = this.#hooks.decision('authorizeSubscribe')
    const onSubscribe = this.#hooks.decision('onSubscribe')
    try {
      await authorize?.(conn, channel)
      if (pending.settled) return false
      let result = onSubscribe ? await onSubscribe(conn, channel, since, start) : { position: start, recovered: false }
      if (pending.settled) return false
      // Access may have changed while the recovery lookup ran (channel made private, member
      // removed): the access re-check of live subscribers cannot see this one yet, so check again,
      // and once more for every change `refreshAccess` reports during a check. Nothing can change
      // between the last check and going live below (one synchronous step).
      let recheck = onSubscribe !== undefined
      if (authorize) {
        while (recheck || pending.accessChanged) {
          recheck = pending.accessChanged = false
          await authorize(conn, channel)
          if (pending.settled) return false
        }
      }
      // Checked here, in the same synchronous step as the flush: a reconnect resubscribes many
      // channels at once, and the replays sent before this one are still queued on the socket.
      if (result.replay?.length && this.#flushBytes(result.replay, pending) > this.replayRoom(conn)) {
        // Sent in one synchronous burst, it would overflow the send buffer and end in a 4008 close
        // after `recovered: true`, on every retry. Recover nothing instead: the client reloads over HTTP.
        this.stats.replaysOverBudget++
        this.log.debug({ connectionId: conn.id, channel, frames: result.replay.length }, 'replay over the send budget; answering recovered: false')
        this.#hooks.notify('onReplayRefused', conn, channel, result.replay.length)
        result = { position: start, recovered: false }
      }
      this.#pending.flush(pending, conn.handle, result)
      if (conn.closed) return false // a send above may have dropped a slow client
      conn.channels.add(channel)
      index(this.#subscribers, channel, conn)
      this.stats.subscriptions++
      conn.handle.subscribe(channel)
      this.#hooks.notify('onSubscribed', conn, channel)
      return true
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (typeof code === 'string' && HOOK_ERROR_CODE.test(code)) this.#fail(pending, code, (err as Error).message)
      else {
        this.log.error({ err, connectionId: conn.id, channel }, 'subscribe hook failed')
        this.#fail(pending, 'internal_error', 'subscribe failed; retry later')
      }
      return false
    } finally {
      this.#settle(pending)
    }
  }

  /**
   * Access to a channel changed (channel.access): every subscribe in flight on it runs
   * `authorizeSubscribe` again before it goes live. Call it after the channel's cached copy is
   * dropped; live subscribers are the caller's to re-check.
   */
  refreshAccess (channel: string): void {
    for (const pending of this.#pending.of(channel)) pending.accessChanged = true
  }

  /** Stops delivery of a channel (or cancels its subscribe in flight). */
  unsubscribe (connection: Connection, channel: string): boolean {
    const conn = this.#conns.get(connection.id)
    if (!conn) return false
    const pending = conn.pending.get(channel)
    if (pending) { this.#settle(pending); return true }
    if (!conn.channels.delete(channel)) return false
    unindex(this.#subscribers, channel, conn)
    this.stats.subscriptions--
    conn.handle.unsubscribe(channel)
    this.#hooks.notify('onUnsubscribed', conn, channel)
    return true
  }

  /**
   * Bytes a replay may still add to this connection's socket: `maxReplayBytes` less what the socket
   * has queued and not yet written out (earlier replays of the same reconnect, live frames).
   */
  replayRoom (connection: Connection): number {
    const conn = this.#conns.get(connection.id)
    if (!conn) return 0
    return Math.max(0, this.maxReplayBytes - (conn.handle.buffered?.() ?? 0))
  }

  /** Bytes `flush` would send for a replay: the replay and the live frames buffered meanwhile. */
  #flushBytes (replay: string[], pending: Pending<Conn>): number {
    let bytes = 0
    for (const frame of replay) bytes += Buffer.byteLength(frame)
    for (const { frame } of pending.buffer) bytes += Buffer.byteLength(frame)
    return bytes
  }

  /** Ends a pending subscribe (done, cancelled or failed) and stops buffering for it. */
  #settle (pending: Pending<Conn>): void {
    this.#pending.settle(pending)
    if (pending.conn.pending.get(pending.channel) === pending) pending.conn.pending.delete(pending.channel)
  }

  #fail (pending: Pending<Conn>, code: string, message: string): void {
    if (pending.settled) return
    this.#settle(pending)
    this.error(pending.conn, code, message)
  }
}
