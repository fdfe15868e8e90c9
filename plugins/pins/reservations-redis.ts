// Pin reservations in Redis, shared by every instance: one hash per channel, `pins:{<channel>}`
// (one hash slot), pinned message id → its latest version, and the field `~clock` (message ids are
// hex: no clash) with the last version issued, whose presence says the places are loaded. Each
// call is one Lua script. No TTL: the places are state; if Redis loses them they are loaded again
// from the store (docs/chat-state.md).
import { redisCall, type RedisClient } from '../external/redis.ts'
import type { PinReservation, PinReservations, UnpinStamp } from './reservations.ts'

const CLOCK = '~clock'

// Versions are integers up to 2^53 (microseconds): written with %.0f, never Lua's %.14g.
const TICK = `
local clock = redis.call('HGET', KEYS[1], '${CLOCK}')
if not clock then return nil end
local version = math.max(tonumber(clock) + 1, tonumber(ARGV[#ARGV]))
redis.call('HSET', KEYS[1], '${CLOCK}', string.format('%.0f', version))
return version`

// KEYS: places. ARGV: message, max, now µs. Returns {outcome, version}.
const PIN = `
local function tick () ${TICK} end
if redis.call('HEXISTS', KEYS[1], '${CLOCK}') == 0 then return {'unloaded'} end
local held = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if not held and redis.call('HLEN', KEYS[1]) - 1 >= tonumber(ARGV[2]) then return {'full'} end
local version = string.format('%.0f', tick())
redis.call('HSET', KEYS[1], ARGV[1], version)
if held then return {'held', version} end
return {'new', version}`

// KEYS: places. ARGV: message, now µs. Returns {outcome, version}.
const STAMP = `
local function tick () ${TICK} end
if redis.call('HEXISTS', KEYS[1], '${CLOCK}') == 0 then return {'unloaded'} end
local version = string.format('%.0f', tick())
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'absent', version} end
redis.call('HSET', KEYS[1], ARGV[1], version)
return {'held', version}`

// KEYS: places. ARGV: message, version.
const RELEASE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])`

// KEYS: places. ARGV: clock, then message, version pairs.
const LOAD = `
if redis.call('HEXISTS', KEYS[1], '${CLOCK}') == 1 then return 0 end
redis.call('HSET', KEYS[1], '${CLOCK}', ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1`

// KEYS: places.
const COUNT = `
if redis.call('HEXISTS', KEYS[1], '${CLOCK}') == 0 then return 0 end
return redis.call('HLEN', KEYS[1]) - 1`

interface PinCommands {
  pinsReserve (key: string, messageId: string, max: number, now: number): Promise<[string, string?]>
  pinsStamp (key: string, messageId: string, now: number): Promise<[string, string?]>
  pinsRelease (key: string, messageId: string, version: string): Promise<number>
  pinsLoad (key: string, ...args: string[]): Promise<number>
  pinsCount (key: string): Promise<number>
}

const keyOf = (channelId: string) => `pins:{${channelId}}`

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisPinReservations (redis: RedisClient): PinReservations {
  for (const [name, lua] of [['pinsReserve', PIN], ['pinsStamp', STAMP], ['pinsRelease', RELEASE], ['pinsLoad', LOAD], ['pinsCount', COUNT]]) {
    redis.defineCommand(name, { numberOfKeys: 1, lua })
  }
  const commands = redis as unknown as PinCommands
  const run = <T>(what: string, op: () => Promise<T>): Promise<T> => redisCall(redis, `pin ${what}`, op)
  return {
    kind: 'redis',
    async pin (channelId, messageId, max, nowMicros): Promise<PinReservation> {
      const [outcome, version] = await run('reservation', () => commands.pinsReserve(keyOf(channelId), messageId, max, Math.floor(nowMicros)))
      if (outcome === 'new' || outcome === 'held') return { outcome, version: Number(version) }
      return { outcome: outcome as 'full' | 'unloaded' }
    },
    async stamp (channelId, messageId, nowMicros): Promise<UnpinStamp> {
      const [outcome, version] = await run('stamp', () => commands.pinsStamp(keyOf(channelId), messageId, Math.floor(nowMicros)))
      if (outcome === 'held' || outcome === 'absent') return { outcome, version: Number(version) }
      return { outcome: 'unloaded' }
    },
    async release (channelId, messageId, version) {
      return await run('release', () => commands.pinsRelease(keyOf(channelId), messageId, String(version))) === 1
    },
    async load (channelId, pinned) {
      const clock = Math.max(0, ...pinned.values())
      await run('load', () => commands.pinsLoad(keyOf(channelId), String(clock), ...[...pinned].flatMap(([id, v]) => [id, String(v)])))
    },
    async count (channelId) { return await run('count', () => commands.pinsCount(keyOf(channelId))) }
  }
}
