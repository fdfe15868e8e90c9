import t from 'tap'
import { createRedisRegistry } from '../../plugins/connections/redis.ts'
import { connectionRegistryContract } from '../contracts/connection-registry.ts'
import { cleanupReal, redisClient, requireService, unique } from '../services.ts'

if (await requireService(t, 'redis')) {
  const root = unique('registry')
  t.teardown(() => cleanupReal({ keyPrefix: `${root}:` }))
  let n = 0
  // each registry its own key prefix: the directory of instances is shared by a whole deployment
  connectionRegistryContract(t, async (opts) => {
    const redis = redisClient(t, `${root}:${++n}:`)
    await redis.connect()
    return createRedisRegistry(redis, opts)
  }, (what) => `${what}${++n}`)
}
