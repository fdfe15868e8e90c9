import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisPresence } from '../../plugins/presence/redis.ts'
import { presenceContract } from '../contracts/presence.ts'
import { TransientError } from '../../plugins/external/errors.ts'
import { cleanupReal, requireService, services, unique } from '../services.ts'

if (await requireService(t, 'redis')) {
  const keyPrefix = `${unique('presence')}:`
  const redis = new Redis(services.redis, { keyPrefix })
  t.teardown(async () => {
    await redis.quit()
    await cleanupReal({ keyPrefix })
  })
  let n = 0
  presenceContract(t, async (opts) => createRedisPresence(redis, opts), () => `c${++n}`)

  t.test('two instances dropping a user\'s last two connections at once announce exactly one leave', async (t) => {
    const other = new Redis(services.redis, { keyPrefix })
    t.teardown(() => other.quit())
    const [a, b] = [createRedisPresence(redis, { ttlSeconds: 300 }), createRedisPresence(other, { ttlSeconds: 300 })]
    const channel = `race${++n}`
    await a.join({ channel, userId: 'alice', connectionId: 'c1' })
    await b.join({ channel, userId: 'alice', connectionId: 'c2' })
    const leaves = await Promise.all([a.leave({ channel, userId: 'alice', connectionId: 'c1' }), b.leave({ channel, userId: 'alice', connectionId: 'c2' })])
    t.same(leaves.filter(Boolean).length, 1)
    t.same(await a.list(channel), [])
  })

  t.test('a Redis that is down is a transient error (the route answers 503)', async (t) => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    t.teardown(() => down.disconnect())
    await t.rejects(createRedisPresence(down, { ttlSeconds: 300 }).list('x'), TransientError)
  })
}
