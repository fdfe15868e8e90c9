// WebSocket access: tokens checked at the upgrade on both ports, private and personal channels
// refused at subscribe (and nothing delivered), connection and subscription limits.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import { createEmbeddedStore } from '../../plugins/store/embedded.ts'
import { createEmbeddedCache } from '../../plugins/cache/embedded.ts'
import { TestClient, upgradeStatus } from './helpers.ts'
import { keys, secret, token } from '../tokens.ts'
import type { Config } from '../../config.ts'

async function listening (t: Parameters<typeof build>[0], config: Partial<Config>) {
  const app = await build(t, { HOST: '127.0.0.1', WS_IDLE_TIMEOUT: 0, ...config })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const apiPort = (app.server.address() as { port: number }).port
  const urls = { uws: `ws://127.0.0.1:${app.fanout.uwsPort}/ws`, fastify: `ws://127.0.0.1:${apiPort}/ws` }
  return { app, urls }
}

const post = (app: FastifyInstance, sub: string, channelId: string, content: string) =>
  app.inject({ method: 'POST', url: '/api/messages', headers: { authorization: `Bearer ${token({ sub })}` }, payload: { channelId, content } })

t.test('auth on: missing, forged, expired, malformed, wrong-issuer tokens are 401 before any socket, on both ports', async (t) => {
  const { app, urls } = await listening(t, { JWT_SECRET: secret, JWT_ISSUER: 'issuer' })
  const bad: Array<[string, string, RegExp]> = [
    ['missing', '', /missing token/],
    ['forged', `?token=${token({ key: 'y'.repeat(40), iss: 'issuer' })}`, /signature/],
    ['expired', `?token=${token({ expiresIn: -5, iss: 'issuer' })}`, /expired/],
    ['malformed', '?token=abc', /malformed/],
    ['wrong issuer', `?token=${token({ iss: 'other' })}`, /iss/],
    ['wrong algorithm', `?token=${token({ algorithm: 'RS256', key: keys.rsa.privateKey, iss: 'issuer' })}`, /algorithm/],
    ['?user= is no identity with auth on', '?user=alice', /missing token/]
  ]
  for (const [transport, url] of Object.entries(urls)) {
    for (const [name, query, message] of bad) {
      const refused = await upgradeStatus(url + query)
      t.equal(refused.status, 401, `${transport} ${name}: 401`)
      t.match(JSON.parse(refused.body), { statusCode: 401, error: 'Unauthorized', message }, `${transport} ${name}: names why`)
    }
  }
  t.same(app.fanout.stats.connections, { uws: 0, fastify: 0 }, 'no refused upgrade became a connection')
  for (const [transport, url] of Object.entries(urls)) {
    const ok = await TestClient.open(url, `?token=${token({ sub: 'alice', iss: 'issuer' })}`)
    t.equal(ok.frames[0].user, 'alice', `${transport}: a valid token connects as its sub`)
    ok.close()
  }
})

t.test('auth off: ?user= still names the connection; a bad one is a 401', async (t) => {
  const { urls } = await listening(t, {})
  for (const url of Object.values(urls)) {
    const c = await TestClient.open(url, '?user=bob')
    t.equal(c.frames[0].user, 'bob')
    c.close()
    t.equal((await upgradeStatus(`${url}?user=${encodeURIComponent('{"$gt":""}')}`)).status, 401)
  }
})

t.test('private and personal channels: non-members get forbidden and no events', async (t) => {
  const { app, urls } = await listening(t, { JWT_SECRET: secret })
  await app.inject({ method: 'POST', url: '/api/channels', headers: { authorization: `Bearer ${token({ sub: 'alice' })}` }, payload: { id: 'vault', private: true } })
  for (const url of Object.values(urls)) {
    const alice = await TestClient.open(url, `?token=${token({ sub: 'alice' })}`)
    const eve = await TestClient.open(url, `?token=${token({ sub: 'eve' })}`)
    t.match(await alice.subscribe('vault'), { op: 'subscribed', channel: 'vault' })
    t.match(await eve.subscribe('vault'), { op: 'error', code: 'forbidden', message: /vault is private/ })
    t.match(await eve.subscribe('user:alice'), { op: 'error', code: 'forbidden', message: /personal/ })
    const res = await post(app, 'alice', 'vault', 'for members only')
    t.equal(res.statusCode, 201)
    t.equal((await alice.next((f) => f.op === 'event' && f.type === 'message.created')).data.id, res.json().id, 'the member gets the event')
    await eve.barrier()
    t.same(eve.events('vault'), [], 'the non-member got nothing (not even presence)')
    alice.close(); eve.close()
  }
})

t.test('removing a member ends their live subscription', async (t) => {
  const { app, urls } = await listening(t, { JWT_SECRET: secret })
  const auth = (sub: string) => ({ authorization: `Bearer ${token({ sub })}` })
  await app.inject({ method: 'POST', url: '/api/channels', headers: auth('alice'), payload: { id: 'club', private: true, members: ['bob'] } })
  const bob = await TestClient.open(urls.uws, `?token=${token({ sub: 'bob' })}`)
  t.match(await bob.subscribe('club'), { op: 'subscribed' })
  t.equal((await app.inject({ method: 'DELETE', url: '/api/channels/club/members/bob', headers: auth('alice') })).statusCode, 204)
  t.match(await bob.next((f) => f.op === 'error'), { code: 'forbidden', message: /channel club is private/ })
  const seen = bob.events('club').length
  const after = await post(app, 'alice', 'club', 'after bob left')
  await handled(app, 'messages-fanout', after.json().position) // published by now: anything sent to bob precedes the pong
  await bob.barrier()
  t.same(bob.events('club').slice(seen), [], 'nothing after the removal')
  bob.close()
})

t.test('a member removed on one instance gets no message accepted after the 204 on another, however late that instance reads the change', async (t) => {
  // Two instances on one log and one message store; B reads the channel store through a gate, held
  // shut from the removal on, as a slow MongoDB read or a busy `channels` consumer would hold it.
  const shared = { bus: createEmbeddedBus({ topicPrefix: '', partitions: 3, instanceId: 'x' }), store: createEmbeddedStore(), cache: createEmbeddedCache({ recent: 100, ttlSeconds: 3600 }) }
  const a = await build(t, { JWT_SECRET: secret, INSTANCE_ID: 'a' }, shared)
  const b = await build(t, { JWT_SECRET: secret, INSTANCE_ID: 'b' }, shared)
  const channels = a.channels.store
  let open = () => {}
  let shut = false
  const gate = new Promise<void>((resolve) => { open = resolve })
  t.teardown(() => open())
  Object.assign(b.channels.store, {
    get: async (id: string) => { if (shut) await gate; return channels.get(id) },
    create: channels.create,
    addMember: channels.addMember,
    removeMember: channels.removeMember
  })
  const auth = (sub: string) => ({ authorization: `Bearer ${token({ sub })}` })
  t.equal((await a.inject({ method: 'POST', url: '/api/channels', headers: auth('alice'), payload: { id: 'room', private: true, members: ['eve'] } })).statusCode, 201)
  const eve = await TestClient.open(`ws://127.0.0.1:${b.fanout.uwsPort}/ws`, `?token=${token({ sub: 'eve' })}`)
  t.match(await eve.subscribe('room'), { op: 'subscribed' })

  shut = true
  t.equal((await a.inject({ method: 'DELETE', url: '/api/channels/room/members/eve', headers: auth('alice') })).statusCode, 204)
  const after = await post(a, 'alice', 'room', 'eve is out, here is the plan')
  t.equal(after.statusCode, 201)
  await handled(b, 'messages-fanout', after.json().position) // published on B by now: anything sent to eve precedes the pong
  await eve.barrier()
  t.notOk(eve.events('room').some((f) => f.type === 'message.created'), 'eve got no message posted after her removal')
  t.match(eve.frames.find((f) => f.op === 'error'), { code: 'forbidden', message: /channel room is private/ }, 'she was dropped first')
  open()
  eve.close()
})

t.test('subscribers from before a channel was created private are dropped', async (t) => {
  const { app, urls } = await listening(t, { JWT_SECRET: secret })
  const auth = (sub: string) => ({ authorization: `Bearer ${token({ sub })}` })
  const eve = await TestClient.open(urls.uws, `?token=${token({ sub: 'eve' })}`)
  const bob = await TestClient.open(urls.fastify, `?token=${token({ sub: 'bob' })}`)
  t.match(await eve.subscribe('launch'), { op: 'subscribed' }, 'eve subscribes while the id is public')
  t.match(await bob.subscribe('launch'), { op: 'subscribed' })
  t.equal((await app.inject({ method: 'POST', url: '/api/channels', headers: auth('alice'), payload: { id: 'launch', private: true, members: ['bob'] } })).statusCode, 201)
  t.match(await eve.next((f) => f.op === 'error'), { code: 'forbidden', message: /channel launch is private/ })
  const seen = eve.events('launch').length // presence from while it was public
  const secret1 = await post(app, 'alice', 'launch', 'the plan')
  t.equal((await bob.next((f) => f.op === 'event' && f.type === 'message.created')).data.id, secret1.json().id, 'the member still gets events')
  await handled(app, 'messages-fanout', secret1.json().position)
  await eve.barrier()
  t.same(eve.events('launch').slice(seen), [], 'eve got nothing of the private channel')
  t.notOk(eve.events('launch').some((f) => f.type === 'message.created'), 'not its messages')
  eve.close(); bob.close()
})

t.test('connections per user: over the limit the upgrade is a 429, on both ports', async (t) => {
  const { urls } = await listening(t, { WS_MAX_CONNECTIONS_PER_USER: 2 })
  const open = [await TestClient.open(urls.uws, '?user=carol'), await TestClient.open(urls.fastify, '?user=carol')]
  for (const url of Object.values(urls)) {
    const refused = await upgradeStatus(`${url}?user=carol`)
    t.equal(refused.status, 429)
    t.match(JSON.parse(refused.body), { statusCode: 429, error: 'Too Many Requests', message: /at most 2 WebSocket connections per user/ })
  }
  const other = await TestClient.open(urls.uws, '?user=dave')
  t.equal(other.frames[0].user, 'dave', 'other users are not affected')
  for (const c of [...open, other]) c.close()
})

t.test('subscriptions per connection: WS_MAX_SUBSCRIPTIONS', async (t) => {
  const { urls } = await listening(t, { WS_MAX_SUBSCRIPTIONS: 2 })
  const c = await TestClient.open(urls.uws)
  t.match(await c.subscribe('a'), { op: 'subscribed' })
  t.match(await c.subscribe('b'), { op: 'subscribed' })
  t.match(await c.subscribe('c'), { op: 'error', code: 'too_many_subscriptions', message: /at most 2/ })
  c.close()
})

t.test('a subscribe still in its recovery lookup when the channel is made private never goes live', async (t) => {
  const { app, urls } = await listening(t, { JWT_SECRET: secret })
  const { hub } = app.fanout
  const recover = hub.decision('onSubscribe')!
  let entered!: () => void
  const inLookup = new Promise<void>((resolve) => { entered = resolve })
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  // Hold eve's subscribe in onSubscribe (the recovery hook) across the access change.
  hub.setDecision('onSubscribe', async (conn, channel, since, start) => {
    if (channel === 'launch') { entered(); await released }
    return recover(conn, channel, since, start)
  }, 'test', 'recovery')
  const eve = await TestClient.open(urls.uws, `?token=${token({ sub: 'eve' })}`)
  eve.send({ op: 'subscribe', channel: 'launch' })
  await inLookup
  const accessHandled = new Promise<void>((resolve) => {
    app.topicHandlers.events.on('handled', (h) => { if (h.handler === 'channels-access') resolve() })
  })
  const auth = { authorization: `Bearer ${token({ sub: 'alice' })}` }
  t.equal((await app.inject({ method: 'POST', url: '/api/channels', headers: auth, payload: { id: 'launch', private: true, members: ['bob'] } })).statusCode, 201)
  await accessHandled // every live subscriber was re-checked; eve's subscribe was not live yet
  release()
  t.match(await eve.next((f) => f.channel === 'launch' || f.op === 'error'), { op: 'error', code: 'forbidden', message: /launch is private/ }, 'refused, not subscribed')
  const secret1 = await post(app, 'alice', 'launch', 'the plan')
  await handled(app, 'messages-fanout', secret1.json().position)
  await eve.barrier()
  t.same(eve.events('launch'), [], 'eve got nothing of the private channel')
  eve.close()
})
