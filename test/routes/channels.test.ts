// Channels: creation, members, and private / personal channels closed to everyone else over HTTP.
import t from 'tap'
import { build, connectAs, handled } from '../helper.ts'
import { bearer, secret, token } from '../tokens.ts'

const as = (sub: string) => bearer(token({ sub }))

t.test('create a private channel; members read and post, others get 403 naming the channel', async (t) => {
  const app = await build(t, { JWT_SECRET: secret })
  const created = await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'secret-room', private: true, members: ['bob'] } })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { id: 'secret-room', name: 'secret-room', private: true, ownerId: 'alice', members: ['alice', 'bob'] })
  t.equal((await app.inject({ method: 'POST', url: '/api/channels', headers: as('bob'), payload: { id: 'secret-room' } })).statusCode, 409, 'an existing id is a 409')

  const postAs = (sub: string) => app.inject({ method: 'POST', url: '/api/messages', headers: as(sub), payload: { channelId: 'secret-room', content: `from ${sub}` } })
  const readAs = (sub: string) => app.inject({ method: 'GET', url: '/api/channels/secret-room/messages', headers: as(sub) })
  t.equal((await postAs('bob')).statusCode, 201, 'a member posts')
  t.equal((await readAs('alice')).statusCode, 200, 'a member reads')
  const post = await postAs('eve')
  t.equal(post.statusCode, 403)
  t.match(post.json(), { error: 'Forbidden', message: /secret-room is private: only its members may post/ })
  t.match((await readAs('eve')).json(), { statusCode: 403, message: /secret-room is private/ })
  t.equal((await app.inject({ method: 'GET', url: '/api/channels/secret-room', headers: as('eve') })).statusCode, 403, 'nor may they see the member list')
  t.equal((await app.inject({ method: 'PUT', url: '/api/channels/secret-room/members/eve', headers: as('eve') })).statusCode, 403, 'a non-member cannot add themselves')
  t.same((await app.channels.store.get('secret-room'))?.members, ['alice', 'bob'], 'membership unchanged')
})

t.test('members: any member adds, the owner removes anyone, a member leaves; changes apply at once', async (t) => {
  const app = await build(t, { JWT_SECRET: secret })
  await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'team', private: true, members: ['bob'] } })
  const member = (method: 'PUT' | 'DELETE', who: string, by: string) => app.inject({ method, url: `/api/channels/team/members/${who}`, headers: as(by) })
  const readAs = (sub: string) => app.inject({ method: 'GET', url: '/api/channels/team/messages', headers: as(sub) })
  t.equal((await readAs('carol')).statusCode, 403)
  t.equal((await member('PUT', 'carol', 'bob')).statusCode, 204, 'bob (a member) adds carol')
  t.equal((await readAs('carol')).statusCode, 200, 'carol reads right away (no stale cache on this instance)')
  t.equal((await member('PUT', 'carol', 'bob')).statusCode, 204, 'idempotent')
  t.match((await member('DELETE', 'carol', 'bob')).json(), { statusCode: 403, message: /only the owner/ })
  t.equal((await member('DELETE', 'bob', 'bob')).statusCode, 204, 'bob leaves')
  t.equal((await member('DELETE', 'carol', 'alice')).statusCode, 204, 'the owner removes carol')
  t.equal((await readAs('carol')).statusCode, 403)
  t.match((await member('DELETE', 'alice', 'alice')).json(), { statusCode: 409, message: /owner .* cannot be removed/ })
  t.same((await app.channels.store.get('team'))?.members, ['alice'])
  t.match((await app.inject({ method: 'PUT', url: '/api/channels/nowhere/members/bob', headers: as('alice') })).json(), { statusCode: 404, message: /never created/ })
})

t.test('channels never created are public; a used id cannot be claimed; personal ids cannot be created', async (t) => {
  const app = await build(t, { JWT_SECRET: secret })
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: as('bob'), payload: { channelId: 'lobby', content: 'hi' } })
  t.equal(posted.statusCode, 201)
  t.equal((await app.inject({ method: 'GET', url: '/api/channels/lobby/messages', headers: as('eve') })).statusCode, 200)
  await app.store.apply([{ type: 'create', message: posted.json(), position: posted.json().position }]) // as the store handler would
  t.match((await app.inject({ method: 'POST', url: '/api/channels', headers: as('eve'), payload: { id: 'lobby', private: true } })).json(), { statusCode: 409, message: /has messages/ })
  t.match((await app.inject({ method: 'POST', url: '/api/channels', headers: as('eve'), payload: { id: 'user:bob' } })).json(), { statusCode: 403, message: /personal/ })
  t.equal(await app.channels.store.get('lobby'), null, 'nothing was stored')
})

t.test('personal channels: only their user reads them, nobody posts to them over HTTP', async (t) => {
  const app = await build(t, { JWT_SECRET: secret })
  t.equal((await app.inject({ method: 'GET', url: '/api/channels/user:bob/messages', headers: as('bob') })).statusCode, 200)
  t.match((await app.inject({ method: 'GET', url: '/api/channels/user:bob/messages', headers: as('eve') })).json(), { statusCode: 403, message: /personal/ })
  for (const sub of ['bob', 'eve']) {
    const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as(sub), payload: { channelId: 'user:bob', content: 'x' } })
    t.match(res.json(), { statusCode: 403, message: /user:bob is personal/ }, `${sub} cannot post`)
  }
})

t.test('anonymous channel writes are 401 with auth on and off; bad member ids are 400', async (t) => {
  const on = await build(t, { JWT_SECRET: secret })
  t.equal((await on.inject({ method: 'POST', url: '/api/channels', payload: { id: 'x' } })).statusCode, 401)
  const off = await build(t)
  t.match((await off.inject({ method: 'POST', url: '/api/channels', payload: { id: 'x' } })).json(), { statusCode: 401, message: /identity/ })
  t.equal((await off.inject({ method: 'POST', url: '/api/channels', headers: { 'x-user-id': 'ada' }, payload: { id: 'x', private: true } })).statusCode, 201)
  t.equal((await off.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'x', content: 'hi', senderId: 'eve' } })).statusCode, 403, 'auth off: the claimed sender is checked too')
  t.equal((await off.inject({ method: 'PUT', url: '/api/channels/x/members/%7B%22%24gt%22%3A%22%22%7D', headers: { 'x-user-id': 'ada' } })).statusCode, 400)
})

t.test('reactions and edits on a private channel: non-members 404, edits pass moderation', async (t) => {
  const app = await build(t, { JWT_SECRET: secret, MODERATION_BLOCKLIST: 'forbidden-word' })
  await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'den', private: true } })
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: as('alice'), payload: { channelId: 'den', content: 'hi' } })
  await handled(app, 'messages-store', posted.json().position)
  const id = posted.json().id
  t.match((await app.inject({ method: 'PUT', url: `/api/messages/${id}/reactions/%F0%9F%91%8D`, headers: as('eve') })).json(), { statusCode: 404, message: /unknown or deleted/ }, 'a non-member is told nothing of the message')
  t.match((await app.inject({ method: 'PATCH', url: `/api/messages/${id}`, headers: as('alice'), payload: { content: 'now a forbidden-word' } })).json(), { statusCode: 422, message: /blocklist forbidden-word/ })
  t.equal((await app.store.get(id))?.content, 'hi', 'unchanged')
})

t.test('a private creation whose announcement failed: the retry the 503 asks for announces it, and a subscriber from the public days is dropped', async (t) => {
  const app = await build(t)
  const eve = await connectAs(app, t, 'eve')
  t.match(await eve.client.subscribe('plans'), { op: 'subscribed' }, 'eve subscribed while plans was public')
  const produce = app.bus.produce.bind(app.bus)
  let down = true // the log refuses the first creation's announcements
  app.bus.produce = async (topic, key, value) => {
    if (down && key === 'plans') throw new Error('request timed out')
    return produce(topic, key, value)
  }
  const create = (user = 'alice', extra = {}) => app.inject({ method: 'POST', url: '/api/channels', headers: { 'x-user-id': user }, payload: { id: 'plans', private: true, ...extra } })
  const first = await create()
  t.match(first.json(), { statusCode: 503, message: /stored, but the event log is unavailable/ })
  down = false
  t.equal((await create('mallory')).statusCode, 409, 'another user\'s creation of the id is still a 409')
  t.equal((await create('alice', { members: ['eve'] })).statusCode, 409, 'so is another creation by the owner')
  const retry = await create()
  if (!t.equal(retry.statusCode, 201, 'the same creation by its owner completes')) return
  t.match(retry.json(), { id: 'plans', private: true, ownerId: 'alice', members: ['alice'] })
  t.match(await eve.client.next((f) => f.op === 'error'), { code: 'forbidden', message: /plans is private/ }, 'eve is dropped')

  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'alice' }, payload: { channelId: 'plans', content: 'the secret plan' } })
  t.equal(posted.statusCode, 201)
  await handled(app, 'messages-fanout', posted.json().position)
  t.notOk(eve.client.frames.some((f) => f.type === 'message.created'), 'and receives none of its messages')
})

t.test('every channel change is announced once on the channels topic (other instances drop their copy)', async (t) => {
  const app = await build(t, { JWT_SECRET: secret })
  let announced = 0
  app.events.emitter.on('produced', ({ topic, outcome }) => { if (topic === 'channels' && outcome === 'ok') announced++ })
  t.equal((await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'announced', private: true } })).statusCode, 201)
  t.equal(announced, 1, 'created: one announcement')
  t.equal((await app.inject({ method: 'PUT', url: '/api/channels/announced/members/bob', headers: as('alice') })).statusCode, 204)
  t.equal(announced, 2, 'a member added: one more (a copy elsewhere would still refuse bob)')
  t.equal((await app.inject({ method: 'DELETE', url: '/api/channels/announced/members/bob', headers: as('alice') })).statusCode, 204)
  t.equal(announced, 3, 'a member removed: one more')
})
