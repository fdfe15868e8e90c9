// Presence: a user subscribed to a channel over a live connection is present in it. The fanout's
// `onSubscribed`, `onUnsubscribed` and `onDisconnect` hooks keep the store in step; a join or a
// leave (first connection in, last one out, across instances) goes to `user-activity` as
// `presence.join` / `presence.leave`, delivered by the topic's relay (its catalogue `fanout`).
import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import type { Connection } from '../../fanout/types.ts'
import { isServerNamedChannel } from '../../schemas/channel-kinds.ts'
import type { UserActivityEvent } from '../../schemas/events.ts'
import type { PresenceStore } from './presence.ts'
import { createEmbeddedPresence } from './embedded.ts'
import { createRedisPresence } from './redis.ts'
import { ChurnWindow } from '../../fanout/churn-window.ts'
import { CoalescingQueue } from '../../fanout/coalescing-queue.ts'

export type * from './presence.ts'

/** One presence change this instance made: `announced` when it was a join or leave of the user. */
export interface PresenceUpdate { change: 'join' | 'leave', channel: string, userId: string, connectionId: string, announced: boolean }

export interface Presence {
  readonly store: PresenceStore
  /** 'updated' after each change is written (and announced): metrics count them, tests wait for them. */
  readonly events: EventEmitter<{ updated: [PresenceUpdate] }>
  /** Resolves once the presence changes queued so far are written and announced (tests, shutdown). */
  settled (): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance { presence: Presence }
}

/** This instance's present connections: where each is present, and its queue of presence changes. */
interface Tracked { user: string, name?: string, channels: Set<string>, queue: CoalescingQueue }

export default fp<{ presence?: PresenceStore }>(async function presence (app, opts) {
  const ttlSeconds = app.config.PRESENCE_TTL_SECONDS
  const store = opts.presence ?? (app.redis ? createRedisPresence(app.redis, { ttlSeconds }) : createEmbeddedPresence({ ttlSeconds }))
  const log = app.log.child({ component: 'presence' })
  const tracked = new Map<string, Tracked>()
  const inFlight = new Set<Promise<void>>()
  const events = new EventEmitter<{ updated: [PresenceUpdate] }>()
  events.setMaxListeners(0)
  const updated = (change: PresenceUpdate['change'], channel: string, entry: Tracked, connectionId: string, announced: boolean) =>
    events.emit('updated', { change, channel, userId: entry.user, connectionId, announced })

  // Anonymous connections are nobody; a personal channel has one possible member, and watching a
  // user's status is no presence: neither counts.
  const counts = (conn: Connection, channel: string) => conn.user !== undefined && !isServerNamedChannel(channel)

  const track = (work: Promise<void>): Promise<void> => {
    inFlight.add(work)
    void work.finally(() => inFlight.delete(work))
    return work
  }

  // One queue per connection: a quick subscribe-unsubscribe must leave in that order, never join
  // last. Bounded as the connections plugin's: past it, a join and its leave both queued cancel out.
  const queueLimit = 2 * app.config.WS_MAX_SUBSCRIPTIONS + 4
  function enqueue (conn: Connection, work: (entry: Tracked) => Promise<void>, channel?: string): Promise<void> {
    let entry = tracked.get(conn.id)
    if (!entry) {
      const queue = new CoalescingQueue({
        limit: queueLimit,
        onShed: (shed) => log.warn({ connectionId: conn.id, ...shed }, 'presence queue full: joins and leaves coalesced or dropped')
      })
      tracked.set(conn.id, entry = { user: conn.user!, name: conn.name?.slice(0, 64), channels: new Set(), queue })
    }
    const target = entry
    return track(target.queue.push({ channel, run: () => work(target).catch((err) => log.warn({ err, connectionId: conn.id }, 'presence update failed')) }))
  }
  // A subscription undone within the window joins nor leaves: churn makes no presence events.
  const churn = new ChurnWindow(app.config.WS_CHURN_WINDOW_MS)

  async function announce (type: 'presence.join' | 'presence.leave', channel: string, entry: Tracked) {
    const data = entry.name === undefined ? { userId: entry.user } : { userId: entry.user, name: entry.name }
    const event: UserActivityEvent = { v: 1, type, channelId: channel, at: new Date().toISOString(), data }
    await app.events.produce('user-activity', channel, event)
  }

  async function leave (connectionId: string, channel: string, entry: Tracked) {
    if (!entry.channels.delete(channel)) return // its join was never written, or already undone
    const last = await store.leave({ channel, userId: entry.user, connectionId })
    if (last) await announce('presence.leave', channel, entry)
    updated('leave', channel, entry, connectionId, last)
  }

  const { hub } = app.fanout
  hub.addHooks({
    // A join is announced only if the subscription is still live once it is written: a subscribe
    // undone by an unsubscribe (or a disconnect) before then announces nothing, neither join nor leave.
    async onSubscribed (conn, channel) {
      if (!counts(conn, channel)) return
      await track(churn.hold(conn.id, channel, () => enqueue(conn, async (entry) => {
        if (!hub.isSubscribed(conn, channel)) return // already undone: nothing to write
        const member = { channel, userId: entry.user, connectionId: conn.id }
        entry.channels.add(channel)
        const first = await store.join(member, entry.name)
        if (first && !hub.isSubscribed(conn, channel)) {
          entry.channels.delete(channel)
          // Another connection of the user that joined meanwhile was told it was not first: then
          // the user is present and the join is announced after all.
          const last = await store.leave(member)
          if (!last) await announce('presence.join', channel, entry)
          return
        }
        if (first) await announce('presence.join', channel, entry)
        updated('join', channel, entry, conn.id, first)
      }, channel)))
    },
    async onUnsubscribed (conn, channel) {
      if (!counts(conn, channel) || churn.release(conn.id, channel)) return
      await enqueue(conn, (entry) => leave(conn.id, channel, entry), channel)
    },
    async onDisconnect (conn) {
      churn.releaseAll(conn.id)
      if (!tracked.has(conn.id)) return
      await enqueue(conn, async (entry) => {
        tracked.delete(conn.id)
        for (const channel of [...entry.channels]) await leave(conn.id, channel, entry).catch((err) => log.warn({ err, channel }, 'presence leave failed'))
      })
    }
  }, 'presence')

  // Connections still open stay present: refresh them three times per TTL (one batch per instance).
  const refresh = setInterval(() => {
    const members = [...tracked].flatMap(([connectionId, entry]) => [...entry.channels].map((channel) => ({ channel, userId: entry.user, connectionId })))
    store.refresh(members).catch((err) => log.warn({ err }, 'presence refresh failed; retrying at the next tick'))
  }, ttlSeconds * 1000 / 3)
  refresh.unref()

  const settled = async () => { while (inFlight.size > 0) await Promise.allSettled([...inFlight]) }
  app.decorate('presence', { store, events, settled } satisfies Presence)
  // Sockets close in preClose (each disconnect queues its leaves); write them before the bus closes.
  app.addHook('onClose', async () => {
    clearInterval(refresh)
    await settled()
  })
}, { name: 'presence', dependencies: ['fanout', 'events', 'redis', 'channels'] })
