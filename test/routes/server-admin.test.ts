// The server and admin APIs on the embedded services: API keys (distinct from user tokens),
// idempotency keys, and what a service may publish to.
import t from 'tap'
import { build, connectAs } from '../helper.ts'
import { secret, token } from '../tokens.ts'

const SERVER_KEY = 'server-key-0123456789abcdefghij'
const ADMIN_KEY = 'admin-key-0123456789abcdefghijkl'

t.test('API keys: required, per API, and no user token opens them', async (t) => {
  const app = await build(t, { JWT_SECRET: secret, SERVER_API_KEYS: `other-key-0123456789abcdefgh, ${SERVER_KEY}`, ADMIN_API_KEYS: ADMIN_KEY })
  const publish = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/api/server/publish', headers, payload: { channelId: 'news', content: 'hello' } })
  t.equal((await publish({})).statusCode, 401, 'no key')
  t.match((await publish({})).json().message, /missing API key/)
  t.equal((await publish({ authorization: `Bearer ${token({ sub: 'alice' })}` })).statusCode, 401, 'a user token is no API key')
  t.equal((await publish({ 'x-api-key': ADMIN_KEY })).statusCode, 401, 'an admin key does not open the server API')
  t.equal((await publish({ 'x-api-key': 'wrong-key-0123456789abcdefghij' })).statusCode, 401)
  const ok = await publish({ 'x-api-key': SERVER_KEY })
  t.equal(ok.statusCode, 201, 'the second configured key works (auth on, no user token)')
  t.match(ok.json(), { channelId: 'news', senderId: 'system', senderName: 'system', content: 'hello', position: { offset: String } })
  t.equal((await app.inject({ url: '/api/admin/users/alice/connections', headers: { 'x-api-key': SERVER_KEY } })).statusCode, 401, 'a server key does not open the admin API')
  t.same((await app.inject({ url: '/api/admin/users/alice/connections', headers: { 'x-api-key': ADMIN_KEY } })).json(), { connections: [] })
})

t.test('an API with no keys configured is off', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/api/server/publish', headers: { 'x-api-key': SERVER_KEY }, payload: { channelId: 'news', content: 'hello' } })
  t.equal(res.statusCode, 401)
  t.match(res.json().message, /server API is off/)
})

t.test('idempotency keys: a repeat gets the first answer, another body a 409; broadcast; status channels refused', async (t) => {
  const app = await build(t, { SERVER_API_KEYS: SERVER_KEY })
  const headers = { 'x-api-key': SERVER_KEY, 'idempotency-key': 'job-1' }
  const first = await app.inject({ method: 'POST', url: '/api/server/publish', headers, payload: { channelId: 'news', content: 'once', senderId: 'billing', senderName: 'Billing' } })
  const again = await app.inject({ method: 'POST', url: '/api/server/publish', headers, payload: { channelId: 'news', content: 'once', senderId: 'billing', senderName: 'Billing' } })
  t.equal(first.statusCode, 201)
  t.equal(again.statusCode, 201)
  t.same(again.json(), first.json(), 'the same message')
  t.equal(again.headers['idempotent-replayed'], 'true')
  const other = await app.inject({ method: 'POST', url: '/api/server/publish', headers, payload: { channelId: 'news', content: 'different' } })
  t.equal(other.statusCode, 409)
  // The service's message, deleted by its sender (auth off: x-user-id names it): a repeat is a 409, not the first answer.
  t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${first.json().id}`, headers: { 'x-user-id': 'billing' } })).statusCode, 204)
  const gone = await app.inject({ method: 'POST', url: '/api/server/publish', headers, payload: { channelId: 'news', content: 'once', senderId: 'billing', senderName: 'Billing' } })
  t.equal(gone.statusCode, 409)
  t.match(gone.json(), { error: 'Conflict', message: new RegExp(`Idempotency-Key "job-1" was answered with message ${first.json().id}, deleted since`) })

  const broadcast = await app.inject({ method: 'POST', url: '/api/server/broadcast', headers: { 'x-api-key': SERVER_KEY }, payload: { channelIds: ['a', 'b', 'user:carol'], content: 'maintenance at 5' } })
  t.equal(broadcast.statusCode, 201)
  t.same(broadcast.json().messages.map((m: any) => m.channelId), ['a', 'b', 'user:carol'], 'one message per channel, personal channels included')
  const status = await app.inject({ method: 'POST', url: '/api/server/publish', headers: { 'x-api-key': SERVER_KEY }, payload: { channelId: 'status:carol', content: 'spoof' } })
  t.equal(status.statusCode, 403)
  const tooMany = await app.inject({ method: 'POST', url: '/api/server/broadcast', headers: { 'x-api-key': SERVER_KEY }, payload: { channelIds: Array.from({ length: 101 }, (_, i) => `c${i}`), content: 'x' } })
  t.equal(tooMany.statusCode, 400)
})

t.test('a broadcast that fails part-way: the retry under the same Idempotency-Key publishes only the channels that failed', async (t) => {
  const app = await build(t, { SERVER_API_KEYS: SERVER_KEY })
  const appended = new Map<string, number>()
  const produce = app.bus.produce.bind(app.bus)
  let refuse = true
  // c3's partition refuses once (a leader change): the other channels are appended
  app.bus.produce = async (topic, key, value) => {
    if (topic === 'messages' && key === 'c3' && refuse) { refuse = false; throw new Error('NOT_LEADER_OR_FOLLOWER') }
    const position = await produce(topic, key, value)
    if (topic === 'messages') appended.set(key, (appended.get(key) ?? 0) + 1)
    return position
  }
  const channelIds = ['c1', 'c2', 'c3', 'c4', 'c5']
  const send = (content = 'v2.3 is out') => app.inject({ method: 'POST', url: '/api/server/broadcast', headers: { 'x-api-key': SERVER_KEY, 'idempotency-key': 'release-42' }, payload: { channelIds, content } })
  const first = await send()
  t.equal(first.statusCode, 503)
  t.match(first.json().message, /4 of 5 channels published.*same Idempotency-Key/)
  const retry = await send()
  t.equal(retry.statusCode, 201)
  t.same(Object.fromEntries(appended), { c1: 1, c2: 1, c3: 1, c4: 1, c5: 1 }, 'each channel got the message once')
  t.same(retry.json().messages.map((m: any) => m.channelId), channelIds)
  const again = await send()
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), retry.json(), 'then the whole answer is remembered')
  t.equal((await send('v2.4 is out')).statusCode, 409, 'the key with another body is still a conflict')
})

t.test('admin: list a user\'s connections, disconnect them with 4403', async (t) => {
  const app = await build(t, { ADMIN_API_KEYS: ADMIN_KEY })
  const headers = { 'x-api-key': ADMIN_KEY }
  const one = await connectAs(app, t, 'henry')
  const two = await connectAs(app, t, 'henry')
  await connectAs(app, t, 'iris')
  await app.connections.settled()
  const listed = (await app.inject({ url: '/api/admin/users/henry/connections', headers })).json()
  t.same(listed.connections.map((c: any) => c.connectionId).sort(), [one.id, two.id].sort())
  t.match(listed.connections[0], { userId: 'henry', instanceId: app.instanceId, transport: 'uws', connectedAt: String })
  const closed = Promise.all([one, two].map(({ client }) => new Promise<number>((resolve) => client.ws.once('close', resolve))))
  const res = await app.inject({ method: 'POST', url: '/api/admin/users/henry/disconnect', headers })
  t.equal(res.statusCode, 202)
  t.same(await closed, [4403, 4403], 'both sockets closed with 4403')
})
