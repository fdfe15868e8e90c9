// Channels and who may use them. Channels never created are public; private ones admit members only;
// `user:<id>` channels belong to that user alone. Routes, the fanout and other plugins ask here.
import fp from 'fastify-plugin'
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { Access, Channel, ChannelStore } from './channels.ts'
import { createEmbeddedChannelStore } from './embedded.ts'

export type * from './channels.ts'

export const PERSONAL_PREFIX = 'user:'

export interface Channels {
  readonly store: ChannelStore
  /** The channel as this instance last read it (at most CHANNEL_CACHE_MS old); null when never created. */
  get (id: string): Promise<Channel | null>
  create (channel: Channel): Promise<boolean>
  addMember (id: string, userId: string): Promise<boolean>
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

export default fp<ChannelsPluginOptions>(async function channels (app, opts) {
  const { config } = app
  let store: ChannelStore
  if (opts.store) store = opts.store
  else if (config.MONGO_URL) {
    const { createMongoChannelStore } = await import('./mongo.ts')
    store = createMongoChannelStore({ url: config.MONGO_URL, database: config.MONGO_DB, logger: app.log.child({ component: 'channels' }) })
  } else store = createEmbeddedChannelStore()
  if (!opts.store) app.addHook('onClose', async () => { await store.close() })

  // A short-lived local copy: membership is read on every post, read and subscribe. Changes made on
  // this instance drop the copy at once; changes made elsewhere show within CHANNEL_CACHE_MS.
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
    if (channelId.startsWith(PERSONAL_PREFIX)) {
      if (access === 'write') return `channel ${channelId} is personal: only the server posts to it`
      return user?.id === channelId.slice(PERSONAL_PREFIX.length) ? undefined : `channel ${channelId} is personal: only its user may read it`
    }
    const channel = await get(channelId)
    if (!channel?.private) return undefined
    if (user && channel.members.includes(user.id)) return undefined
    return `channel ${channelId} is private: only its members may ${access === 'read' ? 'read or subscribe to' : 'post to'} it`
  }

  const assertAccess: Channels['assertAccess'] = async (user, channelId, access) => {
    const reason = await refusal(user, channelId, access)
    if (reason) throw app.httpErrors.forbidden(reason)
  }

  app.decorate('channels', {
    store,
    get,
    async create (channel) { forget(channel.id); return store.create(channel).finally(() => forget(channel.id)) },
    async addMember (id, userId) { return store.addMember(id, userId).finally(() => forget(id)) },
    async removeMember (id, userId) { return store.removeMember(id, userId).finally(() => forget(id)) },
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
  // its own MongoDB client, so its own check; the embedded store cannot fail
  if (store.kind === 'mongo') app.readiness.add('mongo-channels', () => store.ping())
}, { name: 'channels', dependencies: ['errors', 'readiness'] })
