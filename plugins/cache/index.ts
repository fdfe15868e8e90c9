import fp from 'fastify-plugin'
import type { MessageCache } from './cache.ts'
import { createEmbeddedCache } from './embedded.ts'

export type * from './cache.ts'

declare module 'fastify' {
  interface FastifyInstance { cache: MessageCache }
}

export interface CachePluginOptions { cache?: MessageCache }

/** The hot cache: Redis when REDIS_URL is set, in-memory otherwise. Never a silent fallback. */
export default fp<CachePluginOptions>(async function cache (app, opts) {
  const { config } = app
  const options = { recent: config.CACHE_RECENT, ttlSeconds: config.CACHE_TTL_SECONDS, keyPrefix: config.REDIS_KEY_PREFIX, tombstones: config.CACHE_TOMBSTONES, parked: config.CACHE_PARKED }
  let cache: MessageCache
  if (opts.cache) {
    cache = opts.cache
  } else if (config.REDIS_URL) {
    const { createRedisCache } = await import('./redis.ts')
    cache = createRedisCache({ ...options, url: config.REDIS_URL, logger: app.log.child({ component: 'redis' }) })
  } else {
    cache = createEmbeddedCache(options)
  }
  app.log.info({ cache: cache.kind }, `cache: ${cache.kind === 'redis' ? 'Redis' : 'embedded in-memory (set REDIS_URL for Redis)'}`)
  app.decorate('cache', cache)
  app.readiness.add(cache.kind === 'redis' ? 'redis' : 'cache', () => cache.ping())
  if (!opts.cache) app.addHook('onClose', async () => { await cache.close() })
}, { name: 'cache', dependencies: ['readiness'] })
