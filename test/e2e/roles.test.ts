// ROLES split one deployment into processes: an `api` instance accepts posts, a `workers`
// instance stores and caches them, a `fanout` instance delivers them to its sockets.
import t from 'tap'
import { Client } from '../helper.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, unique } from '../services.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('roles')
  const api = await buildReal(t, { names, ROLES: 'api' })
  const workers = await buildReal(t, { names, ROLES: 'workers' })
  const fanout = await buildReal(t, { names, ROLES: 'fanout' })
  const log = handledLog(workers)
  t.teardown(() => cleanupReal(names))

  t.test('each role runs only its part', async (t) => {
    t.same(api.topicHandlers.list.map((h) => h.name), ['channels-access'], 'api: only the channel copy it checks posts against')
    t.ok(workers.topicHandlers.list.every((h) => h.mode === 'shared'), 'workers: shared handlers only')
    t.ok(workers.topicHandlers.list.some((h) => h.name === 'messages-store'), 'workers: the store handler')
    t.ok(fanout.topicHandlers.list.every((h) => h.mode === 'broadcast'), 'fanout: broadcast handlers only')
    t.throws(() => api.fanout.uwsPort, 'api: no WebSocket server')
    t.throws(() => workers.fanout.uwsPort, 'workers: no WebSocket server')
    t.equal((await workers.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'x', content: 'x', senderId: 'u1' } })).statusCode, 404, 'workers: no HTTP API')
    t.equal((await fanout.inject({ url: '/api/channels/x/messages' })).statusCode, 404, 'fanout: no HTTP API')
    for (const app of [api, workers, fanout]) t.equal((await app.inject({ url: '/ready' })).statusCode, 200, 'every role reports readiness')
  })

  t.test('a post accepted by the api instance is stored by the workers and delivered by the fanout', async (t) => {
    const channel = unique('split')
    const client = await Client.connect(`ws://127.0.0.1:${fanout.fanout.uwsPort}/ws`)
    t.teardown(() => client.close())
    t.match(await client.subscribe(channel), { op: 'subscribed', channel })
    const res = await api.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content: 'split roles', senderId: 'u1' } })
    t.equal(res.statusCode, 201)
    const message = res.json()
    const event = await client.next((f) => f.op === 'event' && f.channel === channel)
    t.match(event, { type: 'message.created', position: message.position, data: { id: message.id, content: 'split roles' } }, 'delivered by the fanout instance')
    await Promise.all([log.handled('messages-store', message.position), log.handled('messages-cache', message.position)])
    t.same((await workers.store.get(message.id))?.content, 'split roles', 'stored by the workers instance')
    const history = await api.inject({ url: `/api/channels/${channel}/messages` })
    t.same(history.json().messages.map((m: { id: string }) => m.id), [message.id], 'and readable through the api instance')
  })
}
