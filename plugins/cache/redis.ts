// Placeholder until the ioredis implementation lands (issue 3).
import type { FastifyBaseLogger } from 'fastify'
import type { CacheOptions, MessageCache } from './cache.ts'

export interface RedisCacheOptions extends CacheOptions { url: string, logger: FastifyBaseLogger }

export function createRedisCache (_options: RedisCacheOptions): MessageCache {
  throw new Error('REDIS_URL is set but the Redis cache is not built yet')
}
