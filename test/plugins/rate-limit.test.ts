// Write rate limits: the contract in process and on Redis (test/contracts/rate-limit.ts; on Redis
// Cluster in test/cluster/redis-contracts.test.ts), and turning them off.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.ts'
import { requireService, services, unique } from '../services.ts'
import { rateLimitContract } from '../contracts/rate-limit.ts'

const post = (app: FastifyInstance) =>
  app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'hi' } })

t.test('in process', async (t) => rateLimitContract(t, {}))

t.test('on Redis', async (t) => {
  if (!await requireService(t, 'redis')) return
  rateLimitContract(t, { REDIS_URL: services.redis, REDIS_KEY_PREFIX: `${unique('rl')}:` })
})

t.test('RATE_LIMIT_MAX=0 turns the limit off; a bad window stops start-up', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 0 })
  for (let i = 0; i < 5; i++) t.equal((await post(app)).statusCode, 201)
  await t.rejects(build(t, { RATE_LIMIT_WINDOW: 'soon' }), /RATE_LIMIT_WINDOW/)
})
