import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisRecoveryLog } from '../../plugins/recovery/redis.ts'
import { recoveryLogContract } from '../contracts/recovery-log.ts'
import { TransientError } from '../../plugins/external/errors.ts'
import { cleanupReal, requireService, services, unique } from '../services.ts'

if (await requireService(t, 'redis')) {
  const keyPrefix = `${unique('recovery')}:`
  const redis = new Redis(services.redis, { keyPrefix })
  t.teardown(async () => {
    await redis.quit()
    await cleanupReal({ keyPrefix })
  })
  let n = 0
  recoveryLogContract(t, async ({ size }) => createRedisRecoveryLog(redis, { size, ttlSeconds: 60 }), () => `c${++n}`)

  t.test('the channel\'s log and its partition window expire together', async (t) => {
    const log = createRedisRecoveryLog(redis, { size: 5, ttlSeconds: 90 })
    await log.append('ttl', { epoch: 'e-ttl', offset: '0' }, 'frame')
    const keys = (await redis.keys(`${keyPrefix}recovery:*`)).map((k) => k.slice(keyPrefix.length))
    t.ok(keys.includes('recovery:{e-ttl}:partition'), 'a partition window')
    t.ok(keys.includes('recovery:latest:{ttl}'), 'the channel\'s latest epoch')
    const written = keys.filter((k) => k.includes('{ttl}') || k.includes('{e-ttl}'))
    t.equal(written.length, 4, 'window, channel meta, events and latest epoch (no revision yet)')
    for (const key of written) {
      const ttl = await redis.ttl(key)
      t.ok(ttl > 0 && ttl <= 90, `${key} expires (${ttl} s)`)
    }
  })

  t.test('a Redis that is down is a transient error on write (the handler retries)', async (t) => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    t.teardown(() => down.disconnect())
    const log = createRedisRecoveryLog(down, { size: 5, ttlSeconds: 60 })
    await t.rejects(log.append('x', { epoch: 'e', offset: '0' }, 'f'), TransientError)
    await t.rejects(log.read('x'))
  })
}
