// @switchboard/client on Kafka, Redis and MongoDB: a connection cut by the network resumes, and a
// server restarted meanwhile (a new instance, no recovery window yet) gives a gap that reload mode
// fills from history. Either way the client shows every acknowledged message once, in order.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildReal, cleanupReal, handledLog, realNames, requireServices } from '../services.ts'
import { client, model, Relay } from './harness.ts'
import { clientSuite } from './suite.ts'
import type { Message } from '../../client/src/index.ts'

const CHANNEL = 'room'

async function post (app: FastifyInstance, content: string): Promise<Message> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'ada' }, payload: { channelId: CHANNEL, content } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

async function start (t: Parameters<typeof buildReal>[0], names: ReturnType<typeof realNames>, config: Parameters<typeof buildReal>[1] = {}) {
  const app = await buildReal(t, { names, ...config })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, log: handledLog(app), apiPort: (app.server.address() as { port: number }).port }
}

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  clientSuite(t, async (t, config = {}) => {
    const names = realNames('client')
    const app = await buildReal(t, { names, ...config })
    t.teardown(() => cleanupReal(names))
    return app
  })

  t.test('network cut, then server restart: every message once, in order; recovered or gap said truthfully', async (t) => {
    const names = realNames('client')
    t.teardown(() => cleanupReal(names))
    const first = await start(t, names)
    const ws = await new Relay(first.app.fanout.uwsPort).start()
    const http = await new Relay(first.apiPort).start()
    t.teardown(async () => { await ws.cut(); await http.cut() })
    const c = client(t, { url: `ws://127.0.0.1:${ws.port}/ws`, api: `http://127.0.0.1:${http.port}`, user: { id: 'reader' }, reload: true })
    const room = c.channel(CHANNEL)
    const shown = model(room)
    const said: string[] = []
    room.on('subscribed', (s) => { if (s.resumed) said.push(s.recovered ? 'recovered' : 'not recovered') })
    room.on('gap', () => said.push('gap'))
    await room.next('reload')
    for (const content of ['m1', 'm2']) await post(first.app, content)
    await shown.has('m2')

    // 1. the network: the same instance replays what was missed
    await ws.cut()
    await c.next('disconnected')
    const m3 = await post(first.app, 'm3')
    await first.log.handled('messages-recovery', m3.position!)
    await ws.restore()
    await shown.has('m3')
    t.same(said, ['recovered'])

    // 2. the server: closed (1001); a new instance on the same services, whose recovery window
    // (2 events per channel) cannot cover the 3 messages posted while the client was away
    const away = c.next('disconnected')
    await first.app.close()
    t.equal((await away).code, 1001, 'going away')
    const second = await start(t, names, { RECOVERY_BUFFER: 2, RECOVERY_LOG: 2 })
    let last = m3
    for (const content of ['m4', 'm5', 'm6']) last = await post(second.app, content)
    await Promise.all(['messages-store', 'messages-cache', 'messages-recovery'].map((h) => second.log.handled(h, last.position!)))
    const reload = room.next('reload')
    ws.target = second.app.fanout.uwsPort
    http.target = second.apiPort
    const page = await reload
    t.same(page.messages.map((m) => m.content), ['m6', 'm5', 'm4', 'm3', 'm2', 'm1'], 'the newest page from the store')
    const m7 = await post(second.app, 'm7')
    await shown.has('m7')
    t.same(said, ['recovered', 'gap', 'not recovered'], 'a gap, then reload')
    t.same(shown.contents(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'], 'no hole')
    t.same(shown.duplicates, [], 'no duplicate')
    t.equal(room.position?.offset, m7.position!.offset, 'the position is the last message')
  })
}
