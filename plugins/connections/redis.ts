// The connection registry on Redis, shared by every instance. Per instance (hash tag: its id) a
// lease hash (generation, expiry, the run holding it, the reaper's claim) and a hash connection →
// record (with the generation it was recorded under); per user (hash tag: the user id) a hash
// connection → instance, a status version and the connections reapers ended. Times are Redis's own
// clock (instances' clocks may disagree). Every script touches the keys of one hash slot only, so
// it runs on Redis Cluster: the steps that span an instance and a user are ordered instead (the
// instance's record is written first and removed last), and `ended` fences a late add. A directory
// sorted set instance → when to look at it next tells reapers where to look; it is only a hint, the
// lease hash decides. Rules: registry.ts; docs/connections.md, "The lease".
import { randomUUID } from 'node:crypto'
import type { RedisClient } from '../external/redis.ts'
import { TransientError } from '../external/errors.ts'
import type { UserStatus } from '../../schemas/connections.ts'
import { ENDED_TTL_MS, byConnectedAt, live, type ConnectionRegistry, type LiveConnection, type RecordedConnection, type RegistryOptions, type StatusChange } from './registry.ts'

// ARGV[1] is the time in ms, or '' for Redis's clock (tests inject theirs).
const NOW = `local now = tonumber(ARGV[1])
if not now then local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end`
// A lease hash outlives its last use by a week, so a generation number is never handed out twice.
const KEEP_MS = 7 * 24 * 3600 * 1000
const LIVE = `local gen, expiry = unpack(redis.call('HMGET', KEYS[1], 'gen', 'until'))
local live = (gen and tonumber(expiry) > now) and tonumber(gen) or nil`

// When a reaper should look at the instance next (its directory score): now while earlier
// generations wait to be claimed, else when its lease or a reaper's claim on it lapses. KEYS[1] = lease.
const LOOK_AT = `
local function lookAt ()
  local f = redis.call('HMGET', KEYS[1], 'until', 'pending', 'claimUntil')
  if f[2] then return now end
  local at = tonumber(f[1]) or now
  if f[3] and tonumber(f[3]) < at then at = tonumber(f[3]) end
  return at
end`

// KEYS: lease, instance hash. ARGV: now, run, ttl, takeover. {1, gen, look at} or {0, run holding it, its last renewal}.
const START = `${NOW}
${LIVE}
${LOOK_AT}
local run, renewed = unpack(redis.call('HMGET', KEYS[1], 'run', 'renewed'))
if live and run ~= ARGV[2] and renewed ~= ARGV[4] then return {0, run, renewed} end
local next = math.max(tonumber(gen or '0') + 1, now)
redis.call('HSET', KEYS[1], 'gen', next, 'until', now + tonumber(ARGV[3]), 'run', ARGV[2], 'renewed', now)
if redis.call('HLEN', KEYS[2]) > 0 then redis.call('HSET', KEYS[1], 'pending', 1) end
redis.call('PEXPIRE', KEYS[1], ${KEEP_MS})
return {1, next, lookAt()}`

// KEYS: lease. ARGV: now, gen, ttl. When to look at the instance next, or 0 when the generation is over.
const RENEW = `${NOW}
${LIVE}
${LOOK_AT}
if live ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[3]), 'renewed', now)
redis.call('PEXPIRE', KEYS[1], ${KEEP_MS})
return lookAt()`

// KEYS: lease. ARGV: now, gen.
const RELEASE = `${NOW}
if tonumber(redis.call('HGET', KEYS[1], 'gen')) == tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'until', 0) end
return 1`

// KEYS: lease, instance hash. ARGV: now, gen, connection, record. 1 recorded, 0 the generation is over.
const RECORD = `${NOW}
${LIVE}
if live ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return 1`

// A status version: above the last one and the clock in ms, so it keeps growing even after the
// version key expired (a quiet user's key does not stay forever). KEYS[2] = version key.
const BUMP = `
local version = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, now)
redis.call('SET', KEYS[2], version, 'PX', ${KEEP_MS})
return version`

// KEYS: user hash, version, ended. ARGV: now, connection, instance. -1 ended, 0 recorded, else the new version (came online).
const ONLINE = `${NOW}
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return -1 end
local before = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if before > 0 then return 0 end
${BUMP}`

// KEYS: user hash, version, ended. ARGV: now, connection, reaped (1|0). -1 not recorded, 0 removed, else the new version (went offline).
const OFFLINE = `${NOW}
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[3], ARGV[2], now)
  redis.call('PEXPIRE', KEYS[3], ${ENDED_TTL_MS})
end
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return -1 end
if redis.call('HLEN', KEYS[1]) > 0 then return 0 end
${BUMP}`

// KEYS: lease, instance hash. ARGV: now, ttl, token. {1, claim expiry, records of lapsed
// generations…} claimed; {0, when to look again} nothing to claim now; {2} nothing left of the instance.
const CLAIM = `${NOW}
${LIVE}
${LOOK_AT}
local claimUntil = tonumber(redis.call('HGET', KEYS[1], 'claimUntil'))
if claimUntil and claimUntil > now then return {0, claimUntil} end
local out = {1, now + tonumber(ARGV[2])}
local all = redis.call('HGETALL', KEYS[2])
for i = 2, #all, 2 do
  if tonumber(cjson.decode(all[i]).gen) ~= live then out[#out + 1] = all[i] end
end
redis.call('HDEL', KEYS[1], 'pending')
if #out > 2 then
  redis.call('HSET', KEYS[1], 'claim', ARGV[3], 'claimUntil', out[2])
  redis.call('PEXPIRE', KEYS[1], ${KEEP_MS})
  return out
end
if live then return {0, lookAt()} end
return {2}`

// KEYS: lease. ARGV: now, ttl, token. 1 extended, 0 the claim is not the caller's any more.
const EXTEND = `${NOW}
if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'claimUntil', now + tonumber(ARGV[2]))
return 1`

// KEYS: lease. ARGV: now, token.
const FINISH = 'if redis.call(\'HGET\', KEYS[1], \'claim\') == ARGV[2] then redis.call(\'HDEL\', KEYS[1], \'claim\', \'claimUntil\') end return 1'

// KEYS: directory. ARGV: now, limit. Instances to look at now: id, score, id, score…
const DUE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))`

// KEYS: directory. ARGV: instance, score. Forgets the instance unless someone wrote it since.
const FORGET = 'if tonumber(redis.call(\'ZSCORE\', KEYS[1], ARGV[1])) == tonumber(ARGV[2]) then redis.call(\'ZREM\', KEYS[1], ARGV[1]) end return 1'

interface RegistryCommands {
  connStart (lease: string, instance: string, now: string, run: string, ttlMs: number, takeover: string): Promise<[number, number | string, number | string]>
  connRenew (lease: string, now: string, gen: number, ttlMs: number): Promise<number>
  connRelease (lease: string, now: string, gen: number): Promise<number>
  connRecord (lease: string, instance: string, now: string, gen: number, conn: string, record: string): Promise<number>
  connOnline (user: string, version: string, ended: string, now: string, conn: string, instanceId: string): Promise<number>
  connOffline (user: string, version: string, ended: string, now: string, conn: string, reaped: string): Promise<number>
  connClaim (lease: string, instance: string, now: string, ttlMs: number, token: string): Promise<[number, ...Array<string | number>]>
  connExtend (lease: string, now: string, ttlMs: number, token: string): Promise<number>
  connFinish (lease: string, now: string, token: string): Promise<number>
  connDue (directory: string, now: string, limit: number): Promise<string[]>
  connForget (directory: string, instance: string, score: string): Promise<number>
}

const DIRECTORY = 'conn:instances'
const instanceKeys = (id: string) => [`conn:instance:{${id}}:lease`, `conn:instance:{${id}}`] as const
const userKeys = (userId: string) => [`conn:user:{${userId}}`, `conn:user:{${userId}}:version`, `conn:user:{${userId}}:ended`] as const

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisRegistry (redis: RedisClient, options: RegistryOptions = {}): ConnectionRegistry {
  const scripts: Array<[string, number, string]> = [
    ['connStart', 2, START], ['connRenew', 1, RENEW], ['connRelease', 1, RELEASE], ['connRecord', 2, RECORD], ['connOnline', 3, ONLINE],
    ['connOffline', 3, OFFLINE], ['connClaim', 2, CLAIM], ['connExtend', 1, EXTEND], ['connFinish', 1, FINISH], ['connDue', 1, DUE], ['connForget', 1, FORGET]
  ]
  for (const [name, numberOfKeys, lua] of scripts) redis.defineCommand(name, { numberOfKeys, lua })
  const commands = redis as unknown as RegistryCommands
  const now = () => (options.now ? String(options.now()) : '')
  const run = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op()
    } catch (err) {
      throw new TransientError(`Redis unavailable: connection registry ${what} failed (${(err as Error).message})`, { cause: err })
    }
  }
  const records = (values: Array<string | number>) => values.map((v) => JSON.parse(String(v)) as RecordedConnection)
  // The directory says when to look at an instance next: a hint for reapers (lower is only an extra look).
  const look = (instanceId: string, at: number) => run('directory', () => redis.zadd(DIRECTORY, at, instanceId))

  async function claimOne (instanceId: string, claimTtlMs: number, seen?: string) {
    const token = randomUUID()
    const [state, ...rest] = await run('claim', () => commands.connClaim(...instanceKeys(instanceId), now(), claimTtlMs, token))
    if (state === 1) {
      await look(instanceId, Number(rest[0])) // another reaper takes over if this one dies
      return { instanceId, token, connections: records(rest.slice(1)) }
    }
    if (state === 0) await look(instanceId, Number(rest[0]))
    else if (seen !== undefined) await run('directory', () => commands.connForget(DIRECTORY, instanceId, seen))
    return null
  }

  return {
    kind: 'redis',
    async start (instanceId, runId, ttlMs, takeover) {
      const [ok, a, b] = await run('lease', () => commands.connStart(...instanceKeys(instanceId), now(), runId, ttlMs, takeover === undefined ? '' : String(takeover)))
      if (ok !== 1) return { heldBy: String(a), renewedAt: Number(b) }
      await look(instanceId, Number(b))
      return { gen: Number(a) }
    },
    async renew (instanceId, gen, ttlMs) {
      const at = await run('lease', () => commands.connRenew(instanceKeys(instanceId)[0], now(), gen, ttlMs))
      if (at === 0) return false
      await look(instanceId, at)
      return true
    },
    async release (instanceId, gen) {
      await run('release', () => commands.connRelease(instanceKeys(instanceId)[0], now(), gen))
      await look(instanceId, 0)
    },
    async add (conn) {
      const [lease, instance] = instanceKeys(conn.instanceId)
      if (await run('add', () => commands.connRecord(lease, instance, now(), conn.gen, conn.connectionId, JSON.stringify(conn))) === 0) return { recorded: false, why: 'lease_lost' }
      const version = await run('add', () => commands.connOnline(...userKeys(conn.userId), now(), conn.connectionId, conn.instanceId))
      if (version < 0) {
        await run('add', () => redis.hdel(instance, conn.connectionId))
        return { recorded: false, why: 'ended' }
      }
      return { recorded: true, change: version > 0 ? { userId: conn.userId, status: 'online', version } : null }
    },
    async has (instanceId, connectionId) { return await run('read', () => redis.hexists(instanceKeys(instanceId)[1], connectionId)) === 1 },
    async remove (instanceId, connectionId, userId, reaped = false) {
      const result = await run('remove', () => commands.connOffline(...userKeys(userId), now(), connectionId, reaped ? '1' : '0'))
      const removed = await run('remove', () => redis.hdel(instanceKeys(instanceId)[1], connectionId))
      const change: StatusChange | null = result > 0 ? { userId, status: 'offline', version: result } : null
      return { removed: removed > 0 || result >= 0, change }
    },
    async claim (claimTtlMs, only) {
      if (only !== undefined) return await claimOne(only, claimTtlMs)
      const due = await run('claim', () => commands.connDue(DIRECTORY, now(), 20))
      for (let i = 0; i < due.length; i += 2) {
        const claimed = await claimOne(due[i], claimTtlMs, due[i + 1])
        if (claimed) return claimed
      }
      return null
    },
    async extendClaim (claim, claimTtlMs) { return await run('claim', () => commands.connExtend(instanceKeys(claim.instanceId)[0], now(), claimTtlMs, claim.token)) === 1 },
    async finishClaim (claim) {
      await run('claim', () => commands.connFinish(instanceKeys(claim.instanceId)[0], now(), claim.token))
      await look(claim.instanceId, 0) // the next pass sees what is left of it (its live lease, or nothing)
    },
    async connectionsOf (instanceId) { return records(Object.values(await run('read', () => redis.hgetall(instanceKeys(instanceId)[1])))) },
    async statuses (userIds) {
      // one transaction per user (its keys share a slot), all at once
      return await Promise.all(userIds.map(async (userId): Promise<UserStatus> => {
        const [conns, version] = userKeys(userId)
        const results = await run('read', () => redis.multi().hlen(conns).get(version).exec())
        const failed = results?.find(([err]) => err)
        if (!results || failed) throw new TransientError(`Redis: status read failed (${failed?.[0]?.message ?? 'transaction aborted'})`)
        return { userId, status: Number(results[0][1]) > 0 ? 'online' : 'offline', version: Number(results[1][1] ?? 0) }
      }))
    },
    async list (userId) {
      const where = await run('read', () => redis.hgetall(userKeys(userId)[0]))
      const byInstance = new Map<string, string[]>()
      for (const [connectionId, instanceId] of Object.entries(where)) byInstance.set(instanceId, [...byInstance.get(instanceId) ?? [], connectionId])
      const out: LiveConnection[] = []
      for (const [instanceId, ids] of byInstance) {
        const values = await run('read', () => redis.hmget(instanceKeys(instanceId)[1], ...ids))
        for (const v of values) if (v) out.push(live(JSON.parse(v) as RecordedConnection))
      }
      return out.sort(byConnectedAt)
    }
  }
}
