// The whole path in one process: HTTP post → log → consumers → fanout → WebSocket subscriber.
import t from 'tap'
import { build, Client } from '../helper.ts'

t.test('a uWS subscriber receives a message another client posts over HTTP', async (t) => {
  const app = await build(t)
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
  t.teardown(() => client.close())
  t.match(await client.next(), { op: 'ready', protocol: 1 })
  t.match(await client.subscribe('general'), { op: 'subscribed', channel: 'general', recovered: false })
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'hi there', senderId: 'bob' } })
  t.equal(res.statusCode, 201)
  const event = await client.next((f) => f.op === 'event')
  t.same(event, { op: 'event', channel: 'general', position: res.json().position, type: 'message.created', data: res.json() })
})

t.test('the same through @fastify/websocket on the API port', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const client = await Client.connect(`ws://127.0.0.1:${port}/ws`)
  t.teardown(() => client.close())
  await client.subscribe('general')
  const other = await Client.connect(`ws://127.0.0.1:${port}/ws`)
  t.teardown(() => other.close())
  await other.subscribe('elsewhere')
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'over one port' } })
  const event = await client.next((f) => f.op === 'event')
  t.equal(event.data.id, res.json().id)
  t.equal(event.data.content, 'over one port')
  await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'elsewhere', content: 'second' } })
  t.equal((await other.next((f) => f.op === 'event')).data.content, 'second')
  t.notOk(other.frames.some((f) => f.op === 'event' && f.channel === 'general'), 'no event of a channel it did not subscribe to')
})

t.test('shutdown closes subscribers with 1001', async (t) => {
  const app = await build(t)
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
  await client.subscribe('general')
  const closed = new Promise<number>((resolve) => client.ws.on('close', (code) => resolve(code)))
  await app.close()
  t.equal(await closed, 1001)
})
