import t from 'tap'
import { Redis } from 'ioredis'
import { createEmbeddedNonceStore } from '../../plugins/nonces/embedded.ts'
import { createRedisNonceStore } from '../../plugins/nonces/redis.ts'
import { nonceStoreContract } from '../contracts/nonces.ts'
import { cleanupReal, redisClient, requireService, services, unique as uniqueName } from '../services.ts'

let n = 0
const unique = () => `nonce:${++n}`

t.test('embedded', async (t) => {
  nonceStoreContract(t, async () => createEmbeddedNonceStore(), unique)

  t.test('claims and results expire after their TTL', async (t) => {
    let now = 1_000_000
    const store = createEmbeddedNonceStore(() => now)
    await store.claim('a', 30)
    now += 30_000
    t.same(await store.claim('a', 30), { state: 'claimed' }, 'an expired claim frees the key')
    await store.settle('a', 'v', 600)
    now += 599_000
    t.same(await store.peek('a'), { state: 'done', value: 'v' })
    now += 1_000
    t.same(await store.peek('a'), { state: 'free' })
  })
})

t.test('redis', async (t) => {
  if (!await requireService(t, 'redis')) return
  const keyPrefix = `${uniqueName('nonces')}:`
  t.teardown(() => cleanupReal({ keyPrefix }))
  const redis = redisClient(t, keyPrefix)
  nonceStoreContract(t, async () => createRedisNonceStore(redis), unique)

  t.test('claims and results carry their TTL in Redis, under the client\'s key prefix', async (t) => {
    const store = createRedisNonceStore(redis)
    const key = unique()
    await store.claim(key, 30)
    const claimTtl = await redis.ttl(key)
    t.ok(claimTtl > 0 && claimTtl <= 30, `a claim holds 30 s (${claimTtl})`)
    await store.settle(key, 'v', 600)
    const resultTtl = await redis.ttl(key)
    t.ok(resultTtl > 30 && resultTtl <= 600, `a result holds 600 s (${resultTtl})`)
    const plain = new Redis(services.redis)
    t.teardown(() => plain.quit())
    t.equal(await plain.get(`${keyPrefix}${key}`), 'v', 'stored under the prefix')
  })

  t.test('a Redis that is down is a transient error naming it (the route answers 503)', async (t) => {
    const store = createRedisNonceStore(redisClient(t, keyPrefix, 'redis://127.0.0.1:1'))
    await t.rejects(store.claim(unique(), 30), { name: 'TransientError', message: /Redis at 127\.0\.0\.1:1 unavailable: nonce claim failed/ })
  })
})
