// Channels and who may use them. Channels never created are public; private ones admit members only;
// `user:<id>` channels belong to that user alone. Routes, the fanout and other plugins ask here.
import fp from 'fastify-plugin'
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { Access, Channel, ChannelStore } from './channels.ts'
import { createEmbeddedChannelStore } from './embedded.ts'
import { PERSONAL_PREFIX, isPersonalChannel, isStatusChannel } from '../../schemas/channel-kinds.ts'

export type * from './channels.ts'

export interface Channels {
  readonly store: ChannelStore
  /** The channel as this instance last read it (kept current by the `channels` topic); null when never created. */
  get (id: string): Promise<Channel | null>
  /** Creates, adds and removes store the change, then announce it on the `channels` topic (503 when the log is down). */
  create (channel: Channel): Promise<boolean>
  addMember (id: string, userId: string): Promise<boolean>
  /** Announces the channel again (a retry of a change whose announcement failed); 503 when the log is down. */
  announce (id: string): Promise<void>
  removeMember (id: string, userId: string): Promise<boolean>
  /** Drops this instance's copy of the channel (another instance changed it). */
  forget (id: string): void
  /** Why `user` may not read (history, subscribe) or write (post, react, edit, typing) the channel; undefined when allowed. */
  refusal (user: { id: string } | null | undefined, channelId: string, access: Access): Promise<string | undefined>
  /** Throws a 403 naming the channel when `refusal` has a reason. */
  assertAccess (user: { id: string } | null | undefined, channelId: string, access: Access): Promise<void>
  /** A preHandler checking `request.user` against the route param (default `channelId`). */
  guard (access: Access, param?: string): preHandlerAsyncHookHandler
}

declare module 'fastify' {
  interface FastifyInstance { channels: Channels }
}

export interface ChannelsPluginOptions { store?: ChannelStore }

const MAX_CACHED = 10_000

/** Why `userId` may not use a created (or never created: null) channel; undefined when allowed. */
export function memberRefusal (channel: Pick<Channel, 'private' | 'members'> | null, userId: string | undefined, channelId: string, access: Access): string | undefined {
  if (!channel?.private) return undefined
  if (userId !== undefined && channel.members.includes(userId)) return undefined
  return `channel ${channelId} is private: only its members may ${access === 'read' ? 'read or subscribe to' : 'post to'} it`
}

export default fp<ChannelsPluginOptions>(async function channels (app, opts) {
  const { config } = app
  let store: ChannelStore
  if (opts.store) store = opts.store
  else if (app.mongo) {
    const { createMongoChannelStore } = await import('./mongo.js') // .js: see plugins/bus/index.ts
    store = createMongoChannelStore(app.mongo.db, { logger: app.log.child({ component: 'channels' }) })
  } else store = createEmbeddedChannelStore()
  if (!opts.store) app.addHook('onClose', async () => { await store.close() })

  // A local copy: membership is read on every post, read and subscribe, so never from the store per
  // request. Every change is announced on the `channels` topic after it is stored, and every
  // instance drops its copy when the event arrives (consumers/channels-access.ts); CHANNEL_CACHE_MS
  // is only a backstop for an announcement that could not be made (the log was down: a 503).
  const cached = new Map<string, { channel: Channel | null, until: number }>()
  const loading = new Map<string, Promise<Channel | null>>()
  let writes = 0 // a load that overlapped a write may have read the old value: it is not cached
  const forget = (id: string) => { writes++; cached.delete(id); loading.delete(id) }

  const get = async (id: string): Promise<Channel | null> => {
    const hit = cached.get(id)
    if (hit && hit.until > Date.now()) return hit.channel
    let load = loading.get(id)
    if (!load) {
      const startedAt = writes
      load = store.get(id).then((channel) => {
        // kept even with CHANNEL_CACHE_MS=0: it is then never fresh, but still the last known state
        if (startedAt === writes) {
          if (cached.size >= MAX_CACHED) cached.delete(cached.keys().next().value!)
          cached.set(id, { channel, until: Date.now() + config.CHANNEL_CACHE_MS })
        }
        return channel
      }).finally(() => { if (loading.get(id) === load) loading.delete(id) })
      loading.set(id, load)
    }
    if (!hit) return load
    // Stale if error: while the store is down, the last known state keeps posts, reads and
    // subscribes working (the log accepts writes without MongoDB); a channel never seen fails closed.
    return load.catch((err) => {
      app.log.warn({ err, channel: id }, 'channel store unavailable: using the last known channel state')
      return hit.channel
    })
  }

  const refusal: Channels['refusal'] = async (user, channelId, access) => {
    if (isPersonalChannel(channelId)) {
      if (access === 'write') return `channel ${channelId} is personal: only the server posts to it`
      return user?.id === channelId.slice(PERSONAL_PREFIX.length) ? undefined : `channel ${channelId} is personal: only its user may read it`
    }
    if (isStatusChannel(channelId)) {
      return access === 'write' ? `channel ${channelId} is a user's status: only the server publishes to it` : undefined
    }
    return memberRefusal(await get(channelId), user?.id, channelId, access)
  }

  const assertAccess: Channels['assertAccess'] = async (user, channelId, access) => {
    const reason = await refusal(user, channelId, access)
    if (reason) throw app.httpErrors.forbidden(reason)
  }

  /**
   * Tells every instance (this one included) that the channel changed, once the change is stored: on
   * `channels` (every instance drops its copy), and, when the change may exclude someone (a private
   * channel created, a member removed), as an access mark on `messages` with the channel's members
   * as stored now. The mark is in order with the channel's messages: any message accepted after
   * this answers comes after it in the partition, and every fanout drops the excluded subscribers
   * before delivering it (consumers/messages-fanout.ts).
   */
  const announce = async (channelId: string, excludes: boolean) => {
    const channel = excludes ? await store.get(channelId) : null
    const at = new Date().toISOString()
    try {
      await Promise.all([
        app.events.produce('channels', channelId, { v: 1, type: 'channel.access', channelId, at, data: {} }),
        channel?.private ? app.events.produce('messages', channelId, { v: 1, type: 'channel.access', channelId, at, data: { private: true, members: channel.members } }) : undefined
      ])
    } catch {
      throw app.httpErrors.serviceUnavailable(`the change to channel ${channelId} is stored, but the event log is unavailable, so other instances may not see it yet; retry later`)
    }
  }
  /** A store write, then (when it changed something) the announcement; this instance's copy is dropped either way. */
  const change = async (id: string, excludes: boolean, write: () => Promise<boolean>) => {
    forget(id)
    const changed = await write().finally(() => forget(id))
    if (changed) await announce(id, excludes)
    return changed
  }

  app.decorate('channels', {
    store,
    get,
    create: (channel) => change(channel.id, channel.private, () => store.create(channel)),
    addMember: (id, userId) => change(id, false, () => store.addMember(id, userId)),
    removeMember: (id, userId) => change(id, true, () => store.removeMember(id, userId)),
    announce: async (id) => { forget(id); await announce(id, true) },
    forget,
    refusal,
    assertAccess,
    guard (access, param = 'channelId') {
      return async (request: FastifyRequest) => {
        const channelId = (request.params as Record<string, unknown>)[param]
        if (typeof channelId === 'string') await assertAccess(request.user, channelId, access)
      }
    }
  } satisfies Channels)
}, { name: 'channels', dependencies: ['errors', 'readiness', 'events', 'mongo'] })
