// The Redis contract suites on a Redis Cluster (REDIS_CLUSTER_NODES): the cache, the recovery log,
// presence, nonces, pin reservations, rate limits, the connection registry and user status behave as on one Redis,
// with batches that span channels (hence slots and nodes) split into one pipeline per node.
import t from 'tap'
import { createRedisCluster } from '../../plugins/external/redis.ts'
import { createRedisCache } from '../../plugins/cache/redis.ts'
import { createRedisRecoveryLog } from '../../plugins/recovery/redis.ts'
import { createRedisPresence } from '../../plugins/presence/redis.ts'
import { createRedisNonceStore } from '../../plugins/nonces/redis.ts'
import { createRedisPinReservations } from '../../plugins/pins/reservations-redis.ts'
import { cacheContract } from '../contracts/cache.ts'
import { recoveryLogContract } from '../contracts/recovery-log.ts'
import { presenceContract } from '../contracts/presence.ts'
import { nonceStoreContract } from '../contracts/nonces.ts'
import { pinReservationsContract } from '../contracts/pin-reservations.ts'
import { rateLimitContract } from '../contracts/rate-limit.ts'
import { userStatusContract } from '../contracts/user-status.ts'
import { connectionRegistryContract } from '../contracts/connection-registry.ts'
import { createRedisRegistry } from '../../plugins/connections/redis.ts'
import { unique } from '../services.ts'
import { cleanupCluster, clusterNodes, requireRedisCluster } from './cluster.ts'

if (await requireRedisCluster(t)) {
  const keyPrefix = `${unique('cluster-contracts')}:`
  t.teardown(() => cleanupCluster(keyPrefix))
  const redis = createRedisCluster(clusterNodes, { keyPrefix })
  t.teardown(() => redis.quit())
  let n = 0
  const next = () => `c${++n}`

  t.test('cache', async (t) => cacheContract(t, async (opts) => createRedisCache(redis, opts), next))
  t.test('cache, its writes waiting for a replica (REDIS_WAIT_REPLICAS=1)', async (t) => cacheContract(t, async (opts) => createRedisCache(redis, opts, { replicas: 1, timeoutMs: 1000 }), next))
  t.test('recovery log', async (t) => recoveryLogContract(t, async ({ size }) => createRedisRecoveryLog(redis, { size, ttlSeconds: 60 }), next))
  t.test('presence', async (t) => presenceContract(t, async (opts) => createRedisPresence(redis, opts), next))
  t.test('nonces', async (t) => nonceStoreContract(t, async () => createRedisNonceStore(redis), next))
  t.test('pin reservations', async (t) => pinReservationsContract(t, async () => createRedisPinReservations(redis), next))
  t.test('rate limits', async (t) => rateLimitContract(t, { REDIS_CLUSTER_NODES: clusterNodes, REDIS_KEY_PREFIX: keyPrefix }))
  // each registry a key prefix of its own: the directory of instances is shared by a deployment
  const registry = async (opts?: { now: () => number }) => {
    const own = createRedisCluster(clusterNodes, { keyPrefix: `${keyPrefix}registry${++n}:` })
    t.teardown(() => own.quit())
    await own.connect() // the registry sends its commands without waiting for a connection
    return createRedisRegistry(own, opts)
  }
  t.test('connection registry', async (t) => connectionRegistryContract(t, registry, (what) => `${what}${next()}`))
  t.test('user status (the connection registry)', async (t) => userStatusContract(t, () => registry(), next))
}
