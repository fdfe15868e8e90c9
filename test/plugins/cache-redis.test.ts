import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisCache } from '../../plugins/cache/redis.ts'
import { cacheContract, message } from '../contracts/cache.ts'
import type { Message } from '../../schemas/message.ts'
import { cleanupReal, redisClient, requireService, services, unique } from '../services.ts'

if (await requireService(t, 'redis')) {
  const keyPrefix = `${unique('cache')}:`
  const admin = new Redis(services.redis)
  t.teardown(async () => {
    await admin.quit()
    await cleanupReal({ keyPrefix })
  })
  const redis = redisClient(t, keyPrefix)
  let n = 0
  cacheContract(t, async (opts) => createRedisCache(redis, opts), () => `c${++n}`)

  t.test('every write refreshes the TTL of the whole channel entry', async (t) => {
    const cache = createRedisCache(redis, { recent: 5, ttlSeconds: 120 })
    t.teardown(() => cache.close())
    const ch = `ttl${++n}`
    await cache.upsert(message(ch, 'a'))
    await cache.remove(ch, 'ffffffffffffffffffffffff')
    const keys = await admin.keys(`${keyPrefix}channel:{${ch}}:*`)
    t.same(keys.map((k) => k.split(':').pop()).sort(), ['ids', 'meta', 'msgs', 'removed'], 'one entry: ids, bodies, the range it covers, tombstones')
    for (const key of keys) {
      const ttl = await admin.ttl(key)
      t.ok(ttl > 0 && ttl <= 120, `${key.split(':').pop()} expires (${ttl} s)`)
    }
  })

  t.test('a patch keeps empty arrays and objects as they were', async (t) => {
    const cache = createRedisCache(redisClient(t, keyPrefix), { recent: 5, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = `p${++n}`
    const m = message(ch, 'a', { reactions: { '👍': [] } })
    await cache.fill(ch, [m], true)
    await cache.patch(ch, m.id, { reactions: { '👍': [], '🎉': ['u2'] } })
    t.same((await cache.page(ch, { limit: 5 }))?.[0].reactions, { '👍': [], '🎉': ['u2'] })
  })

  t.test('concurrent patches from several instances all apply (compare and set)', async (t) => {
    const caches = [0, 1, 2].map(() => createRedisCache(redisClient(t, keyPrefix), { recent: 5, ttlSeconds: 60 }))
    t.teardown(() => Promise.all(caches.map((c) => c.close())))
    const ch = `cas${++n}`
    const [cached, uncached] = [message(ch, 'a'), message(ch, 'b')]
    await caches[0].fill(ch, [cached], false)
    const changes: Array<Partial<Message>> = [{ content: 'a2' }, { editedAt: '2026-01-01T00:00:00.000Z' }, { reactions: { '👍': ['u1'] } }]
    await Promise.all(changes.flatMap((c, i) => [caches[i].patch(ch, cached.id, c), caches[i].patch(ch, uncached.id, c)]))
    await caches[0].fill(ch, [uncached], true)
    const page = await caches[1].page(ch, { limit: 5 })
    const expected = { content: 'a2', editedAt: '2026-01-01T00:00:00.000Z', reactions: { '👍': ['u1'] } }
    t.match(page?.[1], { id: cached.id, ...expected }, 'a cached message got all three')
    t.match(page?.[0], { id: uncached.id, ...expected, content: 'a2' }, 'and the pending changes of an uncached one, applied by the fill')
  })

  t.test('an unreachable Redis fails fast with an error that names it, and ping fails', async (t) => {
    const cache = createRedisCache(redisClient(t, keyPrefix, 'redis://127.0.0.1:1'), { recent: 5, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    await t.rejects(cache.page('x', { limit: 5 }), { name: 'TransientError', message: /Redis at 127\.0\.0\.1:1 unavailable: cache page failed/ })
    await t.rejects(cache.ping(), { name: 'TransientError' })
  })

  t.test('writes that must reach a replica, on a Redis with none: a transient failure naming WAIT; fills and reads go on', async (t) => {
    if (!/connected_slaves:0\b/.test(await admin.info('replication'))) {
      t.comment('skipped: this Redis has replicas (the test needs one without)')
      return
    }
    const cache = createRedisCache(redis, { recent: 5, ttlSeconds: 60 }, { replicas: 1, timeoutMs: 50 })
    const ch = `w${++n}`
    const m = message(ch, 'a')
    await t.rejects(cache.apply([{ type: 'create', message: { ...m, position: { epoch: 'e', offset: '1' } }, position: { epoch: 'e', offset: '1' } }]),
      { name: 'TransientError', message: /not acknowledged by enough replicas within 50 ms \(WAIT: 0 of 1 at Redis at / })
    await t.rejects(cache.upsert(message(ch, 'b')), { name: 'TransientError' })
    await t.rejects(cache.patch(ch, m.id, { content: 'edited' }), { name: 'TransientError' })
    await t.rejects(cache.remove(ch, m.id), { name: 'TransientError' })
    const other = `w${++n}`
    await cache.fill(other, [message(other, 'c')], true)
    t.same((await cache.page(other, { limit: 5 }))?.map((m) => m.content), ['c'], 'a fill does not wait for replicas')
  })
}
