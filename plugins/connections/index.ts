// Connection lifecycle on the log, user status, and the lease that makes both survive a crash.
// The instance that holds a socket records it in the registry (Redis, or in process) and produces
// `connected`, `subscribed`, `unsubscribed` and `disconnected` to the `connections` topic (key userId);
// a user's first connection anywhere and their last one out produce `user.status` on `user-status`.
// Each instance records its connections under a generation of its lease, renewed every third of
// CONNECTION_LEASE_SECONDS; every instance looks for lapsed generations at the same pace and the one
// that claims them reports their connections `disconnected` (instance_lost) and their users offline.
// Rules in registry.ts (the lease), lease.ts (this instance's side); docs/connections.md.
import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import type { Connection } from '../../fanout/types.ts'
import { CloseCodes, frames } from '../../fanout/protocol.ts'
import { STATUS_PREFIX, isServerNamedChannel, isStatusChannel } from '../../schemas/channel-kinds.ts'
import type { ConnectionEvent, DisconnectReason, UserStatus } from '../../schemas/connections.ts'
import type { Claim, ConnectionRegistry, LiveConnection, StatusChange } from './registry.ts'
import { createEmbeddedRegistry } from './embedded.ts'
import { createRedisRegistry } from './redis.ts'
import { createLease } from './lease.ts'
import { startUpSteps } from '../external/start-up.ts'
import { ChurnWindow } from '../../fanout/churn-window.ts'
import { CoalescingQueue } from '../../fanout/coalescing-queue.ts'

export type * from './registry.ts'

export interface Connections {
  readonly registry: ConnectionRegistry
  /** 'produced' after each lifecycle or status event this instance wrote (tests, metrics). */
  readonly events: EventEmitter<{ produced: [ConnectionEvent | StatusChange] }>
  statuses (userIds: string[]): Promise<UserStatus[]>
  list (userId: string): Promise<LiveConnection[]>
  /** One pass of the lease work: renew this instance's lease, report one lapsed instance's connections if any. */
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
const internal = (channel: string) => isServerNamedChannel(channel)

// `subscriptions` numbers the connection's subscribed/unsubscribed facts: a channel joined, left and
// joined again is three facts, so their ids differ (the count is taken when the fact happens, so a
// retried produce repeats the id).
interface Tracked {
  user: string
  connectedAt: string
  transport: Connection['transport']
  queue: CoalescingQueue
  /** The lease generation it is recorded under (set before the first attempt: one generation only). */
  gen?: number
  /** Its socket closed (if before its record was attempted: nothing to report). */
  closed?: boolean
  subscriptions: number
}

export default fp<{ registry?: ConnectionRegistry }>(async function connections (app, opts) {
  // The Redis registry's scripts still span hash slots: on a Redis Cluster they fail (CROSSSLOT)
  // until its key layout puts each script's keys in one slot (docs/redis-keys.md).
  const registry = opts.registry ?? (app.redis ? createRedisRegistry(app.redis) : createEmbeddedRegistry())
  const { instanceId } = app
  const leaseMs = app.config.CONNECTION_LEASE_SECONDS * 1000
  const log = app.log.child({ component: 'connections' })
  const { hub } = app.fanout
  const tracked = new Map<string, Tracked>()
  const inFlight = new Set<Promise<void>>()
  const events = new EventEmitter<{ produced: [ConnectionEvent | StatusChange] }>()
  events.setMaxListeners(0)
  const lease = createLease({
    registry,
    instanceId,
    leaseMs,
    log,
    // The registry ended this generation: a reaper reports its connections, whose sockets close now
    // (clients reconnect and are recorded under the next generation).
    onLost (gen) {
      for (const conn of [...hub.connections()]) {
        if (tracked.get(conn.id)?.gen === gen) hub.close(conn, CloseCodes.LEASE_LOST, 'instance lost its lease')
      }
    }
  })

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

  /**
   * One queue per connection: its events are written in the order they happened. Bounded: past
   * twice the subscriptions a connection may hold (what its net changes can take), subscription
   * changes (`channel` set) are coalesced, then dropped; `connected` and `disconnected` never are.
   */
  const queueLimit = 2 * app.config.WS_MAX_SUBSCRIPTIONS + 4
  const newQueue = (connectionId: string) => new CoalescingQueue({
    limit: queueLimit,
    onShed: (shed) => log.warn({ connectionId, ...shed }, 'lifecycle queue full while the log is down: subscription changes coalesced or dropped')
  })
  function enqueue (conn: Connection, what: string, work: (entry: Tracked) => Promise<void>, channel?: string) {
    const entry = tracked.get(conn.id)
    if (!entry) return
    return track(entry.queue.push({ channel, run: () => persist(what, conn.id, () => work(entry)) }))
  }
  // A subscription undone within the window is reported neither begun nor ended.
  const churn = new ChurnWindow(app.config.WS_CHURN_WINDOW_MS)

  /** Reports one connection gone: `disconnected` first, then the record, then the status (never lost, at worst repeated with the same id). */
  async function reportGone (conn: LiveConnection, reason: Exclude<DisconnectReason, 'lease_lost'>, code: number | null) {
    await emit({ ...base({ id: conn.connectionId }, { user: conn.userId }, 'disconnected'), instanceId: conn.instanceId, type: 'disconnected', data: { reason, code, connectedAt: conn.connectedAt } })
    const { change } = await registry.remove(conn.instanceId, conn.connectionId, conn.userId, reason === 'instance_lost')
    await announce(change)
  }

  const nextSubscriptionFact = (conn: Connection) => {
    const entry = tracked.get(conn.id)
    return entry ? ++entry.subscriptions : 0
  }

  hub.addHooks({
    async onConnect (conn) {
      if (conn.user === undefined) return
      tracked.set(conn.id, { user: conn.user, connectedAt: new Date().toISOString(), transport: conn.transport, queue: newQueue(conn.id), subscriptions: 0 })
      // Recorded before `connected` is produced: whatever happens next, a `disconnected` will follow.
      await enqueue(conn, 'connected', async (entry) => {
        if (entry.closed && entry.gen === undefined) return
        entry.gen ??= await lease.acquire()
        const added = await registry.add({ connectionId: conn.id, userId: entry.user, instanceId, transport: entry.transport, connectedAt: entry.connectedAt, gen: entry.gen })
        if (!added.recorded) {
          // Its generation ended first (if it was recorded, the reaper reports it): close it, clients reconnect.
          if (added.why === 'lease_lost') lease.lost(entry.gen)
          hub.close(conn, CloseCodes.LEASE_LOST, 'instance lost its lease')
          return
        }
        await emit({ ...base(conn, entry, 'connected'), type: 'connected', data: { transport: entry.transport } })
        await announce(added.change)
      })
    },
    async onSubscribed (conn, channel) {
      // A status subscriber gets the current status first, then changes (keep the highest version).
      if (isStatusChannel(channel)) {
        const [status] = await registry.statuses([channel.slice(STATUS_PREFIX.length)])
        if (hub.isSubscribed(conn, channel)) hub.send(conn, frames.event(channel, 'user.status', status))
      }
      if (internal(channel) || !tracked.has(conn.id)) return
      await track(churn.hold(conn.id, channel, async () => {
        const fact = `:${channel}:${nextSubscriptionFact(conn)}`
        await enqueue(conn, 'subscribed', (entry) => emit({ ...base(conn, entry, 'subscribed', fact), type: 'subscribed', data: { channel } }), channel)
      }))
    },
    async onUnsubscribed (conn, channel) {
      if (internal(channel) || churn.release(conn.id, channel)) return
      const fact = `:${channel}:${nextSubscriptionFact(conn)}`
      await enqueue(conn, 'unsubscribed', (entry) => emit({ ...base(conn, entry, 'unsubscribed', fact), type: 'unsubscribed', data: { channel } }), channel)
    },
    async onDisconnect (conn) {
      churn.releaseAll(conn.id)
      const { reason, code } = disconnectReason(conn.ended)
      const ended = tracked.get(conn.id)
      if (ended) ended.closed = true
      await enqueue(conn, 'disconnected', async (entry) => {
        tracked.delete(conn.id)
        // Never recorded (closed before its turn), or recorded under a generation that is over: a
        // reaper reports it (or did), with the frozen records of that generation.
        if (entry.gen === undefined || reason === 'lease_lost' || lease.current() !== entry.gen) return
        // Reported by a reaper already (the generation ended before this instance learnt it).
        if (!await registry.has(instanceId, conn.id)) return
        await reportGone({ connectionId: conn.id, userId: entry.user, instanceId, transport: entry.transport, connectedAt: entry.connectedAt }, reason, code)
      })
    }
  }, 'connections')

  /** Reports the connections of an instance's lapsed generations (another's, or this one's earlier ones). */
  async function reap (claim: Claim) {
    log.warn({ lostInstance: claim.instanceId, connections: claim.connections.length }, 'an instance lost its lease: reporting its connections disconnected (instance_lost)')
    for (const conn of claim.connections) {
      // The claim is kept while reporting; if it lapsed anyway, the reaper that took it over goes on.
      if (!await registry.extendClaim(claim, leaseMs)) return log.warn({ lostInstance: claim.instanceId }, 'another instance took over this reap')
      if (await registry.has(conn.instanceId, conn.connectionId)) await reportGone(conn, 'instance_lost', null)
    }
    await registry.finishClaim(claim)
  }
  const reapOwn = async () => {
    const own = await registry.claim(leaseMs, instanceId)
    if (own) await reap(own)
  }

  let closing = false
  let ticking: Promise<void> | undefined
  async function tick () {
    await lease.renew()
    if (lease.current() === undefined) {
      // A new generation for the connections to come; the sockets of the old one are closing.
      await lease.acquire()
      await reapOwn()
    }
    const claimed = await registry.claim(leaseMs)
    if (claimed) await reap(claimed)
  }
  const runTick = () => (ticking ??= tick().catch((err) => log.warn({ err }, 'lease renewal or reaping failed; retrying at the next tick')).finally(() => { ticking = undefined }))

  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async function startConnectionLeases () {
    const step = startUpSteps(log, app.config.PLUGIN_TIMEOUT_MS)
    // Refused when another live process holds this INSTANCE_ID. Connections left by an earlier run
    // of it (earlier generations) are reported now.
    await step('the connection registry: taking this instance\'s lease', lease.acquire())
    await step('reporting connections left by an earlier run', reapOwn())
    await step(`${app.bus.kind === 'kafka' ? `Kafka at ${app.config.KAFKA_BROKERS}` : 'the embedded log'}: creating the connection topics`, app.bus.ensureTopics(['connections', 'user-status', 'notifications.offline']))
    timer = setInterval(runTick, lease.renewEveryMs)
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
    // Connections whose `disconnected` could not be written stay recorded: another instance reports
    // them once the lease is given up (at once), or once it lapses if even that fails.
    try {
      await lease.release()
    } catch (err) { log.warn({ err }, 'could not release the lease (it lapses by itself)') }
  })
}, { name: 'connections', dependencies: ['fanout', 'events', 'redis', 'bus'] })
