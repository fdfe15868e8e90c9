// Pins: a channel's pinned messages, at most PINS_MAX. A request takes (or gives back) its place in
// the reservations first, atomically, and only then puts its event in the log: what the request
// is answered is final, and the consumer that stores the pin (consumers/pins-store.ts) never
// refuses one. State: the store (MongoDB or in process), kept from the `pins` topic; the places:
// Redis when configured (every instance shares them), in process otherwise.
import fp from 'fastify-plugin'
import type { PinEvent } from '../../schemas/events.ts'
import type { PinRecord, PinStore } from './pins.ts'
import type { PinReservation, PinReservations, UnpinStamp } from './reservations.ts'
import { createEmbeddedPinStore } from './embedded.ts'
import { createEmbeddedPinReservations } from './reservations-embedded.ts'
import { createRedisPinReservations } from './reservations-redis.ts'

export type * from './pins.ts'
export type * from './reservations.ts'

export interface Pins {
  readonly store: PinStore
  readonly reservations: PinReservations
  /** Pins the message (again: a new version); false when the channel has PINS_MAX pins already. 503 when the log is down. */
  pin (channelId: string, messageId: string, userId: string): Promise<boolean>
  /**
   * Unpins the message by `userId`, or because it was deleted (no user). Produces its `pin.removed`
   * whenever the message holds a place (or `always`: a request's unpin is produced even when it
   * holds none, so it also undoes a pin whose event is still on its way to the store).
   */
  unpin (channelId: string, messageId: string, userId: string | null, always?: boolean): Promise<void>
  /** The channel's pins as stored, newest first. */
  list (channelId: string): Promise<PinRecord[]>
}

declare module 'fastify' {
  interface FastifyInstance { pins: Pins }
}

export interface PinsPluginOptions { store?: PinStore, reservations?: PinReservations }

export default fp<PinsPluginOptions>(async function pins (app, opts) {
  let store: PinStore
  if (opts.store) store = opts.store
  else if (app.mongo) {
    const { createMongoPinStore } = await import('./mongo.js') // .js: see plugins/bus/index.ts
    store = createMongoPinStore(app.mongo.db, { logger: app.log.child({ component: 'pins' }) })
  } else store = createEmbeddedPinStore()
  if (!opts.store) app.addHook('onClose', async () => { await store.close() })
  const reservations = opts.reservations ?? (app.redis ? createRedisPinReservations(app.redis) : createEmbeddedPinReservations())
  const max = app.config.PINS_MAX
  const now = () => Date.now() * 1000

  /**
   * Runs a reservation call, loading the channel's places from the store first when they are not
   * known; null, without loading, when `needed` says the stored pins make the call pointless.
   */
  async function reserve<R extends PinReservation | UnpinStamp> (channelId: string, call: () => Promise<R>, needed = (_pinned: PinRecord[]) => true): Promise<Exclude<R, { outcome: 'unloaded' }> | null> {
    let result = await call()
    if (result.outcome === 'unloaded') {
      const pinned = await store.list(channelId)
      if (!needed(pinned)) return null
      await reservations.load(channelId, new Map(pinned.map((p) => [p.messageId, p.version])))
      result = await call()
      if (result.outcome === 'unloaded') throw new Error(`the pin places of channel ${channelId} could not be loaded`)
    }
    return result as Exclude<R, { outcome: 'unloaded' }>
  }

  const event = (type: PinEvent['type'], channelId: string, messageId: string, version: number, userId: string | null): PinEvent => ({
    v: 1,
    type,
    channelId,
    at: new Date().toISOString(),
    data: { messageId, version, ...(userId === null ? { deleted: true as const } : { userId }) }
  })

  app.decorate('pins', {
    store,
    reservations,
    async pin (channelId, messageId, userId) {
      const place = (await reserve(channelId, () => reservations.pin(channelId, messageId, max, now())))!
      if (place.outcome === 'full') return false
      try {
        await app.events.produce('pins', channelId, event('pin.added', channelId, messageId, place.version, userId))
      } catch (err) {
        // not accepted: a new place is given back (unless a later request re-stamped it); a place held
        // before stays, since an earlier 204 stands for it
        if (place.outcome === 'new') await reservations.release(channelId, messageId, place.version).catch((e) => app.log.warn({ err: e, channel: channelId }, 'could not give back the place of a pin that failed'))
        throw err
      }
      return true
    },
    async unpin (channelId, messageId, userId, always = false) {
      // a deletion in a channel whose places are not loaded and that has this message unpinned (most
      // deletions) makes no Redis state for the channel
      const stamp = await reserve(channelId, () => reservations.stamp(channelId, messageId, now()), (pinned) => always || pinned.some((p) => p.messageId === messageId))
      if (!stamp || (stamp.outcome === 'absent' && !always)) return
      await app.events.produce('pins', channelId, event('pin.removed', channelId, messageId, stamp.version, userId))
      // The place is given back once the log has the unpin, never before: a pin racing for it cannot
      // be told 204 while the unpin could still fail (then the place would be taken twice).
      // A failure here leaves it taken until the store handler applies the unpin: it gives the place
      // back too (consumers/pins-store.ts), so a crash between the two leaks nothing.
      if (stamp.outcome === 'held') {
        await reservations.release(channelId, messageId, stamp.version).catch((err) => app.log.warn({ err, channel: channelId }, 'could not give back the place of an unpinned message yet'))
      }
    },
    list: (channelId) => store.list(channelId)
  } satisfies Pins)
}, { name: 'pins', dependencies: ['redis', 'mongo', 'events', 'errors'] })
