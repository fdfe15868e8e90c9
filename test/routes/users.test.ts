// User status on the embedded services: GET /api/users/:id/status, the bulk read, and watching
// `status:<id>` over the WebSocket.
import t from 'tap'
import { build, connectAs } from '../helper.ts'

const isStatusEvent = (user: string, status?: string) => (f: Record<string, any>) =>
  f.op === 'event' && f.channel === `status:${user}` && f.type === 'user.status' && (status === undefined || f.data.status === status)

t.test('a watcher gets the current status, then every change; HTTP answers the same', async (t) => {
  const app = await build(t)
  const { client: watcher } = await connectAs(app, t, 'gina')
  t.match(await watcher.subscribe('status:frank'), { op: 'subscribed', channel: 'status:frank' })
  const initial = await watcher.next(isStatusEvent('frank'))
  t.same(initial.data, { userId: 'frank', status: 'offline', version: 0 }, 'current status first: never seen, version 0')

  const frank = await connectAs(app, t, 'frank')
  const online = await watcher.next(isStatusEvent('frank', 'online'))
  t.ok(online.data.version > 0)
  t.same((await app.inject({ url: '/api/users/frank/status' })).json(), online.data, 'GET status says the same, with the same version')
  const bulk = (await app.inject({ url: '/api/users/status?ids=frank,gina,nobody' })).json()
  t.same(bulk.users.map((u: any) => [u.userId, u.status]), [['frank', 'online'], ['gina', 'online'], ['nobody', 'offline']], 'in the order asked')

  await frank.client.close()
  const offline = await watcher.next(isStatusEvent('frank', 'offline'))
  t.ok(offline.data.version > online.data.version, 'versions grow')
  t.equal((await app.inject({ url: '/api/users/frank/status' })).json().status, 'offline')
  t.same((await app.inject({ url: '/api/channels/status:frank/presence' })).json(), { users: [] }, 'watching is not presence')
})

t.test('status channels: nobody posts to them or creates them; reads are bounded', async (t) => {
  const app = await build(t)
  const post = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'status:frank', content: 'spoof', senderId: 'mallory' } })
  t.equal(post.statusCode, 403)
  t.match(post.json().message, /only the server publishes/)
  const create = await app.inject({ method: 'POST', url: '/api/channels', headers: { 'x-user-id': 'mallory' }, payload: { id: 'status:frank' } })
  t.equal(create.statusCode, 403)
  const many = Array.from({ length: 101 }, (_, i) => `u${i}`).join(',')
  t.equal((await app.inject({ url: `/api/users/status?ids=${many}` })).statusCode, 400, 'at most 100 users per read')
  t.equal((await app.inject({ url: '/api/users/status?ids=a%20b' })).statusCode, 400, 'user ids only')
  t.equal((await app.inject({ url: '/api/users/bad%20id/status' })).statusCode, 400)
})
