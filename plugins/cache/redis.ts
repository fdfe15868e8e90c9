// The message cache on Redis (ioredis). Per channel: a sorted set of ids (all scores 0, so ordered
// by id: ObjectId hex sorts by time), a hash id → message JSON, a sorted set of removed ids
// (tombstones, at most `tombstones`, lowest ids dropped first), a meta hash (the range the entry
// covers: `complete` or `floor`), a hash of changes to uncached messages (applied, and cleared, by
// the fill that brings the message; at most `parked`, lowest ids dropped first) and a hash id →
// position of the last edit applied to a message (cached or parked), so a redelivered older edit
// changes nothing.
// Every write is one Lua script, so concurrent handlers and fills never interleave.
import { deletedParent, inChannel, type HistoryMessage, type Message } from '../../schemas/message.ts'
import type { MessageChange } from '../store/store.ts'
import { redisCall, redisPipeline, redisWaitReplicas, type RedisClient, type ReplicaWait } from '../external/redis.ts'
import { CACHE_DEFAULTS, emptied, revised, type CacheOptions, type CacheStats, type MessageCache } from './cache.ts'

// KEYS of every write: ids, msgs, removed, meta, patched, versions. The range an entry covers (meta):
// `complete` (the whole history) or `floor`: every message with an id at or above it is cached or
// was removed, and nothing below it is cached. `cut` drops what is below a new floor;
// `trim_and_expire` keeps the newest `recent` (the floor follows) and refreshes the TTL of every key
// (the channel's entry lives and expires as one).
const TRIM_AND_EXPIRE = `
local function cut(floor)
  for _, id in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], '-', '(' .. floor)) do
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[6], id)
  end
  redis.call('ZREMRANGEBYLEX', KEYS[1], '-', '(' .. floor)
  redis.call('HSET', KEYS[4], 'floor', floor)
end
local function trim_and_expire(recent, ttl)
  local extra = redis.call('ZCARD', KEYS[1]) - recent
  if extra > 0 then
    cut(redis.call('ZRANGE', KEYS[1], extra, extra)[1])
    redis.call('HDEL', KEYS[4], 'complete')
  end
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
end
`

// JSON is merged in JavaScript (Lua's cjson turns empty arrays into objects and rounds numbers);
// the scripts that write a merge check that what it was computed from is still there (compare and
// set) and answer 0 otherwise, and the caller reads and merges again.
const scripts = {
  // ARGV: recent, ttl, tombstones kept, parked patches kept, then the changes of one channel, in order:
  //   'c', id, pending patch read ('' = none), json with that patch applied      a new message
  //   'u', id, epoch, offset ('' '' = not positioned: a reaction patch), cached json read ('' = not
  //        cached), its patched version, pending patch read, the merged pending patch   an edit
  //   'd', id, cached json read ('' = not cached), the placeholder it leaves ('' = none: removed)   a deletion
  // A created message is added unless cached or removed (its pending changes are then done), and
  // only within the entry's range: below its floor a message between it and the floor may be missing
  // (a fill from a store ahead of this handler set the floor); a channel with no range starts one.
  // A deleted parent with replies stays as its placeholder (computed here from its cached JSON).
  // An edit newer than the last one applied patches a cached message in place (nothing stays pending
  // for it) or an uncached one's pending changes; a removed message takes nothing. Answers
  // {1, tombstones dropped, pending patches dropped} (the bounds, lowest ids first), or 0.
  cacheApply: `${TRIM_AND_EXPIRE}
local function in_range(id)
  if redis.call('HEXISTS', KEYS[4], 'complete') == 1 then return true end
  local floor = redis.call('HGET', KEYS[4], 'floor')
  if not floor then
    -- no range yet (or an entry written before floors were kept: it starts at its lowest id)
    floor = redis.call('ZRANGE', KEYS[1], 0, 0)[1] or id
    redis.call('HSET', KEYS[4], 'floor', floor)
  end
  return id >= floor
end
local function newer(id, epoch, offset)
  if epoch == '' then return true end
  local last = redis.call('HGET', KEYS[6], id)
  if not last then return true end
  local space = string.find(last, ' ', 1, true)
  return string.sub(last, space + 1) ~= epoch or tonumber(offset) > tonumber(string.sub(last, 1, space - 1))
end
local i = 5
while i <= #ARGV do
  local op, id = ARGV[i], ARGV[i + 1]
  local gone = redis.call('ZSCORE', KEYS[3], id) ~= false
  if op == 'c' then
    if not gone and redis.call('HEXISTS', KEYS[2], id) == 0 and in_range(id) then
      if (redis.call('HGET', KEYS[5], id) or '') ~= ARGV[i + 2] then return 0 end
      redis.call('ZADD', KEYS[1], 0, id)
      redis.call('HSET', KEYS[2], id, ARGV[i + 3])
      redis.call('HDEL', KEYS[5], id)
    end
    i = i + 4
  elseif op == 'u' then
    if not gone and newer(id, ARGV[i + 2], ARGV[i + 3]) then
      local cached = redis.call('HGET', KEYS[2], id)
      if cached then
        if cached ~= ARGV[i + 4] then return 0 end
        redis.call('HSET', KEYS[2], id, ARGV[i + 5])
        redis.call('HDEL', KEYS[5], id)
      else
        if ARGV[i + 4] ~= '' or (redis.call('HGET', KEYS[5], id) or '') ~= ARGV[i + 6] then return 0 end
        redis.call('HSET', KEYS[5], id, ARGV[i + 7])
      end
      if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[6], id, ARGV[i + 3] .. ' ' .. ARGV[i + 2]) end
    end
    i = i + 8
  else
    if (redis.call('HGET', KEYS[2], id) or '') ~= ARGV[i + 2] then return 0 end
    if ARGV[i + 3] ~= '' then
      -- a parent with replies: its placeholder stays (no text, no author), as in the store
      redis.call('HSET', KEYS[2], id, ARGV[i + 3])
      redis.call('HDEL', KEYS[5], id)
    else
      redis.call('ZADD', KEYS[3], 0, id)
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[5], id)
      redis.call('HDEL', KEYS[6], id)
    end
    i = i + 4
  end
end
local tombstones = math.max(redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[3]), 0)
if tombstones > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, tombstones - 1) end
local parked = math.max(redis.call('HLEN', KEYS[5]) - tonumber(ARGV[4]), 0)
if parked > 0 then
  local ids = redis.call('HKEYS', KEYS[5])
  table.sort(ids)
  for j = 1, parked do
    redis.call('HDEL', KEYS[5], ids[j])
    redis.call('HDEL', KEYS[6], ids[j])
  end
end
trim_and_expire(tonumber(ARGV[1]), tonumber(ARGV[2]))
return {1, tombstones, parked}`,
  // ARGV: recent, ttl, complete (0|1), then quads: id, pending patch read ('' = none), json with
  // that patch applied, '1' for a deleted parent's placeholder. Adds what is neither cached nor
  // removed (a placeholder even if removed: it has no text, and the store keeps it); the pending
  // patch it applied is done.
  // The messages are the store's newest page: every stored message at or above the lowest id it adds
  // is in it, but what was cached below may lack messages the store had and the cache handler has not
  // reached yet. So unless the page is the whole history, the entry now starts at that id.
  cacheFill: `${TRIM_AND_EXPIRE}
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  if (redis.call('ZSCORE', KEYS[3], id) == false or ARGV[i + 3] == '1') and redis.call('HEXISTS', KEYS[2], id) == 0 then
    if (redis.call('HGET', KEYS[5], id) or '') ~= ARGV[i + 1] then return 0 end
  end
end
local lowest
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  if (redis.call('ZSCORE', KEYS[3], id) == false or ARGV[i + 3] == '1') and redis.call('HEXISTS', KEYS[2], id) == 0 then
    redis.call('ZADD', KEYS[1], 0, id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 2])
    redis.call('HDEL', KEYS[5], id)
    redis.call('ZREM', KEYS[3], id)
    if not lowest or id < lowest then lowest = id end
  end
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[4], 'complete', '1')
  redis.call('HDEL', KEYS[4], 'floor')
elseif lowest then
  redis.call('HDEL', KEYS[4], 'complete')
  cut(lowest)
end
trim_and_expire(tonumber(ARGV[1]), tonumber(ARGV[2]))
return 1`,
  // KEYS: ids, msgs, meta. ARGV: before ('' for none), limit. Returns false on a miss, else the JSON list.
  cachePage: `
local limit = tonumber(ARGV[2])
local top = '+'
if ARGV[1] ~= '' then top = '(' .. ARGV[1] end
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], top, '-', 'LIMIT', 0, limit)
if #ids < limit and redis.call('HEXISTS', KEYS[3], 'complete') == 0 then return false end
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))`
}

type Keys = [ids: string, msgs: string, removed: string, meta: string, patched: string, versions: string]

interface CacheCommands {
  cacheApply (...args: [...Keys, recent: number, ttl: number, tombstones: number, parked: number, ...ops: string[]]): Promise<Applied>
  cacheFill (...args: [...Keys, recent: number, ttl: number, complete: string, ...quads: string[]]): Promise<number>
  cachePage (ids: string, msgs: string, meta: string, before: string, limit: number): Promise<Array<string | null> | null>
}

/** `cacheApply`'s answer: [1, tombstones dropped, pending patches dropped], or 0 when a change found other than it was computed from. */
type Applied = [1, number, number] | 0

/** What a channel's message was when read: its cached JSON and its pending patch (null: none). */
interface Read { cached: string | null, pending: string | null }

/**
 * `redis` is the app's shared client (its keyPrefix applies to every key, scripts included); it is
 * not closed here. `durable`: the replicas that must hold the writes of `apply`, `upsert`, `patch`
 * and `remove` (the topic handlers') before they return (Redis WAIT on each primary written to):
 * their Kafka offsets are committed only then, so a failover cannot lose a cache write that
 * was counted as done. `fill` does not wait (docs/real-services.md#cache-writes-and-replicas).
 */
export function createRedisCache (redis: RedisClient, options: CacheOptions, durable: ReplicaWait = { replicas: 0, timeoutMs: 0 }): MessageCache {
  for (const [name, lua] of Object.entries(scripts)) {
    redis.defineCommand(name, { lua, numberOfKeys: name === 'cachePage' ? 3 : 6 })
  }
  const commands = redis as RedisClient & CacheCommands

  let closed = false
  /** Runs a command once connected; failures name Redis (plugins/external/redis.ts). */
  async function run<T> (what: string, command: () => Promise<T>): Promise<T> {
    if (closed) throw new Error('cache is closed')
    try {
      return await redisCall(redis, `cache ${what}`, command)
    } catch (err) {
      if (closed) throw new Error('cache is closed')
      throw err
    }
  }

  // One hash tag per channel: all of a channel's keys live in one slot (Redis Cluster, scripts).
  const keys = (channelId: string): Keys => {
    const base = `channel:{${channelId}}`
    return [`${base}:ids`, `${base}:msgs`, `${base}:removed`, `${base}:meta`, `${base}:patched`, `${base}:versions`]
  }
  /** Returns once `durable.replicas` replicas hold what was written to these channels' primaries (a TransientError otherwise). */
  async function replicated (what: string, channelIds: string[]) {
    if (closed) throw new Error('cache is closed')
    await redisWaitReplicas(redis, `cache ${what}`, channelIds.map((c) => keys(c)[0]), durable)
  }
  const { recent, ttlSeconds: ttl } = options
  const { tombstones, parked } = { ...CACHE_DEFAULTS, ...options }
  const stats: CacheStats = { tombstonesTrimmed: 0, parkedTrimmed: 0 }
  /** True when `cacheApply` applied everything (counting what its bounds dropped); false: read again. */
  const applied = (reply: unknown): boolean => {
    if (!Array.isArray(reply) || reply[0] !== 1) return false
    stats.tombstonesTrimmed += Number(reply[1])
    stats.parkedTrimmed += Number(reply[2])
    return true
  }
  const merge = (json: string | null, changes: Partial<Message>) => JSON.stringify({ ...(json ? JSON.parse(json) : {}), ...changes })
  /** A cached entry's JSON after a patch (a deleted parent's placeholder takes its thread only). */
  const mergeCached = (json: string, changes: Partial<Message>) => JSON.stringify(revised(JSON.parse(json) as HistoryMessage, changes))
  /** The placeholder JSON a deletion leaves of a cached message ('' when it leaves none). */
  const placeholderOf = (cached: string | null) => {
    const placeholder = cached ? deletedParent(JSON.parse(cached) as HistoryMessage) : null
    return placeholder ? JSON.stringify(placeholder) : ''
  }

  type Pipeline = { hmget (key: string, ...ids: string[]): Pipeline, cacheApply: (...args: Parameters<CacheCommands['cacheApply']>) => Pipeline, exec (): Promise<Array<[Error | null, unknown]> | null> }
  /** Pipelined `exec`: every reply, or a failure naming Redis. */
  async function exec (what: string, build: (p: Pipeline) => void): Promise<unknown[]> {
    if (closed) throw new Error('cache is closed')
    return await redisPipeline(redis, `cache ${what}`, (p) => build(p as unknown as Pipeline))
  }

  /** Cached JSON and pending patch of each id, for several channels in one round trip. */
  async function read (what: string, channels: Array<[channelId: string, ids: string[]]>): Promise<Array<Map<string, Read>>> {
    const wanted = channels.filter(([, ids]) => ids.length > 0)
    const replies = wanted.length === 0
      ? []
      : await exec(what, (p) => { for (const [channelId, ids] of wanted) p.hmget(keys(channelId)[1], ...ids).hmget(keys(channelId)[4], ...ids) }) as Array<Array<string | null>>
    let r = 0
    return channels.map(([, ids]) => {
      const state = new Map<string, Read>()
      if (ids.length === 0) return state
      const [cached, pending] = [replies[r++], replies[r++]]
      ids.forEach((id, i) => state.set(id, { cached: cached[i], pending: pending[i] }))
      return state
    })
  }

  /**
   * A channel's changes as `cacheApply` arguments, each computed from what `state` says (read, or
   * assumed: nothing cached or pending) and from the changes before it in the batch. When the script
   * finds otherwise (a removed or uncached message, a skipped older edit), it answers 0.
   */
  function ops (changes: MessageChange[], state: Map<string, Read>): string[] {
    const args: string[] = []
    const known = (id: string) => state.get(id) ?? { cached: null, pending: null }
    for (const change of changes) {
      if (change.type === 'create') {
        if (!inChannel(change.message)) continue // a reply only in its thread is never cached
        const { cached, pending } = known(change.message.id)
        const json = JSON.stringify({ ...change.message, position: change.position })
        const merged = pending ? merge(json, JSON.parse(pending)) : json
        args.push('c', change.message.id, pending ?? '', merged)
        if (cached === null) state.set(change.message.id, { cached: merged, pending: null })
      } else if (change.type === 'update') {
        args.push(...edit(change.id, change.changes, known(change.id), change.position, state))
      } else {
        const { cached } = known(change.id)
        const placeholder = placeholderOf(cached)
        args.push('d', change.id, cached ?? '', placeholder)
        state.set(change.id, { cached: placeholder || null, pending: null })
      }
    }
    return args
  }

  /** The 'u' arguments of an edit (positioned) or a reaction patch, from what was read ('d' for a placeholder it empties); `state` follows it. */
  function edit (id: string, changes: Partial<Message>, { cached, pending }: Read, position?: { epoch: string, offset: string }, state?: Map<string, Read>): string[] {
    if (cached !== null && emptied(revised(JSON.parse(cached) as HistoryMessage, changes))) {
      // a deleted parent's last reply went: its placeholder leaves history, as in the store
      state?.set(id, { cached: null, pending: null })
      return ['d', id, cached, '']
    }
    const merged = cached === null ? merge(pending, changes) : mergeCached(cached, changes)
    state?.set(id, cached === null ? { cached: null, pending: merged } : { cached: merged, pending: null })
    return ['u', id, position?.epoch ?? '', position?.offset ?? '', cached ?? '', cached === null ? '' : merged, pending ?? '', cached === null ? merged : '']
  }

  /** Applies one channel's changes one at a time, each from a fresh read (after a batch lost a race). */
  async function applyOneByOne (channelId: string, changes: MessageChange[]) {
    for (const change of changes) {
      const id = change.type === 'create' ? change.message.id : change.id
      for (;;) {
        const [state] = await read('apply', [[channelId, [id]]])
        if (applied(await run('apply', () => commands.cacheApply(...keys(channelId), recent, ttl, tombstones, parked, ...ops([change], state))))) break
      }
    }
  }

  const cache: MessageCache = {
    kind: 'redis',
    stats,
    async upsert (message) {
      await applyOneByOne(message.channelId, [{ type: 'create', message, position: message.position! }])
      await replicated('upsert', [message.channelId])
    },
    async apply (changes) {
      // One script per channel, all pipelined: a batch of creates is one round trip. Edits merge
      // JSON here, and a deletion of a parent with replies leaves a placeholder made from its cached
      // copy, so a batch with edits or deletions first reads what they apply to (one more).
      const byChannel = new Map<string, MessageChange[]>()
      for (const change of changes) {
        const channelId = change.type === 'create' ? change.message.channelId : change.channelId
        byChannel.set(channelId, [...byChannel.get(channelId) ?? [], change])
      }
      const channels = [...byChannel]
      const edits = changes.some((c) => c.type !== 'create')
      const states = edits
        ? await read('apply', channels.map(([channelId, list]) => [channelId, [...new Set(list.map((c) => c.type === 'create' ? c.message.id : c.id))]]))
        : channels.map(() => new Map<string, Read>())
      const written = await exec('apply', (p) => { channels.forEach(([channelId, list], c) => p.cacheApply(...keys(channelId), recent, ttl, tombstones, parked, ...ops(list, states[c]))) })
      // A channel whose state was not as read or assumed: its changes again, one by one.
      for (const [c, reply] of written.entries()) if (!applied(reply)) await applyOneByOne(...channels[c])
      // The batch counts as done (its offsets committed) once replicas hold it: one WAIT per primary written to.
      await replicated('apply', channels.map(([channelId]) => channelId))
    },
    async patch (channelId, id, changes) {
      const k = keys(channelId)
      for (;;) {
        const [state] = await read('patch', [[channelId, [id]]])
        if (applied(await run('patch', () => commands.cacheApply(...k, recent, ttl, tombstones, parked, ...edit(id, changes, state.get(id)!))))) break
      }
      await replicated('patch', [channelId])
    },
    async remove (channelId, id) {
      // a deletion's position is not used by the cache
      await applyOneByOne(channelId, [{ type: 'delete', id, channelId, position: { epoch: '', offset: '0' } }])
      await replicated('remove', [channelId])
    },
    async fill (channelId, messages, complete) {
      // Nothing to add and nothing learnt: no round trip, no key. (A complete empty fill is a real
      // state, "this channel has no messages", and is kept; the history route never makes one.)
      if (messages.length === 0 && !complete) return
      const k = keys(channelId)
      for (;;) {
        // a patch or remove that landed after the store was read applies to what the store said
        const pending = messages.length ? await run('fill', () => redis.hmget(k[4], ...messages.map((m) => m.id))) : []
        const quads = messages.flatMap((m, i) => [m.id, pending[i] ?? '', pending[i] ? mergeCached(JSON.stringify(m), JSON.parse(pending[i]!)) : JSON.stringify(m), m.deleted ? '1' : '0'])
        if (await run('fill', () => commands.cacheFill(...k, recent, ttl, complete ? '1' : '0', ...quads)) === 1) return
      }
    },
    async page (channelId, { before, limit }) {
      const [ids, msgs, , meta] = keys(channelId)
      const jsons = await run('page', () => commands.cachePage(ids, msgs, meta, before ?? '', limit))
      if (!jsons) return null
      // An id without a body would be a broken entry: answer from the store instead.
      if (jsons.some((j) => j === null)) return null
      return jsons.map((j) => JSON.parse(j!) as HistoryMessage)
    },
    async ping () {
      await run('ping', () => redis.ping())
    },
    async close () { closed = true }
  }
  return cache
}
