// Connection lifecycle on the log, user status, and the lease that makes both survive a crash.
// The instance that holds a socket records it in the registry (Redis, or in process) and produces
// `connected`, `subscribed`, `unsubscribed` and `disconnected` to the `connections` topic (key userId);
// a user's first connection anywhere and their last one out produce `user.status` on `user-status`.
// Each instance renews a lease every third of CONNECTION_LEASE_SECONDS; every instance looks for
// lapsed leases at the same pace and the one that claims a lapsed lease reports that instance's
// connections `disconnected` (instance_lost) and their users offline. docs/connections.md.
import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import type { Connection } from '../../fanout/types.ts'
import { CloseCodes, frames } from '../../fanout/protocol.ts'
import { PERSONAL_PREFIX, STATUS_PREFIX } from '../channels/index.ts'
import type { ConnectionEvent, DisconnectReason, UserStatus } from '../../schemas/connections.ts'
import type { ConnectionRegistry, LiveConnection, StatusChange } from './registry.ts'
import { createEmbeddedRegistry } from './embedded.ts'
import { createRedisRegistry } from './redis.ts'

export type * from './registry.ts'

export interface Connections {
  readonly registry: ConnectionRegistry
  /** 'produced' after each lifecycle or status event this instance wrote (tests, metrics). */
  readonly events: EventEmitter<{ produced: [ConnectionEvent | StatusChange] }>
  statuses (userIds: string[]): Promise<UserStatus[]>
  list (userId: string): Promise<LiveConnection[]>
  /** One pass of the lease work: renew this instance's lease, report one lapsed instance if any. */
  tick (): Promise<void>
  /** Resolves once the lifecycle events queued so far are written (tests, shutdown). */
  settled (): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance { connections: Connections }
}

/** The reason a `disconnected` carries, from how the socket ended. */
export function disconnectReason (ended: Connection['ended']): { reason: DisconnectReason | 'lease_lost', code: number | null } {
  const code = ended?.code ?? null
  if (ended?.by === 'server') {
    const byCode: Record<number, DisconnectReason | 'lease_lost'> = {
      [CloseCodes.GOING_AWAY]: 'server_shutdown',
      [CloseCodes.SLOW_CONSUMER]: 'slow_consumer',
      [CloseCodes.RATE_LIMITED]: 'rate_limited',
      [CloseCodes.TOKEN_EXPIRED]: 'token_expired',
      [CloseCodes.ADMIN_DISCONNECT]: 'admin_disconnect',
      [CloseCodes.LEASE_LOST]: 'lease_lost'
    }
    return { reason: (code !== null && byCode[code]) || 'server_shutdown', code }
  }
  // 1006: no close frame (network gone, process killed); 1005: a close frame without a code
  return { reason: code === null || code === 1006 ? 'connection_lost' : 'client_closed', code }
}

/** Channels whose subscriptions are not reported: the implied personal channel, status channels. */
const internal = (channel: string) => channel.startsWith(PERSONAL_PREFIX) || channel.startsWith(STATUS_PREFIX)

interface Tracked { user: string, connectedAt: string, transport: Connection['transport'], queue: Promise<void> }

export default fp<{ registry?: ConnectionRegistry }>(async function connections (app, opts) {
  // The Redis registry's scripts still span hash slots: on a Redis Cluster they fail (CROSSSLOT)
  // until its key layout puts each script's keys in one slot (docs/redis-keys.md).
  const registry = opts.registry ?? (app.redis ? createRedisRegistry(app.redis as Redis) : createEmbeddedRegistry())
  const { instanceId } = app
  const leaseMs = app.config.CONNECTION_LEASE_SECONDS * 1000
  const log = app.log.child({ component: 'connections' })
  const { hub } = app.fanout
  const tracked = new Map<string, Tracked>()
  const inFlight = new Set<Promise<void>>()
  const events = new EventEmitter<{ produced: [ConnectionEvent | StatusChange] }>()
  events.setMaxListeners(0)

  const track = (work: Promise<void>) => {
    inFlight.add(work)
    void work.finally(() => inFlight.delete(work))
    return work
  }

  async function emit (event: ConnectionEvent) {
    await app.events.produce('connections', event.userId, event)
    events.emit('produced', event)
  }
  async function announce (change: StatusChange | null) {
    if (!change) return
    await app.events.produce('user-status', change.userId, { v: 1, type: 'user.status', userId: change.userId, at: new Date().toISOString(), data: change })
    events.emit('produced', change)
  }
  const base = (conn: { id: string }, entry: { user: string }, type: string, suffix = '') =>
    ({ v: 1 as const, id: `${conn.id}:${type}${suffix}`, userId: entry.user, connectionId: conn.id, instanceId, at: new Date().toISOString() })

  // Writes are retried while the log or Redis is down: a lifecycle event is lost only with the process
  // (and then the lease covers `disconnected`).
  async function persist (what: string, connectionId: string, work: () => Promise<void>) {
    for (let attempt = 1; ; attempt++) {
      try { return await work() } catch (err) {
        if (closing && attempt > 3) { log.error({ err, connectionId }, `${what}: given up at shutdown (the lease reports the disconnect)`); return }
        log.warn({ err, connectionId, attempt }, `${what} failed; retrying`)
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5000)))
      }
    }
  }

  /** One queue per connection: its events are written in the order they happened. */
  function enqueue (conn: Connection, what: string, work: (entry: Tracked) => Promise<void>) {
    const entry = tracked.get(conn.id)
    if (!entry) return
    entry.queue = track(entry.queue.then(() => persist(what, conn.id, () => work(entry))))
    return entry.queue
  }

  /** Reports one connection gone: `disconnected` first, then the record, then the status (never lost, at worst repeated with the same id). */
  async function reportGone (conn: LiveConnection, reason: Exclude<DisconnectReason, 'lease_lost'>, code: number | null) {
    await emit({ ...base({ id: conn.connectionId }, { user: conn.userId }, 'disconnected'), instanceId: conn.instanceId, type: 'disconnected', data: { reason, code, connectedAt: conn.connectedAt } })
    const { change } = await registry.remove(conn.instanceId, conn.connectionId, conn.userId)
    await announce(change)
  }

  hub.addHooks({
    async onConnect (conn) {
      if (conn.user === undefined) return
      tracked.set(conn.id, { user: conn.user, connectedAt: new Date().toISOString(), transport: conn.transport, queue: Promise.resolve() })
      // Recorded before `connected` is produced: whatever happens next, a `disconnected` will follow.
      await enqueue(conn, 'connected', async (entry) => {
        const change = await registry.add({ connectionId: conn.id, userId: entry.user, instanceId, transport: entry.transport, connectedAt: entry.connectedAt })
        await emit({ ...base(conn, entry, 'connected'), type: 'connected', data: { transport: entry.transport } })
        await announce(change)
      })
    },
    async onSubscribed (conn, channel) {
      // A status subscriber gets the current status first, then changes (keep the highest version).
      if (channel.startsWith(STATUS_PREFIX)) {
        const [status] = await registry.statuses([channel.slice(STATUS_PREFIX.length)])
        if (hub.isSubscribed(conn, channel)) hub.send(conn, frames.event(channel, 'user.status', status))
      }
      if (internal(channel)) return
      await enqueue(conn, 'subscribed', (entry) => emit({ ...base(conn, entry, 'subscribed', `:${channel}`), type: 'subscribed', data: { channel } }))
    },
    async onUnsubscribed (conn, channel) {
      if (internal(channel)) return
      await enqueue(conn, 'unsubscribed', (entry) => emit({ ...base(conn, entry, 'unsubscribed', `:${channel}`), type: 'unsubscribed', data: { channel } }))
    },
    async onDisconnect (conn) {
      const { reason, code } = disconnectReason(conn.ended)
      await enqueue(conn, 'disconnected', async (entry) => {
        tracked.delete(conn.id)
        // Closed because the lease was lost: the instance that claimed it reports this connection.
        if (reason === 'lease_lost') return
        // Claimed by a reaper (this instance lost its lease): it reported the connection already.
        if (!await registry.has(instanceId, conn.id)) return
        await reportGone({ connectionId: conn.id, userId: entry.user, instanceId, transport: entry.transport, connectedAt: entry.connectedAt }, reason, code)
      })
    }
  }, 'connections')

  /** Reports the connections of one lapsed instance (another's, or this one's from an earlier run). */
  async function reap (claimed: { instanceId: string, connections: LiveConnection[] }) {
    log.warn({ lostInstance: claimed.instanceId, connections: claimed.connections.length }, 'an instance lost its lease: reporting its connections disconnected (instance_lost)')
    for (const conn of claimed.connections) await reportGone(conn, 'instance_lost', null)
    await registry.finishClaim(claimed.instanceId)
  }

  let closing = false
  let ticking: Promise<void> | undefined
  async function tick () {
    if (!await registry.renew(instanceId, leaseMs)) {
      // Unreachable for longer than the lease: another instance reported these connections lost.
      // Their sockets close (1012, clients reconnect) and the instance starts over with a new lease.
      log.error('this instance lost its lease on its connections: closing them (1012)')
      for (const conn of [...hub.connections()]) if (conn.user !== undefined) hub.close(conn, CloseCodes.LEASE_LOST, 'instance lost its lease')
      await registry.renew(instanceId, leaseMs, true)
    }
    const claimed = await registry.claimLapsed(leaseMs)
    if (claimed) await reap(claimed)
  }
  const runTick = () => (ticking ??= tick().catch((err) => log.warn({ err }, 'lease renewal or reaping failed; retrying at the next tick')).finally(() => { ticking = undefined }))

  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    await registry.renew(instanceId, leaseMs, true)
    // Connections left by an earlier run with the same INSTANCE_ID are reported (the WebSocket port
    // may already be open: this run's own connections are not leftovers).
    const leftovers = (await registry.connectionsOf(instanceId)).filter((c) => !tracked.has(c.connectionId))
    if (leftovers.length) await reap({ instanceId, connections: leftovers })
    await app.bus.ensureTopics(['connections', 'user-status', 'notifications.offline'])
    timer = setInterval(runTick, leaseMs / 3)
    timer.unref()
  })

  const settled = async () => { while (inFlight.size > 0) await Promise.allSettled([...inFlight]) }
  app.decorate('connections', {
    registry,
    events,
    statuses: (userIds: string[]) => registry.statuses(userIds),
    list: (userId: string) => registry.list(userId),
    tick: runTick,
    settled
  } satisfies Connections)

  // Sockets close in preClose (each queues its `disconnected`); write them before the bus closes.
  app.addHook('onClose', async () => {
    closing = true
    clearInterval(timer)
    await ticking
    await settled()
    // Connections whose `disconnected` could not be written stay recorded: the lease then lapses and
    // another instance reports them. Otherwise the lease is given up at once.
    try {
      if ((await registry.connectionsOf(instanceId)).length === 0) await registry.release(instanceId)
    } catch (err) { log.warn({ err }, 'could not release the lease (it lapses by itself)') }
  })
}, { name: 'connections', dependencies: ['fanout', 'events', 'redis', 'bus'] })
