// The message cache on Redis (ioredis). Per channel: a sorted set of ids (all scores 0, so ordered
// by id: ObjectId hex sorts by time), a hash id → message JSON, a set of removed ids (tombstones), a
// hash of changes to uncached messages (applied by a later fill) and a meta hash (`complete`).
// Every write is one Lua script, so concurrent handlers and fills never interleave.
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import type { Message } from '../../schemas/message.ts'
import { TransientError } from '../errors.ts'
import type { CacheOptions, MessageCache } from './cache.ts'

export interface RedisCacheOptions extends CacheOptions { url: string, logger: FastifyBaseLogger }

/** How long a command waits for a connection (or an answer) before it fails with a 503-style error. */
const TIMEOUT_MS = 2000

// KEYS of every write: ids, msgs, gone, meta, patched. Trims to the newest `recent` and refreshes
// the TTL of all five (the channel's entry lives and expires as one).
const TRIM_AND_EXPIRE = `
local function trim_and_expire(recent, ttl)
  local extra = redis.call('ZCARD', KEYS[1]) - recent
  if extra > 0 then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, extra - 1)) do redis.call('HDEL', KEYS[2], id) end
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
    redis.call('HDEL', KEYS[4], 'complete')
  end
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
end
`

// JSON is merged in JavaScript (Lua's cjson turns empty arrays into objects and rounds numbers);
// the scripts that write a merge check that what it was computed from is still there (compare and
// set) and answer 0 otherwise, and the caller reads and merges again.
const scripts = {
  // ARGV: id, ttl
  cacheRemove: `
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2])) end`,
  // ARGV: id, cached json read ('' = not cached), its patched version, pending patch read ('' = none),
  // the merged pending patch, ttl. A cached message is patched in place; an uncached one keeps the
  // changes for a later fill; a removed one takes nothing.
  cachePatch: `
local id = ARGV[1]
if redis.call('SISMEMBER', KEYS[3], id) == 0 then
  local cached = redis.call('HGET', KEYS[2], id)
  if cached then
    if cached ~= ARGV[2] then return 0 end
    redis.call('HSET', KEYS[2], id, ARGV[3])
  else
    if ARGV[2] ~= '' then return 0 end
    local pending = redis.call('HGET', KEYS[5], id) or ''
    if pending ~= ARGV[4] then return 0 end
    redis.call('HSET', KEYS[5], id, ARGV[5])
  end
end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[6])) end
return 1`,
  // ARGV: recent, ttl, complete (0|1), then triples: id, pending patch read ('' = none), json with
  // that patch applied. Adds what is neither cached nor removed.
  cacheFill: `${TRIM_AND_EXPIRE}
for i = 4, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('SISMEMBER', KEYS[3], id) == 0 and redis.call('HEXISTS', KEYS[2], id) == 0 then
    if (redis.call('HGET', KEYS[5], id) or '') ~= ARGV[i + 1] then return 0 end
  end
end
for i = 4, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('SISMEMBER', KEYS[3], id) == 0 and redis.call('HEXISTS', KEYS[2], id) == 0 then
    redis.call('ZADD', KEYS[1], 0, id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 2])
  end
end
if ARGV[3] == '1' then redis.call('HSET', KEYS[4], 'complete', '1') end
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

type Keys = [ids: string, msgs: string, gone: string, meta: string, patched: string]

interface CacheCommands {
  cacheRemove (...args: [...Keys, id: string, ttl: number]): Promise<unknown>
  cachePatch (...args: [...Keys, id: string, cached: string, patched: string, pending: string, merged: string, ttl: number]): Promise<number>
  cacheFill (...args: [...Keys, recent: number, ttl: number, complete: string, ...triples: string[]]): Promise<number>
  cachePage (ids: string, msgs: string, meta: string, before: string, limit: number): Promise<Array<string | null> | null>
}

export function createRedisCache (options: RedisCacheOptions): MessageCache {
  const { logger } = options
  const where = `Redis at ${redact(options.url)}`
  const redis = new Redis(options.url, {
    // Fail fast while disconnected (a 503 or a store read, never a queue of waiting requests) ...
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    // ... and reconnect by itself, forever, at most a second apart.
    retryStrategy: (times) => Math.min(times * 100, 1000)
  }) as Redis & CacheCommands
  for (const [name, lua] of Object.entries(scripts)) {
    redis.defineCommand(name, { lua, numberOfKeys: name === 'cachePage' ? 3 : 5 })
  }

  // Logged once per outage, not once per reconnection attempt.
  let down = false
  redis.on('error', (err) => {
    if (!down) logger.error({ err }, `${where} unavailable; reconnecting`)
    down = true
  })
  redis.on('ready', () => {
    if (down) logger.info(`${where} is back`)
    down = false
  })

  let closed = false
  /** Runs a command once connected (waiting at most TIMEOUT_MS); failures name Redis. */
  async function run<T> (what: string, command: () => Promise<T>): Promise<T> {
    if (closed) throw new Error('cache is closed')
    try {
      if (redis.status !== 'ready') {
        // During an outage fail at once; while (first) connecting, wait a little.
        if (down) throw new Error(`not connected (${redis.status})`)
        await connected()
      }
      return await command()
    } catch (err) {
      if (closed) throw new Error('cache is closed')
      throw new TransientError(`${where} unavailable: ${what} failed (${(err as Error).message})`, { cause: err })
    }
  }

  function connected (): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`not connected within ${TIMEOUT_MS} ms`)) }, TIMEOUT_MS)
      const onReady = () => { cleanup(); resolve() }
      const onError = (err: Error) => { cleanup(); reject(err) }
      const onEnd = () => { cleanup(); reject(new Error('connection closed')) }
      const cleanup = () => { clearTimeout(timer); redis.off('ready', onReady); redis.off('error', onError); redis.off('end', onEnd) }
      redis.once('ready', onReady)
      redis.once('error', onError)
      redis.once('end', onEnd)
    })
  }

  // One hash tag per channel: all of a channel's keys live in one slot (Redis Cluster, scripts).
  const keys = (channelId: string): Keys => {
    const base = `${options.keyPrefix}channel:{${channelId}}`
    return [`${base}:ids`, `${base}:msgs`, `${base}:gone`, `${base}:meta`, `${base}:patched`]
  }
  const { recent, ttlSeconds: ttl } = options
  const merge = (json: string | null, changes: Partial<Message>) => JSON.stringify({ ...(json ? JSON.parse(json) : {}), ...changes })

  type Pipeline = { hmget (key: string, ...ids: string[]): Pipeline, cacheFill: (...args: Parameters<CacheCommands['cacheFill']>) => Pipeline, exec (): Promise<Array<[Error | null, unknown]> | null> }
  /** Pipelined `exec`: every reply, or a failure naming Redis. */
  async function exec (what: string, build: (p: Pipeline) => void): Promise<unknown[]> {
    const results = await run(what, async () => {
      const p = redis.pipeline() as unknown as Pipeline
      build(p)
      return await p.exec()
    })
    const failed = results?.find(([err]) => err)?.[0]
    if (!results || failed) throw new TransientError(`${where} unavailable: ${what} failed (${failed?.message ?? 'no reply'})`, { cause: failed })
    return results.map(([, reply]) => reply)
  }

  /** `fill(channel, messages, false)` for many channels in two round trips; a channel whose fill lost a race retries alone. */
  async function fillMany (byChannel: Map<string, Message[]>) {
    const channels = [...byChannel]
    const pending = await exec('fill', (p) => { for (const [channelId, messages] of channels) p.hmget(keys(channelId)[4], ...messages.map((m) => m.id)) }) as Array<Array<string | null>>
    const written = await exec('fill', (p) => {
      channels.forEach(([channelId, messages], c) => {
        const triples = messages.flatMap((m, i) => { const patch = pending[c][i]; return [m.id, patch ?? '', patch ? merge(JSON.stringify(m), JSON.parse(patch)) : JSON.stringify(m)] })
        p.cacheFill(...keys(channelId), recent, ttl, '0', ...triples)
      })
    })
    for (const [c, reply] of written.entries()) if (reply !== 1) await cache.fill(channels[c][0], channels[c][1], false)
  }

  const cache: MessageCache = {
    kind: 'redis',
    async upsert (message) {
      await cache.fill(message.channelId, [message], false)
    },
    async apply (changes) {
      // Creates first, all channels in two pipelined round trips (read parked patches, then fill);
      // edits and deletes of the batch follow, in order (rare: one script each).
      const byChannel = new Map<string, Message[]>()
      for (const change of changes) {
        if (change.type !== 'create') continue
        const list = byChannel.get(change.message.channelId) ?? []
        list.push({ ...change.message, position: change.position })
        byChannel.set(change.message.channelId, list)
      }
      if (byChannel.size) await fillMany(byChannel)
      for (const change of changes) {
        if (change.type === 'update') await cache.patch(change.channelId, change.id, change.changes)
        else if (change.type === 'delete') await cache.remove(change.channelId, change.id)
      }
    },
    async patch (channelId, id, changes) {
      const k = keys(channelId)
      for (;;) {
        const [cached, pending] = await run('patch', () => Promise.all([redis.hget(k[1], id), redis.hget(k[4], id)]))
        const written = await run('patch', () => redis.cachePatch(...k, id, cached ?? '', cached === null ? '' : merge(cached, changes), pending ?? '', cached === null ? merge(pending, changes) : '', ttl))
        if (written === 1) return
      }
    },
    async remove (channelId, id) {
      await run('remove', () => redis.cacheRemove(...keys(channelId), id, ttl))
    },
    async fill (channelId, messages, complete) {
      // Nothing to add and nothing learnt: no round trip, no key. (A complete empty fill is a real
      // state, "this channel has no messages", and is kept; the history route never makes one.)
      if (messages.length === 0 && !complete) return
      const k = keys(channelId)
      for (;;) {
        // a patch or remove that landed after the store was read applies to what the store said
        const pending = messages.length ? await run('fill', () => redis.hmget(k[4], ...messages.map((m) => m.id))) : []
        const triples = messages.flatMap((m, i) => [m.id, pending[i] ?? '', pending[i] ? merge(JSON.stringify(m), JSON.parse(pending[i]!)) : JSON.stringify(m)])
        if (await run('fill', () => redis.cacheFill(...k, recent, ttl, complete ? '1' : '0', ...triples)) === 1) return
      }
    },
    async page (channelId, { before, limit }) {
      const [ids, msgs, , meta] = keys(channelId)
      const jsons = await run('page', () => redis.cachePage(ids, msgs, meta, before ?? '', limit))
      if (!jsons) return null
      // An id without a body would be a broken entry: answer from the store instead.
      if (jsons.some((j) => j === null)) return null
      return jsons.map((j) => JSON.parse(j!) as Message)
    },
    async ping () {
      await run('ping', () => redis.ping())
    },
    async close () {
      if (closed) return
      closed = true
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
      else redis.disconnect()
    }
  }
  return cache
}

/** The URL without its password, for messages and logs. */
function redact (url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString().replace(/\/$/, '')
  } catch {
    return 'the configured URL'
  }
}
