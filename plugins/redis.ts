// A Redis connection for state that must hold across instances: rate-limit counters and nonces.
// `app.redis` is null without REDIS_URL (each concern then keeps its state in process).
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** Keys are prefixed with REDIS_KEY_PREFIX; null when REDIS_URL is not set. */
    redis: Redis | null
  }
}

const TIMEOUT_MS = 2000

export interface RedisPluginOptions { redis?: Redis }

export default fp<RedisPluginOptions>(async function redis (app, opts) {
  const { config } = app
  if (opts.redis || !config.REDIS_URL) {
    app.decorate('redis', opts.redis ?? null)
    return
  }
  const client = new Redis(config.REDIS_URL, {
    keyPrefix: config.REDIS_KEY_PREFIX,
    lazyConnect: true,
    // fail fast while disconnected (the caller answers 503) and reconnect in the background
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    retryStrategy: (times) => Math.min(times * 100, 1000)
  })
  let down = false
  client.on('error', (err) => {
    if (!down) app.log.error({ err }, 'Redis (coordination) unavailable; reconnecting')
    down = true
  })
  client.on('ready', () => { down = false })
  app.decorate('redis', client)
  // Connected before the app answers, so the first request does not meet a cold client; a Redis that
  // is down at boot is logged (and /ready fails through the cache's check), not fatal.
  app.addHook('onReady', async () => {
    await client.connect().catch((err) => app.log.error({ err }, 'Redis (coordination) not reachable at start'))
  })
  app.addHook('onClose', async () => { client.disconnect() })
}, { name: 'redis' })
