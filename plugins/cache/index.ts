import fp from 'fastify-plugin'
import type { MessageCache } from './cache.ts'
import { createEmbeddedCache } from './embedded.ts'

export type * from './cache.ts'

declare module 'fastify' {
  interface FastifyInstance { cache: MessageCache }
}

export interface CachePluginOptions { cache?: MessageCache }

/** The hot cache: Redis when REDIS_URL or REDIS_CLUSTER_NODES is set, in-memory otherwise. Never a silent fallback. */
export default fp<CachePluginOptions>(async function cache (app, opts) {
  const { config } = app
  const options = { recent: config.CACHE_RECENT, ttlSeconds: config.CACHE_TTL_SECONDS, tombstones: config.CACHE_TOMBSTONES, parked: config.CACHE_PARKED }
  let cache: MessageCache
  if (opts.cache) {
    cache = opts.cache
  } else if (app.redis) {
    const { createRedisCache } = await import('./redis.js') // .js: see plugins/bus/index.ts
    cache = createRedisCache(app.redis, options, { replicas: config.REDIS_WAIT_REPLICAS, timeoutMs: config.REDIS_WAIT_TIMEOUT_MS })
  } else {
    cache = createEmbeddedCache(options)
  }
  app.log.info({ cache: cache.kind }, `cache: ${cache.kind === 'redis' ? 'Redis' : 'embedded in-memory (set REDIS_URL or REDIS_CLUSTER_NODES for Redis)'}`)
  app.decorate('cache', cache)
  // the shared Redis client has its own check (plugins/external/redis.ts)
  if (cache.kind !== 'redis' || opts.cache) app.readiness.add('cache', () => cache.ping())
  if (!opts.cache) app.addHook('onClose', async () => { await cache.close() })
}, { name: 'cache', dependencies: ['readiness', 'redis'] })
