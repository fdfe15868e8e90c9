// The channels' unread counters mirrored in Redis (docs/chat-state.md, "Storage"): MongoDB keeps
// the truth, and an unread request reads a user's channels' counters here, one pipelined GET per
// node, instead of from `read_channels` (FerretDB reads that whole collection for an `$in`). The
// index handler writes a batch's counters here after the store: a failed write fails the batch,
// which is retried and writes them again, so the mirror never stays behind the store for good. A
// counter the mirror lacks (expired, evicted, Redis restarted) is read from the store.
import { redisPipeline, type RedisClient } from '../external/redis.ts'
import type { ChannelCounter } from './sequence.ts'

/** A mirrored counter lives this long after its channel's last indexed change (then it is read from the store). */
export const MIRROR_TTL_SECONDS = 7 * 24 * 3600

const keyOf = (channelId: string) => `readstate:{${channelId}}:counter`

// KEYS: the counter. ARGV: its JSON, epoch, last, ttl. A counter of the same epoch that has taken
// `last` already (a late or replayed write) is kept: the mirror never goes back.
const SET = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, c = pcall(cjson.decode, current)
  if ok and c.epoch == ARGV[2] and tonumber(c.last) >= tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
return 1`

export interface CounterMirror {
  /** Writes the counters (each only over an older one of its epoch): one round trip per node. */
  write (counters: ChannelCounter[]): Promise<void>
  /** The mirrored counters of those channels; a channel it lacks is absent from the map. */
  read (channelIds: string[]): Promise<Map<string, ChannelCounter>>
}

interface MirrorCommands { readStateCounterSet (key: string, json: string, epoch: string, last: number, ttl: number): unknown }

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisCounterMirror (redis: RedisClient, { ttlSeconds = MIRROR_TTL_SECONDS }: { ttlSeconds?: number } = {}): CounterMirror {
  redis.defineCommand('readStateCounterSet', { numberOfKeys: 1, lua: SET })
  return {
    async write (counters) {
      if (counters.length === 0) return
      await redisPipeline(redis, 'unread counters write', (pipeline) => {
        const commands = pipeline as unknown as MirrorCommands
        for (const c of counters) commands.readStateCounterSet(keyOf(c.channelId), JSON.stringify(c), c.epoch, c.last, ttlSeconds)
      })
    },
    async read (channelIds) {
      if (channelIds.length === 0) return new Map()
      const replies = await redisPipeline(redis, 'unread counters read', (pipeline) => {
        for (const channelId of channelIds) pipeline.get(keyOf(channelId))
      })
      const found = new Map<string, ChannelCounter>()
      replies.forEach((reply, i) => { if (typeof reply === 'string') found.set(channelIds[i], JSON.parse(reply) as ChannelCounter) })
      return found
    }
  }
}
