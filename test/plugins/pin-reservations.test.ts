import t from 'tap'
import { createEmbeddedPinReservations } from '../../plugins/pins/reservations-embedded.ts'
import { createRedisPinReservations } from '../../plugins/pins/reservations-redis.ts'
import { pinReservationsContract } from '../contracts/pin-reservations.ts'
import { cleanupReal, redisClient, requireService, unique as uniqueName } from '../services.ts'

let n = 0
const unique = () => `pins${++n}`

t.test('embedded', async (t) => pinReservationsContract(t, async () => createEmbeddedPinReservations(), unique))

t.test('redis', async (t) => {
  if (!await requireService(t, 'redis')) return
  const keyPrefix = `${uniqueName('pins')}:`
  t.teardown(() => cleanupReal({ keyPrefix }))
  const redis = redisClient(t, keyPrefix)
  pinReservationsContract(t, async () => createRedisPinReservations(redis), unique)

  t.test('two instances (two clients) racing for the last places of one channel take no more than the limit', async (t) => {
    const [a, b] = [createRedisPinReservations(redis), createRedisPinReservations(redisClient(t, keyPrefix))]
    const channel = unique()
    await a.load(channel, new Map())
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).pin(channel, i.toString(16).padStart(24, '0'), 50, Date.now() * 1000)))
    t.equal(results.filter((r) => r.outcome === 'new').length, 50)
    t.equal(await b.count(channel), 50)
  })

  t.test('a Redis that is down is a transient error naming it', async (t) => {
    const store = createRedisPinReservations(redisClient(t, keyPrefix, 'redis://127.0.0.1:1'))
    await t.rejects(store.count(unique()), { name: 'TransientError', message: /Redis at 127\.0\.0\.1:1 unavailable: pin count failed/ })
  })
})
