// The shared recovery log on Redis. Per channel: a hash {epoch, floor} and a list of "offset frame"
// entries (newest last, trimmed to `size`). Per partition (epoch): a hash {from, high}, the offsets
// the writer saw with no hole. Each write is one Lua script, so the window and the list never
// disagree. Keys expire after `ttlSeconds` without writes; an expired channel is unknown (no proof).
import type { Redis } from 'ioredis'
import { TransientError } from '../errors.ts'
import { before } from '../../fanout/recovery.ts'
import type { ChannelWindow, RecoveryLog, RecoveryLogOptions } from './recovery-log.ts'

// KEYS: channel meta, channel events, partition. ARGV: epoch, offset, offset - 1, frame, size, ttl.
const APPEND = `
local o = tonumber(ARGV[2])
local h = redis.call('HGET', KEYS[3], 'high')
if h and o <= tonumber(h) then return 0 end
if not h or o ~= tonumber(h) + 1 then redis.call('HSET', KEYS[3], 'from', ARGV[2]) end
redis.call('HSET', KEYS[3], 'high', ARGV[2])
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  -- new channel, expired, or a new epoch: nothing before this event is known
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'floor', ARGV[3])
end
redis.call('RPUSH', KEYS[2], ARGV[2] .. ' ' .. ARGV[4])
local extra = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[5])
if extra > 0 then
  local dropped = redis.call('LINDEX', KEYS[2], extra - 1)
  redis.call('HSET', KEYS[1], 'floor', string.sub(dropped, 1, string.find(dropped, ' ', 1, true) - 1))
  redis.call('LTRIM', KEYS[2], extra, -1)
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[6]) end
return 1`

// KEYS: channel meta, channel events. ARGV: the partition key without the epoch (prefix included).
const READ = `
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'floor')
if not meta[1] then return false end
local p = redis.call('HMGET', ARGV[1] .. meta[1], 'from', 'high')
if not p[2] then return false end
return {meta[1], meta[2], p[1], p[2], redis.call('LRANGE', KEYS[2], 0, -1)}`

interface RecoveryCommands {
  recoveryAppend (meta: string, events: string, partition: string, epoch: string, offset: string, floor: string, frame: string, size: number, ttl: number): Promise<number>
  recoveryRead (meta: string, events: string, partitionPrefix: string): Promise<[string, string, string, string, string[]] | null>
}

const keys = (channel: string) => ({ meta: `recovery:{${channel}}`, events: `recovery:{${channel}}:events` })
const PARTITION = 'recovery:partition:'

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisRecoveryLog (redis: Redis, options: RecoveryLogOptions): RecoveryLog {
  redis.defineCommand('recoveryAppend', { numberOfKeys: 3, lua: APPEND })
  redis.defineCommand('recoveryRead', { numberOfKeys: 2, lua: READ })
  const commands = redis as unknown as RecoveryCommands
  const prefix = redis.options.keyPrefix ?? ''

  return {
    kind: 'redis',
    async append (channel, position, frame) {
      const { meta, events } = keys(channel)
      try {
        await commands.recoveryAppend(meta, events, `${PARTITION}${position.epoch}`, position.epoch, position.offset, before(position.offset), frame, options.size, options.ttlSeconds)
      } catch (err) {
        throw new TransientError(`Redis unavailable: recovery log append failed (${(err as Error).message})`, { cause: err })
      }
    },
    async appendBatch (entries) {
      if (entries.length === 0) return
      const pipeline = redis.pipeline() as unknown as RecoveryCommands & { exec (): Promise<Array<[Error | null, unknown]> | null> }
      for (const { channel, position, frame } of entries) {
        const { meta, events } = keys(channel)
        pipeline.recoveryAppend(meta, events, `${PARTITION}${position.epoch}`, position.epoch, position.offset, before(position.offset), frame, options.size, options.ttlSeconds)
      }
      let results
      try {
        results = await pipeline.exec()
      } catch (err) {
        throw new TransientError(`Redis unavailable: recovery log append failed (${(err as Error).message})`, { cause: err })
      }
      const failed = results?.find(([err]) => err)?.[0]
      if (!results || failed) throw new TransientError(`Redis unavailable: recovery log append failed (${failed?.message ?? 'no reply'})`, { cause: failed })
    },
    async read (channel): Promise<ChannelWindow | null> {
      const { meta, events } = keys(channel)
      const reply = await commands.recoveryRead(meta, events, `${prefix}${PARTITION}`)
      if (!reply) return null
      const [epoch, floor, from, high, entries] = reply
      const partitionFloor = BigInt(from) - 1n
      return {
        epoch,
        // a hole in the partition (or an expired partition window) limits every channel's proof
        floor: (BigInt(floor) > partitionFloor ? BigInt(floor) : partitionFloor).toString(),
        high,
        events: entries.map((entry) => {
          const space = entry.indexOf(' ')
          return { offset: entry.slice(0, space), frame: entry.slice(space + 1) }
        })
      }
    }
  }
}
