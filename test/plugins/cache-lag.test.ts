// Cache holes (issue 10, item 14), with injected lag: the cache handler is held while the store
// moves on, a history miss fills the cache from the store (ahead of the handler), then the handler
// is released. A hit never skips a message: paging back is served whole, from the cache or the store.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import { createEmbeddedCache } from '../../plugins/cache/embedded.ts'
import { createRedisCache } from '../../plugins/cache/redis.ts'
import type { MessageCache } from '../../plugins/cache/index.ts'
import type { MessageChange } from '../../plugins/store/store.ts'
import type { Position } from '../../schemas/message.ts'
import { cleanupReal, redisClient, requireService, unique } from '../services.ts'

/** The cache, with a cache handler that can be held (its batches wait) and released, and fills that can be awaited. */
function lagging (inner: MessageCache) {
  let held: MessageChange[][] | null = null
  const fills: Array<Promise<void>> = []
  const cache: MessageCache = {
    ...inner,
    async apply (changes) {
      if (held) held.push(changes)
      else await inner.apply(changes)
    },
    fill (channelId, messages, complete) {
      const filled = inner.fill(channelId, messages, complete)
      fills.push(filled)
      return filled
    }
  }
  return {
    cache,
    hold () { held = [] },
    /** Applies the held batches one at a time, calling `between` after each. */
    async release (between: () => Promise<void>) {
      const batches = held ?? []
      held = null
      for (const batch of batches) {
        await inner.apply(batch)
        await between()
      }
    },
    filled: () => Promise.all(fills)
  }
}

async function post (app: FastifyInstance, content: string): Promise<{ id: string, content: string, position: Position }> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'room', content, senderId: 'u1' } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

async function history (app: FastifyInstance, query: string) {
  const res = await app.inject({ url: `/api/channels/room/messages?${query}` })
  return { cache: res.headers['x-cache'], contents: (res.json().messages as Array<{ content: string }>).map((m) => m.content) }
}

async function holeless (t: Test, inner: MessageCache) {
  const lag = lagging(inner)
  const app = await build(t, { CACHE_RECENT: 100 }, { cache: lag.cache })
  const sent = []
  for (const n of [1, 2, 3]) sent.push(await post(app, `m${n}`))
  await handled(app, 'messages-cache', sent[2].position) // the cache holds m1-m3

  lag.hold()
  for (const n of [4, 5, 6, 7, 8, 9, 10]) sent.push(await post(app, `m${n}`))
  await handled(app, 'messages-store', sent[9].position) // the store holds m1-m10, the cache handler is at m3
  t.same(await history(app, 'limit=5'), { cache: 'miss', contents: ['m10', 'm9', 'm8', 'm7', 'm6'] }, 'three cached: the store answers and fills the cache')
  await lag.filled()
  t.same(await history(app, 'limit=5'), { cache: 'hit', contents: ['m10', 'm9', 'm8', 'm7', 'm6'] }, 'the filled page is a hit')

  /** Pages back from the newest message, `limit` at a time: every message once, in order, wherever it comes from. */
  const pageBack = async (limit: number, when: string) => {
    const seen: string[] = []
    let before: string | undefined
    for (;;) {
      const res = await app.inject({ url: `/api/channels/room/messages?limit=${limit}${before ? `&before=${before}` : ''}` })
      const { messages, nextBefore } = res.json() as { messages: Array<{ content: string }>, nextBefore: string | null }
      seen.push(...messages.map((m) => m.content))
      if (!nextBefore) break
      before = nextBefore
    }
    t.same(seen, ['m10', 'm9', 'm8', 'm7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm1'], `${when}: paging back by ${limit} skips nothing`)
  }
  t.same(await history(app, `limit=3&before=${sent[5].id}`), { cache: 'miss', contents: ['m5', 'm4', 'm3'] }, 'below the filled page: not a hit without m5 and m4')
  for (const limit of [1, 2, 3, 5]) await pageBack(limit, 'held')
  await lag.release(async () => { for (const limit of [1, 3]) await pageBack(limit, 'while the handler catches up') })
  await pageBack(4, 'caught up')
  t.equal((await history(app, 'limit=5')).cache, 'hit', 'the newest page is still cached')
}

t.test('embedded cache', async (t) => {
  const inner = createEmbeddedCache({ recent: 100, ttlSeconds: 60 })
  t.teardown(() => inner.close())
  await holeless(t, inner)
})

t.test('Redis cache', async (t) => {
  if (!await requireService(t, 'redis')) return
  const keyPrefix = `${unique('cache-lag')}:`
  const inner = createRedisCache(redisClient(t, keyPrefix), { recent: 100, ttlSeconds: 60 })
  t.teardown(async () => {
    await inner.close()
    await cleanupReal({ keyPrefix })
  })
  await holeless(t, inner)
})
