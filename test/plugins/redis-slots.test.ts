// Every script and transaction a Redis module sends touches keys of one hash slot, so it runs on a
// Redis Cluster (no CROSSSLOT): each module's contract suite runs on one Redis through a client that
// checks every command the way a cluster would (test/redis-slots.ts). No cluster needed.
import t, { type Test as Tap } from 'tap'
import { createRedisCache } from '../../plugins/cache/redis.ts'
import { createRedisRecoveryLog } from '../../plugins/recovery/redis.ts'
import { createRedisPresence } from '../../plugins/presence/redis.ts'
import { createRedisNonceStore } from '../../plugins/nonces/redis.ts'
import { createRedisPinReservations } from '../../plugins/pins/reservations-redis.ts'
import { createRedisRegistry } from '../../plugins/connections/redis.ts'
import { cacheContract } from '../contracts/cache.ts'
import { recoveryLogContract } from '../contracts/recovery-log.ts'
import { presenceContract } from '../contracts/presence.ts'
import { nonceStoreContract } from '../contracts/nonces.ts'
import { pinReservationsContract } from '../contracts/pin-reservations.ts'
import { connectionRegistryContract } from '../contracts/connection-registry.ts'
import { userStatusContract } from '../contracts/user-status.ts'
import { cleanupReal, redisClient, requireService, unique } from '../services.ts'
import { recordSlots } from '../redis-slots.ts'

if (await requireService(t, 'redis')) {
  const keyPrefix = `${unique('slots')}:`
  t.teardown(() => cleanupReal({ keyPrefix }))
  let n = 0
  const next = () => `s${++n}`

  t.test('the recorder flags a script and a transaction over two slots, and not one slot', async (t) => {
    const redis = redisClient(t, keyPrefix)
    const recorder = recordSlots(redis)
    await redis.connect()
    await redis.eval('return 1', 2, '{a}:x', '{a}:y')
    await redis.multi().get('{a}:x').get('{a}:y').exec()
    t.same(recorder.violations, [], 'one tag: one slot')
    await redis.eval('return 1', 2, '{a}:x', '{b}:y')
    await redis.multi().get('{a}:x').get('{b}:y').exec()
    t.same(recorder.violations.map((v) => v.what), ['eval', 'MULTI get get EXEC'], 'two tags: both caught')
    t.same(recorder.violations[0].keys, [`${keyPrefix}{a}:x`, `${keyPrefix}{b}:y`], 'with the keys as the cluster sees them (prefixed)')
  })

  type Redis = ReturnType<typeof redisClient>
  const suites: Array<[string, (t: Tap, redis: Redis) => void]> = [
    ['cache', (t, redis) => cacheContract(t, async (opts) => createRedisCache(redis, opts), next)],
    ['recovery log', (t, redis) => recoveryLogContract(t, async ({ size }) => createRedisRecoveryLog(redis, { size, ttlSeconds: 60 }), next)],
    ['presence', (t, redis) => presenceContract(t, async (opts) => createRedisPresence(redis, opts), next)],
    ['nonces', (t, redis) => nonceStoreContract(t, async () => createRedisNonceStore(redis), next)],
    ['pin reservations', (t, redis) => pinReservationsContract(t, async () => createRedisPinReservations(redis), next)]
  ]

  for (const [name, suite] of suites) {
    t.test(`${name}: every script and transaction of its contract suite stays in one slot`, async (t) => {
      const redis = redisClient(t, keyPrefix)
      const recorder = recordSlots(redis)
      await t.test('its contract suite', async (t) => suite(t, redis))
      t.ok(recorder.sent.size > 0, `the suite went through the recorder (${[...recorder.sent.keys()].join(', ')})`)
      t.same(recorder.violations, [], 'no script, multi-key command or transaction over two slots')
    })
  }

  t.test('connection registry: every script and transaction of its contract suites stays in one slot', async (t) => {
    const recorders: Array<ReturnType<typeof recordSlots>> = []
    // each registry a key prefix of its own: the directory of instances is shared by a deployment
    const make = async (opts?: { now: () => number }) => {
      const redis = redisClient(t, `${keyPrefix}registry${++n}:`)
      recorders.push(recordSlots(redis))
      await redis.connect()
      return createRedisRegistry(redis, opts)
    }
    await t.test('the registry contract', async (t) => connectionRegistryContract(t, make, (what) => `${what}${next()}`))
    await t.test('the user status contract', async (t) => userStatusContract(t, () => make(), next))
    t.ok(recorders.some((r) => r.sent.size > 0), 'the suites went through the recorders')
    t.same(recorders.flatMap((r) => r.violations), [], 'no script, multi-key command or transaction over two slots')
  })
}
