// Recent messages in Redis, so an edit that lands on another instance than the post finds it: one
// key per message (one hash slot), SET NX for a post so that a deletion recorded first stays.
import { redisCall, type RedisClient } from '../external/redis.ts'
import type { RecentMessage, RecentMessageStore } from './recent-messages.ts'

const DELETED = '\u0000deleted'
const keyOf = (id: string) => `recent-message:${id}`

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisRecentMessages (redis: RedisClient): RecentMessageStore {
  return {
    kind: 'redis',
    async posted (message, ttlSeconds) {
      await redisCall(redis, 'recent message write', () => redis.set(keyOf(message.id), JSON.stringify(message), 'EX', ttlSeconds, 'NX'))
    },
    async deleted (id, ttlSeconds) {
      await redisCall(redis, 'recent deletion write', () => redis.set(keyOf(id), DELETED, 'EX', ttlSeconds))
    },
    async get (id): Promise<RecentMessage | undefined> {
      const value = await redisCall(redis, 'recent message read', () => redis.get(keyOf(id)))
      if (value === null) return undefined
      return value === DELETED ? { state: 'deleted' } : { state: 'posted', message: JSON.parse(value) }
    }
  }
}
