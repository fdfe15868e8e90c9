// The plugin: both transports share one hub and speak the same protocol.
import t from 'tap'
import Fastify from 'fastify'
import { CloseCodes } from '../../fanout/protocol.ts'
import fanout from '../../plugins/fanout.ts'
import { buildApp, testConfig, TestClient, upgradeStatus } from './helpers.ts'
import { protocolSuite } from './protocol-suite.ts'

t.test('uWS port', async (t) => {
  protocolSuite(t, async (t) => (await buildApp(t)).target('uws'), 1006)
})

t.test('API port (@fastify/websocket)', async (t) => {
  protocolSuite(t, async (t) => (await buildApp(t)).target('fastify'), CloseCodes.FRAME_TOO_BIG)
})

t.test('one publish reaches subscribers on both ports', async (t) => {
  const { app, target } = await buildApp(t)
  const [onUws, onApi] = await Promise.all([TestClient.open(target('uws').url), TestClient.open(target('fastify').url)])
  await onUws.subscribe('general')
  await onApi.subscribe('general')
  t.same(app.fanout.publish('general', 'message.created', { id: 'm1' }, { epoch: 'e', offset: '1' }), { outcome: 'sent', deliveries: 2 })
  await Promise.all([onUws.barrier(), onApi.barrier()])
  t.same(onUws.events(), onApi.events())
  t.equal(onUws.events().length, 1)
  t.same(app.fanout.stats.connections, { uws: 1, fastify: 1 })
  t.equal(app.fanout.stats, app.fanout.hub.stats)
  onUws.close(); onApi.close()
})

t.test('hooks set after registration apply; a refused upgrade is a 401 on both ports', async (t) => {
  const { app, target } = await buildApp(t)
  app.fanout.hub.setDecision('authenticate', async ({ token }) => token === 'good' ? { userId: 'u1' } : new Error('bad token'), 'test')
  for (const name of ['uws', 'fastify'] as const) {
    const refused = await upgradeStatus(`${target(name).url}?token=bad`)
    t.equal(refused.status, 401, name)
    t.match(JSON.parse(refused.body), { statusCode: 401, error: 'Unauthorized', message: 'bad token' }, name)
  }
  t.same(app.fanout.stats.connections, { uws: 0, fastify: 0 }, 'refused upgrades never became connections')
  for (const name of ['uws', 'fastify'] as const) {
    const ok = await TestClient.open(target(name).url, '?token=good')
    t.equal(ok.frames[0].user, 'u1', name)
    ok.close()
  }
})

t.test('hooks passed at registration apply', async (t) => {
  const { target } = await buildApp(t, { hooks: { authorizeSubscribe: async () => { throw Object.assign(new Error('nope'), { code: 'forbidden' }) } } })
  const c = await TestClient.open(target('fastify').url)
  t.match(await c.subscribe('general'), { op: 'error', code: 'forbidden', message: 'nope' })
  c.close()
})

t.test('closing the app closes every socket with 1001 on both ports', async (t) => {
  const { app, target } = await buildApp(t)
  const clients = await Promise.all([TestClient.open(target('uws').url), TestClient.open(target('fastify').url)])
  await app.close()
  const closes = await Promise.all(clients.map((c) => c.closed))
  t.same(closes.map((c) => c.code), [CloseCodes.GOING_AWAY, CloseCodes.GOING_AWAY])
})

t.test('uwsPort is known once ready; a missing app.config fails the boot', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.decorate('config', testConfig())
  app.register(fanout)
  await app.after()
  t.throws(() => app.fanout.uwsPort, /known once the app is ready/)
  await app.ready()
  t.ok(app.fanout.uwsPort > 0)

  const bare = Fastify()
  await t.rejects(async () => { await bare.register(fanout).ready() }, /app\.config is missing/)
})
