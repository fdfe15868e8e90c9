// User status (the connection registry's status half): its contract in process and on Redis; on
// Redis Cluster in test/cluster/redis-contracts.test.ts.
import t from 'tap'
import { createEmbeddedRegistry } from '../../plugins/connections/embedded.ts'
import { createRedisRegistry } from '../../plugins/connections/redis.ts'
import { userStatusContract } from '../contracts/user-status.ts'
import { cleanupReal, redisClient, requireService, unique } from '../services.ts'

let n = 0
const next = () => `u${++n}`

t.test('in process', async (t) => userStatusContract(t, async () => createEmbeddedRegistry(), next))

t.test('on Redis', async (t) => {
  if (!await requireService(t, 'redis')) return
  const keyPrefix = `${unique('status')}:`
  t.teardown(() => cleanupReal({ keyPrefix }))
  const redis = redisClient(t, keyPrefix)
  await redis.connect()
  userStatusContract(t, async () => createRedisRegistry(redis), next)
})
