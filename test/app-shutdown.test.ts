// Shutdown: the listener stops accepting at once, but a request already in flight is answered.
import t from 'tap'
import Fastify from 'fastify'
import App, { serverOptions } from '../app.ts'
import { loadConfig } from '../config.ts'

t.test('close stops accepting, lets an in-flight POST whose produce is slow finish with its 201, then closes', async (t) => {
  const config = loadConfig({}, { PORT: 0, WS_PORT: 0, LOG_LEVEL: 'silent' })
  const app = Fastify({ ...serverOptions(config), logger: false })
  await app.register(App, { config })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }

  // the POST's produce waits until the test lets it go
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let producing!: () => void
  const reached = new Promise<void>((resolve) => { producing = resolve })
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async (topic, key, value) => {
    if (topic === 'messages') { producing(); await gate }
    return produce(topic, key, value)
  }
  // resolves once the listener is closed (close() stops accepting synchronously)
  const stopped = new Promise<void>((resolve) => {
    const close = app.server.close.bind(app.server)
    app.server.close = ((cb?: (err?: Error) => void) => { const server = close(cb); resolve(); return server }) as typeof app.server.close
  })

  const inflight = fetch(`http://127.0.0.1:${port}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
    body: JSON.stringify({ channelId: 'general', content: 'sent just before shutdown' })
  })
  await reached
  const closing = app.close()
  await stopped
  await t.rejects(fetch(`http://127.0.0.1:${port}/health`), 'a new connection is refused while closing')

  release()
  const res = await inflight
  t.equal(res.status, 201, 'the in-flight request gets its answer')
  t.equal(res.headers.get('connection'), 'close', 'which closes its connection (keep-alive would hold the server open)')
  t.match(await res.json(), { channelId: 'general', content: 'sent just before shutdown' })
  await closing
  t.equal(app.server.listening, false, 'then the server is closed')
})
