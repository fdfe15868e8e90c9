// Nonces in Redis, so a retry that lands on another instance still finds the first request:
// SET NX EX claims a key atomically; the value is a pending marker, then the result.
import { redisCall, type RedisClient } from '../external/redis.ts'
import type { NonceState, NonceStore } from './nonces.ts'

const PENDING = '\u0000pending'

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisNonceStore (redis: RedisClient): NonceStore {
  const run = <T>(what: string, op: () => Promise<T>): Promise<T> => redisCall(redis, `nonce ${what}`, op)
  const state = (value: string | null): NonceState =>
    value === null ? { state: 'free' } : value === PENDING ? { state: 'pending' } : { state: 'done', value }
  return {
    kind: 'redis',
    async claim (key, ttlSeconds) {
      const set = await run('claim', () => redis.set(key, PENDING, 'EX', ttlSeconds, 'NX'))
      if (set === 'OK') return { state: 'claimed' }
      return state(await run('read', () => redis.get(key)))
    },
    async peek (key) { return state(await run('read', () => redis.get(key))) },
    async settle (key, value, ttlSeconds) { await run('store', () => redis.set(key, value, 'EX', ttlSeconds)) },
    async release (key) { await run('release', () => redis.del(key)) }
  }
}
