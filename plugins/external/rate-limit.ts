// Rate limits on writes (POST, PUT, PATCH, DELETE under /api): RATE_LIMIT_MAX per RATE_LIMIT_WINDOW
// per user, per IP when anonymous. Counters live in Redis when configured, so the limit holds
// across instances; in process otherwise. Reads, probes and the WebSocket upgrade are not limited.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The key a request is counted under: the authenticated user (auth runs first), else the address. */
export function rateLimitKey (request: FastifyRequest): string {
  return request.user ? `user:${request.user.id}` : `ip:${request.ip}`
}

export default fp(async function writeRateLimit (app) {
  const { config } = app
  if (config.RATE_LIMIT_MAX === 0) {
    app.log.warn('rate limits are OFF (RATE_LIMIT_MAX=0)')
    return
  }
  const window = /^[0-9]+$/.test(config.RATE_LIMIT_WINDOW) ? Number(config.RATE_LIMIT_WINDOW) : config.RATE_LIMIT_WINDOW
  await app.register(rateLimit, {
    global: true,
    max: config.RATE_LIMIT_MAX,
    timeWindow: window,
    // route-level onRequest: after the root auth hook has set request.user
    hook: 'onRequest',
    keyGenerator: rateLimitKey,
    allowList: (request) => READS.has(request.method) || !(request.routeOptions.url ?? request.url).startsWith('/api/'),
    ...(app.redis ? { redis: app.redis, nameSpace: 'rate-limit:' } : {}),
    // Redis down: writes go on unlimited rather than failing (posting needs the log, not Redis)
    skipOnError: true,
    errorResponseBuilder: (_request, context) => Object.assign(
      new Error(`rate limit exceeded: at most ${context.max} writes per ${config.RATE_LIMIT_WINDOW}; retry in ${context.after}`),
      { statusCode: context.statusCode }
    )
  })
}, { name: 'rate-limit', dependencies: ['auth', 'redis', 'errors'] })
