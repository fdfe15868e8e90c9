// Idempotent posting: the same nonce from the same sender gives the first message and never a second.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import { buildReal, realNames, requireServices } from '../services.ts'

const send = (app: FastifyInstance, body: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'once', senderId: 'ada', ...body } })

/** Counts what reaches the log. */
function countProduced (app: FastifyInstance) {
  const counter = { n: 0 }
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async (...args) => { counter.n++; return produce(...args) }
  return counter
}

t.test('sequential retries return the first message (201, same body, idempotent-replayed)', async (t) => {
  const app = await build(t)
  const produced = countProduced(app)
  const first = await send(app, { nonce: 'n-1' })
  const again = await send(app, { nonce: 'n-1' })
  t.equal(first.statusCode, 201)
  t.equal(again.statusCode, 201)
  t.same(again.json(), first.json(), 'the same message, position included')
  t.notOk(first.headers['idempotent-replayed'])
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(produced.n, 1, 'one event on the log')
  await handled(app, 'messages-store', first.json().position)
  t.equal((await app.store.page('general', { limit: 10 })).length, 1, 'one stored message')
  t.not((await send(app, { nonce: 'n-1', senderId: 'bob' })).json().id, first.json().id, 'another sender has its own nonces')
  t.not((await send(app, {})).json().id, first.json().id, 'no nonce, no deduplication')
  t.match((await send(app, { nonce: 'n-1', content: 'something else' })).json(), { statusCode: 409, message: /already used for a different message/ })
})

t.test('a nonce whose message was deleted since: 409 naming it, and nothing posted', async (t) => {
  const app = await build(t)
  const first = (await send(app, { nonce: 'n-gone' })).json()
  const deleted = await app.inject({ method: 'DELETE', url: `/api/messages/${first.id}`, headers: { 'x-user-id': 'ada' } })
  t.equal(deleted.statusCode, 204, 'deleted right after its 201')
  const produced = countProduced(app)
  const again = await send(app, { nonce: 'n-gone' })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { statusCode: 409, error: 'Conflict', message: new RegExp(`nonce "n-gone" was answered with message ${first.id}, deleted since; use a new nonce`) })
  t.equal(produced.n, 0, 'nothing produced: the first post was done, and a repeat never posts again')
  t.equal((await send(app, { nonce: 'n-new' })).statusCode, 201, 'a new nonce posts')
})

t.test('concurrent requests with one nonce make one message', async (t) => {
  const app = await build(t)
  const produced = countProduced(app)
  const results = await Promise.all(Array.from({ length: 5 }, () => send(app, { nonce: 'race' })))
  t.same(results.map((r) => r.statusCode), [201, 201, 201, 201, 201])
  t.equal(new Set(results.map((r) => r.json().id)).size, 1, 'all answered with the same message')
  t.equal(produced.n, 1)
})

t.test('a failed first attempt frees the nonce for the retry', async (t) => {
  const app = await build(t)
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async () => { throw new Error('broker down') }
  t.equal((await send(app, { nonce: 'retry-me' })).statusCode, 503)
  app.bus.produce = produce
  const retry = await send(app, { nonce: 'retry-me' })
  t.equal(retry.statusCode, 201)
  t.notOk(retry.headers['idempotent-replayed'], 'the retry did the work')
})

t.test('real services: one message across two instances, sequential and concurrent', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const names = realNames('nonce')
  const [a, b] = [await buildReal(t, { names }), await buildReal(t, { names })]
  const produced = [countProduced(a), countProduced(b)]
  const first = await send(a, { nonce: 'x-1' })
  const retry = await send(b, { nonce: 'x-1' })
  t.equal(first.statusCode, 201)
  t.same(retry.json(), first.json(), 'the other instance returns the first message')
  const race = await Promise.all([send(a, { nonce: 'x-2' }), send(b, { nonce: 'x-2' }), send(a, { nonce: 'x-2' }), send(b, { nonce: 'x-2' })])
  t.equal(new Set(race.map((r) => r.json().id)).size, 1, 'concurrent requests on both instances: one message')
  t.equal(produced[0].n + produced[1].n, 2, 'two nonces, two events on the log')
  // the store handler is shared: either instance may have handled each event
  const stored = (position: unknown) => Promise.race([a, b].map((app) => handled(app, 'messages-store', position as never)))
  await stored(race[0].json().position)
  await stored(first.json().position)
  t.equal((await a.store.page('general', { limit: 10 })).length, 2, 'two stored messages')
})
