// The shared recovery log on Redis. Per partition epoch (a Kafka partition in one cluster's life),
// in one hash slot (`{epoch}`): a hash {from, high}, the offsets the writer saw with no hole, and per
// channel of that partition a hash {floor}, a list of "offset frame" entries (newest last, trimmed
// to `size`) and a hash offset → revision of the channel's edits and deletions (applied to the
// earlier frames of their message when read, so a replay serves current state). Each write is one
// Lua script over keys of that one slot, so the window, the list and the revisions never disagree,
// on one Redis and on a Redis Cluster alike (docs/redis-keys.md). Beside them, per channel, the
// epoch of its latest write (for a read without a range). Keys expire after `ttlSeconds` without
// writes; an expired channel is unknown (no proof).
import { redisCall, redisPipeline, type RedisClient } from '../external/redis.ts'
import { before, revise, type Revision } from './plan.ts'
import type { ChannelWindow, RecoveredEvent, RecoveryLog, RecoveryLogOptions } from './recovery-log.ts'

// KEYS: channel meta, channel events, partition, channel revisions. ARGV: offset, offset - 1, frame,
// size, ttl, revision JSON ('' for a new message).
const APPEND = `
local o = tonumber(ARGV[1])
local h = redis.call('HGET', KEYS[3], 'high')
if h and o <= tonumber(h) then return 0 end
if not h or o ~= tonumber(h) + 1 then redis.call('HSET', KEYS[3], 'from', ARGV[1]) end
redis.call('HSET', KEYS[3], 'high', ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- new channel in this epoch, or expired: nothing before this event is known
  redis.call('DEL', KEYS[2], KEYS[4])
  redis.call('HSET', KEYS[1], 'floor', ARGV[2])
end
redis.call('RPUSH', KEYS[2], ARGV[1] .. ' ' .. ARGV[3])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[6]) end
local extra = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then
  -- a revision lives as long as its own event: it only ever changes earlier frames
  local offset
  for _, dropped in ipairs(redis.call('LRANGE', KEYS[2], 0, extra - 1)) do
    offset = string.sub(dropped, 1, string.find(dropped, ' ', 1, true) - 1)
    redis.call('HDEL', KEYS[4], offset)
  end
  redis.call('HSET', KEYS[1], 'floor', offset)
  redis.call('LTRIM', KEYS[2], extra, -1)
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return 1`

// KEYS: channel meta, channel events, channel revisions, partition. ARGV: the range: since offset
// ('' = read everything), upTo ('' = the high), maxBytes ('' = no limit). Answers {floor, from,
// high, entries, revisions (offset, json, ...), verdict}: verdict 'unproven' (the log cannot prove
// the range: nothing read) or 'over' (the range's frames exceed maxBytes: nothing returned), else ''.
const READ = `
local floor = redis.call('HGET', KEYS[1], 'floor')
if not floor then return false end
local p = redis.call('HMGET', KEYS[4], 'from', 'high')
if not p[2] then return false end
if ARGV[1] == '' then
  return {floor, p[1], p[2], redis.call('LRANGE', KEYS[2], 0, -1), redis.call('HGETALL', KEYS[3]), ''}
end
local since = tonumber(ARGV[1])
if since < math.max(tonumber(floor), tonumber(p[1]) - 1) then
  return {floor, p[1], p[2], {}, {}, 'unproven'}
end
local top = tonumber(p[2])
if ARGV[2] ~= '' and tonumber(ARGV[2]) < top then top = tonumber(ARGV[2]) end
local function offset_of (entry) return tonumber(string.sub(entry, 1, string.find(entry, ' ', 1, true) - 1)) end
-- entries are in offset order: find the first one after since
local lo, hi = 0, redis.call('LLEN', KEYS[2])
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  if offset_of(redis.call('LINDEX', KEYS[2], mid)) > since then hi = mid else lo = mid + 1 end
end
local budget = tonumber(ARGV[3])
local entries, bytes = {}, 0
for _, entry in ipairs(redis.call('LRANGE', KEYS[2], lo, -1)) do
  local space = string.find(entry, ' ', 1, true)
  if tonumber(string.sub(entry, 1, space - 1)) > top then break end
  bytes = bytes + #entry - space
  if budget and bytes > budget then return {floor, p[1], p[2], {}, {}, 'over'} end
  entries[#entries + 1] = entry
end
local revisions = {}
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  if tonumber(all[i]) > since then
    revisions[#revisions + 1] = all[i]
    revisions[#revisions + 1] = all[i + 1]
  end
end
return {floor, p[1], p[2], entries, revisions, ''}`

type ReadReply = [floor: string, from: string, high: string, entries: string[], revisions: string[], verdict: '' | 'unproven' | 'over']

interface RecoveryCommands {
  recoveryAppend (meta: string, events: string, partition: string, revisions: string, offset: string, floor: string, frame: string, size: number, ttl: number, revision: string): Promise<number>
  recoveryRead (meta: string, events: string, revisions: string, partition: string, sinceOffset: string, upTo: string, maxBytes: string): Promise<ReadReply | null>
}

/** The keys of a channel in an epoch: all in the epoch's hash slot, beside its partition window. */
export const recoveryKeys = (epoch: string, channel: string) => {
  const base = `recovery:{${epoch}}`
  const ch = `${base}:channel:{${channel}}`
  return { partition: `${base}:partition`, meta: ch, events: `${ch}:events`, revisions: `${ch}:revisions` }
}
/** The epoch of the channel's latest write (in the channel's own slot). */
export const latestEpochKey = (channel: string) => `recovery:latest:{${channel}}`

/** `redis` is the app's client (its keyPrefix applies); it is not closed here. */
export function createRedisRecoveryLog (redis: RedisClient, options: RecoveryLogOptions): RecoveryLog {
  redis.defineCommand('recoveryAppend', { numberOfKeys: 4, lua: APPEND })
  redis.defineCommand('recoveryRead', { numberOfKeys: 4, lua: READ })
  const commands = redis as unknown as RecoveryCommands
  const appendArgs = (channel: string, position: { epoch: string, offset: string }, frame: string, revision?: Revision | null) => {
    const k = recoveryKeys(position.epoch, channel)
    return [k.meta, k.events, k.partition, k.revisions, position.offset, before(position.offset), frame, options.size, options.ttlSeconds, revision ? JSON.stringify(revision) : ''] as const
  }
  type Pipeline = { recoveryAppend: (...args: Parameters<RecoveryCommands['recoveryAppend']>) => Pipeline, set: (key: string, value: string, ex: 'EX', seconds: number) => Pipeline }

  const log: RecoveryLog = {
    kind: 'redis',
    async append (channel, position, frame, revision) {
      await log.appendBatch([{ channel, position, frame, revision }])
    },
    async appendBatch (entries) {
      if (entries.length === 0) return
      // the latest epoch of each channel: one write per channel per batch, not per event
      const latest = new Map<string, string>()
      for (const { channel, position } of entries) latest.set(channel, position.epoch)
      await redisPipeline(redis, 'recovery log append', (p) => {
        const pipeline = p as unknown as Pipeline
        for (const { channel, position, frame, revision } of entries) pipeline.recoveryAppend(...appendArgs(channel, position, frame, revision))
        for (const [channel, epoch] of latest) pipeline.set(latestEpochKey(channel), epoch, 'EX', options.ttlSeconds)
      })
    },
    async read (channel, range): Promise<ChannelWindow | null> {
      // without a range, the epoch of the channel's latest write (one more round trip; replays always have one)
      const epoch = range?.since.epoch ?? await redisCall(redis, 'recovery log read', () => redis.get(latestEpochKey(channel)))
      if (epoch === null) return null
      const { meta, events, revisions, partition } = recoveryKeys(epoch, channel)
      const maxBytes = range?.maxBytes !== undefined && Number.isFinite(range.maxBytes) ? String(range.maxBytes) : ''
      const reply = await redisCall(redis, 'recovery log read', () => commands.recoveryRead(meta, events, revisions, partition, range?.since.offset ?? '', range?.upTo ?? '', maxBytes))
      if (!reply) return null
      const [channelFloor, from, high, entries, revised, verdict] = reply
      const partitionFloor = BigInt(from) - 1n
      // a hole in the partition (or an expired partition window) limits every channel's proof
      const floor = (BigInt(channelFloor) > partitionFloor ? BigInt(channelFloor) : partitionFloor).toString()
      if (verdict === 'unproven') return { epoch, floor, high, events: [] }
      if (verdict === 'over') return { epoch, floor: high, high, events: [], overBudget: true }
      const list = applyRevisions(entries.map((entry) => {
        const space = entry.indexOf(' ')
        return { offset: entry.slice(0, space), frame: entry.slice(space + 1) }
      }), revised)
      if (!range) return { epoch, floor, high, events: list }
      const top = range.upTo !== undefined && BigInt(range.upTo) < BigInt(high) ? range.upTo : high
      return { epoch, floor: BigInt(range.since.offset) < BigInt(top) ? range.since.offset : top, high: top, events: list }
    }
  }
  return log
}

/**
 * The frames as their messages stand after the revisions (offset, JSON, … as stored): a message
 * deleted at any later offset is deleted in every frame; an edited one carries its latest text in
 * every frame before that edit.
 */
function applyRevisions (events: RecoveredEvent[], flat: string[]): RecoveredEvent[] {
  if (flat.length === 0) return events
  const latest = new Map<string, { at: bigint, revision: Revision }>()
  for (let i = 0; i < flat.length; i += 2) {
    const at = BigInt(flat[i])
    const revision = JSON.parse(flat[i + 1]) as Revision
    const known = latest.get(revision.id)
    // a deletion is final; otherwise the newest edit is the current text
    if (!known || (!known.revision.deleted && (revision.deleted || at > known.at))) latest.set(revision.id, { at, revision })
  }
  return events.map((event) => {
    const id = messageIdOf(event.frame)
    const change = id === undefined ? undefined : latest.get(id)
    if (!change || BigInt(event.offset) >= change.at) return event
    return { offset: event.offset, frame: revise(event.frame, change.revision) ?? event.frame }
  })
}

function messageIdOf (frame: string): string | undefined {
  try {
    const id = (JSON.parse(frame) as { data?: { id?: unknown } }).data?.id
    return typeof id === 'string' ? id : undefined
  } catch {
    return undefined
  }
}
