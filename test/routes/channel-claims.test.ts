// A channel id that has carried a message cannot be claimed (created, e.g. private), even when its
// messages are deleted or not stored yet: the log's traces of the id count, not only the store.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import { as, handledBy, lastOn, post, recordProduced } from '../chat.ts'
import { createEmbeddedRecoveryLog } from '../../plugins/recovery/embedded.ts'

const claim = (app: FastifyInstance, id: string) =>
  app.inject({ method: 'POST', url: '/api/channels', headers: as('eve'), payload: { id, private: true } })

t.test('messages not stored yet: the id is taken once the log has the message', async (t) => {
  const app = await build(t)
  // the store handler's write waits until the end: meanwhile the message is only in the log and its traces
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const store = app.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  for (const write of ['apply', 'upsert']) {
    const original = store[write]
    if (typeof original === 'function') store[write] = async (...args) => { await gate; return original.apply(app.store, args) }
  }
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as('bob'), payload: { channelId: 'lobby', content: 'hi' } })
  t.equal(res.statusCode, 201)
  await handledBy(app, ['messages-recovery', 'messages-fanout'], res.json().position)
  t.same(await app.store.page('lobby', { limit: 1 }), [], 'the store has nothing yet')
  const claimed = await claim(app, 'lobby')
  t.equal(claimed.statusCode, 409)
  t.match(claimed.json(), { statusCode: 409, message: /lobby .*cannot be claimed/ })
  t.equal(await app.channels.store.get('lobby'), null, 'nothing was stored')
  release()
  await handled(app, 'messages-store', res.json().position)
})

t.test('messages all deleted: the id stays taken', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const message = await post(app, 'lobby', 'soon gone', 'bob')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('bob') })).statusCode, 204)
  await handled(app, 'messages-store', lastOn(produced, 'messages'))
  t.same(await app.store.page('lobby', { limit: 1 }), [], 'history is empty')
  t.equal((await claim(app, 'lobby')).statusCode, 409)
  t.equal(await app.channels.store.get('lobby'), null, 'nothing was stored')
})

t.test('another instance posted to it: the shared recovery log tells this one', async (t) => {
  const recoveryLog = createEmbeddedRecoveryLog({ size: 100, ttlSeconds: 60 })
  const app = await build(t, {}, { recoveryLog })
  // as another instance's messages-recovery handler would record a message of the channel
  await recoveryLog.append('elsewhere', { epoch: 'other', offset: '7' }, JSON.stringify({ op: 'event', channel: 'elsewhere', position: { epoch: 'other', offset: '7' }, type: 'message.deleted', data: { id: 'x', channelId: 'elsewhere' } }))
  t.equal((await claim(app, 'elsewhere')).statusCode, 409)
  t.equal((await claim(app, 'fresh')).statusCode, 201, 'an id that never carried a message can be created private')
})
