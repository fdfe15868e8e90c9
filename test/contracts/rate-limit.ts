// The write rate limit contract, run in process (one instance) and on Redis and Redis Cluster
// (where the counters are shared, so the limit holds across instances): per user, per IP when
// anonymous, a 429 saying the limit with Retry-After; reads are never limited.
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.ts'
import { build } from '../helper.ts'
import { bearer, secret, token } from '../tokens.ts'
import { unique } from '../services.ts'

const post = (app: FastifyInstance, headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/api/messages', headers, remoteAddress, payload: { channelId: 'general', content: 'hi' } })

function assertLimited (t: Test, res: Awaited<ReturnType<typeof post>>, what: string) {
  t.equal(res.statusCode, 429, `${what}: 429`)
  t.match(res.json(), { statusCode: 429, error: 'Too Many Requests', message: /at most 3 writes per 1 minute; retry in/ }, `${what}: says the limit`)
  t.ok(Number(res.headers['retry-after']) > 0, `${what}: Retry-After in seconds`)
}

/** `services`: the settings naming where counters live ({} = in process); shared counters are tested across two instances. */
export function rateLimitContract (t: Test, services: Partial<Config>) {
  const shared = Boolean(services.REDIS_URL || services.REDIS_CLUSTER_NODES)
  const config = { ...services, JWT_SECRET: secret, RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW: '1 minute' }
  // users and addresses no other run of this contract on the same Redis has counted
  const user = () => bearer(token({ sub: unique('user') }))
  let host = 0
  const address = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${++host % 250}`

  t.test('per authenticated user: the 4th write in the window is a 429, other users and reads are untouched', async (t) => {
    const app = await build(t, config)
    const alice = user()
    for (let i = 0; i < 3; i++) t.equal((await post(app, alice, address())).statusCode, 201)
    assertLimited(t, await post(app, alice, address()), 'alice from yet another address')
    t.equal((await post(app, user())).statusCode, 201, 'bob has his own budget')
    const read = await app.inject({ method: 'GET', url: '/api/channels/general/messages', headers: alice })
    t.equal(read.statusCode, 200, 'reads are not limited')
  })

  t.test('anonymous (auth off, no x-user-id): per IP', async (t) => {
    const app = await build(t, { ...config, JWT_SECRET: '' })
    const ip = address()
    for (let i = 0; i < 3; i++) t.equal((await post(app, {}, ip)).statusCode, 201)
    assertLimited(t, await post(app, {}, ip), 'same IP')
    t.equal((await post(app, {}, address())).statusCode, 201, 'another IP')
    t.equal((await post(app, { 'x-user-id': unique('named') }, ip)).statusCode, 201, 'a named user on that IP counts separately')
  })

  if (shared) {
    t.test('shared counters: the limit holds across two instances', async (t) => {
      const [a, b] = [await build(t, config), await build(t, config)]
      const carol = user()
      t.equal((await post(a, carol)).statusCode, 201)
      t.equal((await post(b, carol)).statusCode, 201)
      t.equal((await post(a, carol)).statusCode, 201)
      assertLimited(t, await post(b, carol), 'the 4th, on the other instance')
      t.equal((await post(b, user())).statusCode, 201, 'another user is fine')
    })
  }
}
