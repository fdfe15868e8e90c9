// Presence on Redis, shared by every instance. Per channel (one hash slot, `{channel}`): a sorted set
// user → latest expiry, one sorted set per user of connection → expiry, and a hash user → name.
// Each change is one Lua script, so "was this the user's last connection?" is answered atomically
// even when two instances drop the same user's last two connections at once.
import { redisCall, redisPipeline, type RedisClient } from '../external/redis.ts'
import type { ActivityUser } from '../../schemas/user-activity.ts'
import type { PresenceOptions, PresenceStore } from './presence.ts'

// KEYS: users, connections, names. ARGV: user, connection, expiry, now, has name (0|1), name, ttl ms.
const JOIN = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local live = redis.call('ZCARD', KEYS[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[1])
if ARGV[5] == '1' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[6]) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
if live == 0 then return 1 end
return 0`

// KEYS: users, connections, names. ARGV: user, connection, now.
const LEAVE = `
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) > 0 then
  local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  redis.call('ZADD', KEYS[1], newest[2], ARGV[1])
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])`

// KEYS: users, connections, names. ARGV: user, connection, expiry, now, ttl ms. An expired connection stays gone.
const REFRESH = `
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not expiry or tonumber(expiry) <= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[1])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
return 1`

// KEYS: users, names. ARGV: now. Returns user, name (nil when unnamed) pairs.
const LIST = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
if #ids == 0 then return {} end
local names = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i, id in ipairs(ids) do out[2 * i - 1] = id; out[2 * i] = names[i] end
return out`

interface PresenceCommands {
  presenceJoin (users: string, conns: string, names: string, user: string, conn: string, expiry: number, now: number, hasName: string, name: string, ttlMs: number): Promise<number>
  presenceLeave (users: string, conns: string, names: string, user: string, conn: string, now: number): Promise<number>
  presenceRefresh (users: string, conns: string, names: string, user: string, conn: string, expiry: number, now: number, ttlMs: number): Promise<number>
  presenceList (users: string, names: string, now: number): Promise<Array<string | null>>
}

const keys = (channel: string, userId: string) => {
  const base = `presence:{${channel}}`
  return [`${base}:users`, `${base}:user:${userId}`, `${base}:names`] as const
}

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisPresence (redis: RedisClient, options: PresenceOptions): PresenceStore {
  for (const [name, lua] of [['presenceJoin', JOIN], ['presenceLeave', LEAVE], ['presenceRefresh', REFRESH]]) redis.defineCommand(name, { numberOfKeys: 3, lua })
  redis.defineCommand('presenceList', { numberOfKeys: 2, lua: LIST })
  const commands = redis as unknown as PresenceCommands
  const now = options.now ?? Date.now
  const ttlMs = options.ttlSeconds * 1000
  const run = <T>(what: string, op: () => Promise<T>): Promise<T> => redisCall(redis, `presence ${what}`, op)

  return {
    kind: 'redis',
    async join ({ channel, userId, connectionId }, name) {
      const at = now()
      return await run('join', () => commands.presenceJoin(...keys(channel, userId), userId, connectionId, at + ttlMs, at, name === undefined ? '0' : '1', name ?? '', ttlMs)) === 1
    },
    async leave ({ channel, userId, connectionId }) {
      return await run('leave', () => commands.presenceLeave(...keys(channel, userId), userId, connectionId, now())) === 1
    },
    async refresh (members) {
      if (members.length === 0) return
      const at = now()
      await redisPipeline(redis, 'presence refresh', (pipeline) => {
        for (const { channel, userId, connectionId } of members) (pipeline as unknown as PresenceCommands).presenceRefresh(...keys(channel, userId), userId, connectionId, at + ttlMs, at, ttlMs)
      })
    },
    async list (channel) {
      const flat = await run('read', () => commands.presenceList(keys(channel, '')[0], keys(channel, '')[2], now()))
      const users: ActivityUser[] = []
      for (let i = 0; i < flat.length; i += 2) users.push(flat[i + 1] === null ? { userId: flat[i]! } : { userId: flat[i]!, name: flat[i + 1]! })
      return users.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
    }
  }
}
