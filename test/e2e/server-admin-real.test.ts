// The server and admin APIs on the real services, two instances: an idempotent publish is one
// message (stored, cached, delivered on both instances), and an admin disconnect reaches both.
import t from 'tap'
import { Client, connectAs } from '../helper.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, unique } from '../services.ts'
import { topicLog, isConn } from '../connections-log.ts'

const SERVER_KEY = 'server-key-0123456789abcdefghij'
const ADMIN_KEY = 'admin-key-0123456789abcdefghijkl'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('srvapi')
  t.teardown(() => cleanupReal(names))
  const log = topicLog()
  const config = { names, SERVER_API_KEYS: SERVER_KEY, ADMIN_API_KEYS: ADMIN_KEY }
  const a = await buildReal(t, config, { handlers: log.handlers })
  const b = await buildReal(t, config)
  const handled = handledLog(a, b)

  t.test('a publish repeated with its Idempotency-Key, on either instance, is one message', async (t) => {
    const channel = unique('news')
    const clients = await Promise.all([a, b].map((app) => Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)))
    t.teardown(() => Promise.all(clients.map((c) => c.close())))
    for (const c of clients) await c.subscribe(channel)
    const headers = { 'x-api-key': SERVER_KEY, 'idempotency-key': unique('job') }
    const payload = { channelId: channel, content: 'deploy finished', senderId: 'ci', senderName: 'CI' }
    const first = await a.inject({ method: 'POST', url: '/api/server/publish', headers, payload })
    const again = await b.inject({ method: 'POST', url: '/api/server/publish', headers, payload })
    t.equal(first.statusCode, 201)
    t.same(again.json(), first.json(), 'the repeat on B answers the first message')
    t.equal(again.headers['idempotent-replayed'], 'true')
    const message = first.json()
    for (const c of clients) t.match(await c.next((f) => f.op === 'event' && f.channel === channel), { type: 'message.created', data: { id: message.id, senderId: 'ci' }, position: message.position }, 'delivered')
    await Promise.all([handled.handled('messages-store', message.position), handled.handled('messages-cache', message.position)])
    const history = (await b.inject({ url: `/api/channels/${channel}/messages` })).json()
    t.same(history.messages.map((m: any) => m.id), [message.id], 'stored and cached once')
    t.equal(clients[0].frames.filter((f) => f.op === 'event').length, 1, 'one event on A')
    t.equal(clients[1].frames.filter((f) => f.op === 'event').length, 1, 'one event on B')
  })

  t.test('an admin disconnect closes the user\'s sockets on both instances with 4403', async (t) => {
    const user = unique('kim')
    const onA = await connectAs(a, t, user)
    const onB = await connectAs(b, t, user)
    await Promise.all([log.next(isConn(onA.id, 'connected')), log.next(isConn(onB.id, 'connected'))])
    const listed = (await b.inject({ url: `/api/admin/users/${user}/connections`, headers: { 'x-api-key': ADMIN_KEY } })).json()
    t.same(listed.connections.map((c: any) => c.instanceId).sort(), [a.instanceId, b.instanceId].sort(), 'one connection on each instance')

    const closed = Promise.all([onA, onB].map(({ client }) => new Promise<number>((resolve) => client.ws.once('close', resolve))))
    const res = await a.inject({ method: 'POST', url: `/api/admin/users/${user}/disconnect`, headers: { 'x-api-key': ADMIN_KEY } })
    t.equal(res.statusCode, 202)
    t.same(await closed, [4403, 4403], 'closed on A and on B')
    for (const { id } of [onA, onB]) t.match(await log.next(isConn(id, 'disconnected')), { data: { reason: 'admin_disconnect', code: 4403 } })
  })
}
