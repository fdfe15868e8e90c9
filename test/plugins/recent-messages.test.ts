import t from 'tap'
import { Redis } from 'ioredis'
import { createEmbeddedRecentMessages } from '../../plugins/recent-messages/embedded.ts'
import { createRedisRecentMessages } from '../../plugins/recent-messages/redis.ts'
import { recentMessagesContract } from '../contracts/recent-messages.ts'
import { cleanupReal, redisClient, requireService, services, unique as uniqueName } from '../services.ts'

let n = 0
const unique = () => `m${++n}`
const message = (id: string) => ({ id, channelId: 'c', senderId: 'alice', senderName: 'alice', createdAt: '2026-12-07T09:00:00.000Z' })

t.test('embedded', async (t) => {
  recentMessagesContract(t, async () => createEmbeddedRecentMessages(), unique)

  t.test('posts and deletions are forgotten after their TTL', async (t) => {
    let now = 1_000_000
    const store = createEmbeddedRecentMessages(() => now)
    await store.posted(message('a'), 600)
    await store.deleted('b', 600)
    now += 599_000
    t.equal((await store.get('a'))?.state, 'posted')
    t.equal((await store.get('b'))?.state, 'deleted')
    now += 1_000
    t.equal(await store.get('a'), undefined)
    t.equal(await store.get('b'), undefined)
  })
})

t.test('redis', async (t) => {
  if (!await requireService(t, 'redis')) return
  const keyPrefix = `${uniqueName('recent')}:`
  t.teardown(() => cleanupReal({ keyPrefix }))
  const redis = redisClient(t, keyPrefix)
  recentMessagesContract(t, async () => createRedisRecentMessages(redis), unique)

  t.test('one key per message with its TTL, under the client\'s key prefix', async (t) => {
    const store = createRedisRecentMessages(redis)
    const id = unique()
    await store.posted(message(id), 600)
    const plain = new Redis(services.redis)
    t.teardown(() => plain.quit())
    const key = `${keyPrefix}recent-message:${id}`
    t.same(JSON.parse((await plain.get(key))!), message(id), 'stored under the prefix')
    const ttl = await plain.ttl(key)
    t.ok(ttl > 0 && ttl <= 600, `kept 600 s (${ttl})`)
  })

  t.test('a Redis that is down is a transient error naming it', async (t) => {
    const store = createRedisRecentMessages(redisClient(t, keyPrefix, 'redis://127.0.0.1:1'))
    await t.rejects(store.get(unique()), { name: 'TransientError', message: /Redis at 127\.0\.0\.1:1 unavailable: recent message read failed/ })
  })
})
