// The connections plugin on the embedded services: lifecycle events, user status, leases.
import { once } from 'node:events'
import t from 'tap'
import { build, connectAs } from '../helper.ts'
import { topicLog, isConn, isStatus } from '../connections-log.ts'
import { createEmbeddedRegistry } from '../../plugins/connections/embedded.ts'
import { disconnectReason } from '../../plugins/connections/index.ts'

t.test('connected, subscribed, unsubscribed, disconnected and status for an identified user', async (t) => {
  const log = topicLog()
  const app = await build(t, {}, { handlers: log.handlers })
  const { client, id } = await connectAs(app, t, 'alice')
  const connected = await log.next(isConn(id, 'connected'))
  t.match(connected, { v: 1, id: `${id}:connected`, userId: 'alice', instanceId: app.instanceId, data: { transport: 'uws' } })
  const online = await log.next(isStatus('alice', 'online'))
  t.same((await app.connections.statuses(['alice']))[0], { userId: 'alice', status: 'online', version: online.data.version })

  await client.subscribe('lobby')
  t.match(await log.next(isConn(id, 'subscribed')), { id: `${id}:subscribed:lobby:1`, data: { channel: 'lobby' } })
  client.send({ op: 'unsubscribe', channel: 'lobby' })
  t.match(await log.next(isConn(id, 'unsubscribed')), { data: { channel: 'lobby' } })

  client.ws.close(4000, 'bye')
  t.match(await log.next(isConn(id, 'disconnected')), { id: `${id}:disconnected`, data: { reason: 'client_closed', code: 4000, connectedAt: String } })
  const offline = await log.next(isStatus('alice', 'offline'))
  t.ok(offline.data.version > online.data.version, 'the status version grows')
  await app.connections.settled()
  t.same(log.of(id).map((e) => e.type), ['connected', 'subscribed', 'unsubscribed', 'disconnected'], 'each once, in order; the personal channel is not reported')
  t.same(log.of(id).map((e) => e.id), [`${id}:connected`, `${id}:subscribed:lobby:1`, `${id}:unsubscribed:lobby:2`, `${id}:disconnected`])
  t.same((await app.connections.statuses(['alice']))[0].status, 'offline')
})

t.test('a resubscribe is a new fact with a new id: a consumer that keeps the first of each id sees the connection subscribed', async (t) => {
  const log = topicLog()
  // every change reported at once (no churn window): the facts are what this test counts
  const app = await build(t, { WS_CHURN_WINDOW_MS: 0 }, { handlers: log.handlers })
  const { client, id } = await connectAs(app, t, 'alice')
  await client.subscribe('general')
  client.send({ op: 'unsubscribe', channel: 'general' })
  await log.next(isConn(id, 'unsubscribed'))
  await client.subscribe('general')
  await log.next((e) => isConn(id, 'subscribed')(e) && log.of(id, 'subscribed').length === 2)
  await app.connections.settled()
  const ids = log.of(id).map((e) => e.id)
  t.equal(new Set(ids).size, ids.length, `every fact has its own id: ${ids.join(', ')}`)
  // The consumer of docs/connections.md: keep the first of each id.
  const seen = new Set<string>()
  const subscribed = new Set<string>()
  for (const e of log.of(id)) {
    if (seen.has(e.id)) continue
    seen.add(e.id)
    if (e.type === 'subscribed') subscribed.add(e.data.channel)
    if (e.type === 'unsubscribed') subscribed.delete(e.data.channel)
  }
  t.ok(subscribed.has('general'), 'the consumer knows the connection is subscribed again')
  t.ok([...app.fanout.hub.connections()].find((c) => c.id === id)?.channels.has('general'), 'as it is')
})

t.test('a user is online while any connection is open; anonymous connections are nobody', async (t) => {
  const log = topicLog()
  const app = await build(t, {}, { handlers: log.handlers })
  await connectAs(app, t)
  const first = await connectAs(app, t, 'bob')
  const second = await connectAs(app, t, 'bob')
  await log.next(isConn(second.id, 'connected'))
  await app.connections.settled()
  t.equal(log.seen.filter((e) => e.type === 'connected').length, 2, 'no event for the anonymous connection')
  t.equal(log.seen.filter(isStatus('bob', 'online')).length, 1, 'one online for two connections')
  t.same((await app.connections.list('bob')).map((c) => c.connectionId).sort(), [first.id, second.id].sort())

  await first.client.close()
  await log.next(isConn(first.id, 'disconnected'))
  await app.connections.settled()
  t.equal((await app.connections.statuses(['bob']))[0].status, 'online', 'still online with one connection left')
  t.equal(log.seen.filter(isStatus('bob', 'offline')).length, 0)
  await second.client.close()
  await log.next(isStatus('bob', 'offline'))
})

t.test('the connections of an instance whose lease lapsed are reported lost once, by another', async (t) => {
  let clock = 1_000_000_000_000
  const registry = createEmbeddedRegistry({ now: () => clock })
  const log = topicLog()
  const app = await build(t, { CONNECTION_LEASE_SECONDS: 30 }, { handlers: log.handlers, connections: registry })
  // A dead instance: it took a lease and recorded a connection, then stopped renewing.
  const lease = await registry.start('dead', 'run', 10_000)
  if (!('gen' in lease)) throw new Error('no lease')
  await registry.add({ connectionId: 'c1', userId: 'carol', instanceId: 'dead', transport: 'uws', connectedAt: new Date(clock).toISOString(), gen: lease.gen })
  t.same((await app.connections.statuses(['carol']))[0].status, 'online')

  await app.connections.tick()
  t.equal(log.of('c1').length, 0, 'nothing while the lease holds')
  clock += 10_001
  await app.connections.tick()
  t.match(await log.next(isConn('c1', 'disconnected')), { id: 'c1:disconnected', instanceId: 'dead', userId: 'carol', data: { reason: 'instance_lost', code: null } })
  await log.next(isStatus('carol', 'offline'))
  await app.connections.tick()
  await app.connections.tick()
  await app.connections.settled()
  t.equal(log.of('c1', 'disconnected').length, 1, 'reported once')
  t.same((await app.connections.statuses(['carol']))[0].status, 'offline')
  t.same(await registry.claim(1000), null, 'nothing left to claim')
})

t.test('an instance that finds its lease claimed closes its sockets with 1012 and reports nothing itself', async (t) => {
  let clock = 1_000_000_000_000
  const registry = createEmbeddedRegistry({ now: () => clock })
  const log = topicLog()
  const app = await build(t, { CONNECTION_LEASE_SECONDS: 30 }, { handlers: log.handlers, connections: registry })
  const { client, id } = await connectAs(app, t, 'dave')
  await log.next(isConn(id, 'connected'))
  // Frozen past its lease: another instance claims it (and will report its connections).
  clock += 30_001
  const claimed = await registry.claim(30_000)
  t.equal(claimed?.instanceId, app.instanceId)
  t.same(claimed?.connections.map((c) => c.connectionId), [id])
  const closed = once(client.ws, 'close')
  await app.connections.tick()
  t.equal((await closed)[0], 1012, 'closed with 1012 (lease lost)')
  await app.connections.settled()
  t.equal(log.of(id, 'disconnected').length, 0, 'the claimant reports it, not this instance')
  t.same(await registry.claim(30_000), null, 'the instance\'s new generation is not claimable')
})

t.test('an INSTANCE_ID that a live instance holds is refused at start, naming it', async (t) => {
  const registry = createEmbeddedRegistry()
  const config = { CONNECTION_LEASE_SECONDS: 1, INSTANCE_ID: 'twin' }
  await build(t, config, { connections: registry })
  // The first one renews its lease (every third of a second) while the second one waits to see.
  await t.rejects(build(t, config, { connections: registry }), { message: /INSTANCE_ID "twin" is in use/ })
})

t.test('a restart of a crashed INSTANCE_ID starts, and reports what the crashed run left, once', async (t) => {
  const registry = createEmbeddedRegistry()
  const log = topicLog()
  // The crashed run: its lease is unexpired, but nobody renews it any more.
  const crashed = await registry.start('phoenix', 'crashed-run', 1000)
  if (!('gen' in crashed)) throw new Error('no lease')
  await registry.add({ connectionId: 'left', userId: 'fay', instanceId: 'phoenix', transport: 'uws', connectedAt: new Date().toISOString(), gen: crashed.gen })
  const produced: Array<Record<string, any>> = []
  const app = await build(t, { CONNECTION_LEASE_SECONDS: 1, INSTANCE_ID: 'phoenix' }, { handlers: log.handlers, connections: registry }, async (app) => {
    app.connections.events.on('produced', (e) => produced.push(e))
  })
  // reported while it started (before its consumers joined: read from what it produced)
  t.match(produced, [{ connectionId: 'left', type: 'disconnected', instanceId: 'phoenix', data: { reason: 'instance_lost' } }, { userId: 'fay', status: 'offline' }])
  const { id } = await connectAs(app, t, 'fay')
  await log.next(isConn(id, 'connected'))
  await app.connections.tick()
  await app.connections.settled()
  t.equal(produced.filter((e) => e.connectionId === 'left').length, 1, 'reported once')
  t.same((await app.connections.statuses(['fay']))[0].status, 'online', 'this run\'s own connection is not a leftover')
})

t.test('disconnect reasons follow the close code and who closed', async (t) => {
  t.same(disconnectReason({ code: 1001, by: 'server' }), { reason: 'server_shutdown', code: 1001 })
  t.same(disconnectReason({ code: 1001, by: 'client' }), { reason: 'client_closed', code: 1001 })
  t.same(disconnectReason({ code: 4008, by: 'server' }), { reason: 'slow_consumer', code: 4008 })
  t.same(disconnectReason({ code: 4403, by: 'server' }), { reason: 'admin_disconnect', code: 4403 })
  t.same(disconnectReason({ code: 1006, by: 'client' }), { reason: 'connection_lost', code: 1006 })
  t.same(disconnectReason(undefined), { reason: 'connection_lost', code: null })
})
