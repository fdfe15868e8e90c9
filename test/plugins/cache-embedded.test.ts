import t from 'tap'
import { createEmbeddedCache } from '../../plugins/cache/embedded.ts'
import { cacheContract, message } from '../contracts/cache.ts'

let n = 0
cacheContract(t, async (opts) => createEmbeddedCache(opts), () => `c${++n}`)

t.test('entries expire after the TTL unless written again', async (t) => {
  let now = 0
  const cache = createEmbeddedCache({ recent: 5, ttlSeconds: 10 }, () => now)
  await cache.fill('ch', [message('ch', 'a')], true)
  now = 9_000
  t.ok(await cache.page('ch', { limit: 5 }), 'still there before the TTL')
  now = 10_001
  t.equal(await cache.page('ch', { limit: 5 }), null, 'gone after it')
})
