// Write rate limits: per user (per IP when anonymous), 429 with Retry-After; across instances via Redis.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.ts'
import { requireService, services, unique } from '../services.ts'
import { bearer, secret, token } from '../tokens.ts'

const post = (app: FastifyInstance, headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/api/messages', headers, remoteAddress, payload: { channelId: 'general', content: 'hi' } })

function assertLimited (t: Test, res: Awaited<ReturnType<typeof post>>, what: string) {
  t.equal(res.statusCode, 429, `${what}: 429`)
  t.match(res.json(), { statusCode: 429, error: 'Too Many Requests', message: /at most 3 writes per 1 minute; retry in/ }, `${what}: says the limit`)
  t.ok(Number(res.headers['retry-after']) > 0, `${what}: Retry-After in seconds`)
}

t.test('per authenticated user: the 4th write in the window is a 429, other users and reads are untouched', async (t) => {
  const app = await build(t, { JWT_SECRET: secret, RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW: '1 minute' })
  const alice = bearer(token({ sub: 'alice' }))
  for (let i = 0; i < 3; i++) t.equal((await post(app, alice, `10.0.0.${i}`)).statusCode, 201)
  assertLimited(t, await post(app, alice, '10.0.0.9'), 'alice from yet another address')
  t.equal((await post(app, bearer(token({ sub: 'bob' })))).statusCode, 201, 'bob has his own budget')
  const read = await app.inject({ method: 'GET', url: '/api/channels/general/messages', headers: alice })
  t.equal(read.statusCode, 200, 'reads are not limited')
})

t.test('anonymous (auth off, no x-user-id): per IP', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 3 })
  for (let i = 0; i < 3; i++) t.equal((await post(app, {}, '10.1.1.1')).statusCode, 201)
  assertLimited(t, await post(app, {}, '10.1.1.1'), 'same IP')
  t.equal((await post(app, {}, '10.1.1.2')).statusCode, 201, 'another IP')
  t.equal((await post(app, { 'x-user-id': 'named' }, '10.1.1.1')).statusCode, 201, 'a named user on that IP counts separately')
})

t.test('RATE_LIMIT_MAX=0 turns the limit off; a bad window stops start-up', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 0 })
  for (let i = 0; i < 5; i++) t.equal((await post(app)).statusCode, 201)
  await t.rejects(build(t, { RATE_LIMIT_WINDOW: 'soon' }), /RATE_LIMIT_WINDOW/)
})

t.test('Redis-backed: the limit holds across two instances', async (t) => {
  if (!await requireService(t, 'redis')) return
  const shared = { REDIS_URL: services.redis, REDIS_KEY_PREFIX: `${unique('rl')}:`, JWT_SECRET: secret, RATE_LIMIT_MAX: 3 }
  const [a, b] = [await build(t, shared), await build(t, shared)]
  const carol = bearer(token({ sub: 'carol' }))
  t.equal((await post(a, carol)).statusCode, 201)
  t.equal((await post(b, carol)).statusCode, 201)
  t.equal((await post(a, carol)).statusCode, 201)
  assertLimited(t, await post(b, carol), 'the 4th, on the other instance')
  t.equal((await post(b, bearer(token({ sub: 'dave' })))).statusCode, 201, 'another user is fine')
})
