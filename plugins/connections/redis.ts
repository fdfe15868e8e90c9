// The connection registry on Redis, shared by every instance. Leases are a sorted set
// instance → expiry on Redis's own clock (instances' clocks may disagree); each instance's open
// connections are a hash connection → record; each user's a hash connection → instance, beside a
// status version. Every change is one Lua script, so "first connection in / last one out" and "who
// claims a lapsed lease" are answered atomically across instances. The scripts touch keys of several
// hash slots: one Redis node (or a primary with replicas), not Redis Cluster.
import type { Redis } from 'ioredis'
import { TransientError } from '../errors.ts'
import type { UserStatus } from '../../schemas/connections.ts'
import type { ConnectionRegistry, LiveConnection, StatusChange } from './registry.ts'

const NOW = 'local t = redis.call(\'TIME\'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)'
// A status version: above the last one and Redis's clock in ms, so it keeps growing even after the
// version key expired (a quiet user's key does not stay forever). KEYS[3] = version key.
const BUMP = `
local version = math.max(tonumber(redis.call('GET', KEYS[3]) or '0') + 1, now)
redis.call('SET', KEYS[3], version, 'PX', ${7 * 24 * 3600 * 1000})
return version`

// KEYS: leases. ARGV: instance, ttl ms, first (1|0). 0 when the lease was claimed meanwhile.
const RENEW = `${NOW}
if ARGV[3] ~= '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1`

// KEYS: instance hash, user hash, version. ARGV: connection, record, instance. The new version when the user came online, else 0.
const ADD = `${NOW}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local before = redis.call('HLEN', KEYS[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if before > 0 then return 0 end
${BUMP}`

// KEYS: instance hash, user hash, version. ARGV: connection. -1 not recorded, 0 removed, else the new version (went offline).
const REMOVE = `${NOW}
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HLEN', KEYS[2]) > 0 then return 0 end
${BUMP}`

// KEYS: leases, claims. ARGV: claim ttl ms. The claimed instance, or false.
const CLAIM = `${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #ids == 0 then ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1) end
if #ids == 0 then return false end
redis.call('ZREM', KEYS[1], ids[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ids[1])
return ids[1]`

// KEYS: claims, instance hash. ARGV: instance.
const FINISH = 'if redis.call(\'HLEN\', KEYS[2]) == 0 then redis.call(\'ZREM\', KEYS[1], ARGV[1]) end return 1'

interface RegistryCommands {
  connRenew (leases: string, instance: string, ttlMs: number, first: string): Promise<number>
  connAdd (instance: string, user: string, version: string, conn: string, record: string, instanceId: string): Promise<number>
  connRemove (instance: string, user: string, version: string, conn: string): Promise<number>
  connClaim (leases: string, claims: string, ttlMs: number): Promise<string | null>
  connFinish (claims: string, instance: string, instanceId: string): Promise<number>
}

const LEASES = 'conn:leases'
const CLAIMS = 'conn:claims'
const instanceKey = (id: string) => `conn:instance:{${id}}`
const userKeys = (userId: string) => [`conn:user:{${userId}}`, `conn:user:{${userId}}:version`] as const

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisRegistry (redis: Redis): ConnectionRegistry {
  redis.defineCommand('connRenew', { numberOfKeys: 1, lua: RENEW })
  redis.defineCommand('connAdd', { numberOfKeys: 3, lua: ADD })
  redis.defineCommand('connRemove', { numberOfKeys: 3, lua: REMOVE })
  redis.defineCommand('connClaim', { numberOfKeys: 2, lua: CLAIM })
  redis.defineCommand('connFinish', { numberOfKeys: 2, lua: FINISH })
  const commands = redis as unknown as RegistryCommands
  const run = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op()
    } catch (err) {
      throw new TransientError(`Redis unavailable: connection registry ${what} failed (${(err as Error).message})`, { cause: err })
    }
  }
  const records = (hash: Record<string, string>) => Object.values(hash).map((v) => JSON.parse(v) as LiveConnection)

  return {
    kind: 'redis',
    async renew (instanceId, ttlMs, first = false) {
      return await run('lease', () => commands.connRenew(LEASES, instanceId, ttlMs, first ? '1' : '0')) === 1
    },
    async release (instanceId) { await run('release', () => redis.zrem(LEASES, instanceId)) },
    async add (conn) {
      const version = await run('add', () => commands.connAdd(instanceKey(conn.instanceId), ...userKeys(conn.userId), conn.connectionId, JSON.stringify(conn), conn.instanceId))
      return version > 0 ? { userId: conn.userId, status: 'online', version } : null
    },
    async has (instanceId, connectionId) { return await run('read', () => redis.hexists(instanceKey(instanceId), connectionId)) === 1 },
    async remove (instanceId, connectionId, userId) {
      const result = await run('remove', () => commands.connRemove(instanceKey(instanceId), ...userKeys(userId), connectionId))
      const change: StatusChange | null = result > 0 ? { userId, status: 'offline', version: result } : null
      return { removed: result >= 0, change }
    },
    async claimLapsed (claimTtlMs) {
      const instanceId = await run('claim', () => commands.connClaim(LEASES, CLAIMS, claimTtlMs))
      if (!instanceId) return null
      return { instanceId, connections: records(await run('read', () => redis.hgetall(instanceKey(instanceId)))) }
    },
    async finishClaim (instanceId) { await run('claim', () => commands.connFinish(CLAIMS, instanceKey(instanceId), instanceId)) },
    async connectionsOf (instanceId) { return records(await run('read', () => redis.hgetall(instanceKey(instanceId)))) },
    async statuses (userIds) {
      if (userIds.length === 0) return []
      const tx = redis.multi()
      for (const userId of userIds) { const [conns, version] = userKeys(userId); tx.hlen(conns).get(version) }
      const results = await run('read', () => tx.exec())
      const failed = results?.find(([err]) => err)
      if (!results || failed) throw new TransientError(`Redis: status read failed (${failed?.[0]?.message ?? 'transaction aborted'})`)
      return userIds.map((userId, i): UserStatus => {
        const count = Number(results?.[2 * i]?.[1] ?? 0)
        return { userId, status: count > 0 ? 'online' : 'offline', version: Number(results?.[2 * i + 1]?.[1] ?? 0) }
      })
    },
    async list (userId) {
      const where = await run('read', () => redis.hgetall(userKeys(userId)[0]))
      const byInstance = new Map<string, string[]>()
      for (const [connectionId, instanceId] of Object.entries(where)) byInstance.set(instanceId, [...byInstance.get(instanceId) ?? [], connectionId])
      const out: LiveConnection[] = []
      for (const [instanceId, ids] of byInstance) {
        const values = await run('read', () => redis.hmget(instanceKey(instanceId), ...ids))
        for (const v of values) if (v) out.push(JSON.parse(v) as LiveConnection)
      }
      return out.sort((a, b) => (a.connectedAt < b.connectedAt ? -1 : a.connectedAt > b.connectedAt ? 1 : 0))
    }
  }
}
