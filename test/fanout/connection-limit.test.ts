// Connections per instance (issue 10, item 9): every socket is an open file, so the fanout holds at
// most WS_MAX_CONNECTIONS (by default below the open-file limit) and answers further upgrades 503.
import t from 'tap'
import WebSocket from 'ws'
import type { Test } from 'tap'
import { build } from '../helper.ts'
import { TestClient, upgradeStatus } from './helpers.ts'
import { defaultMaxConnections, openFileLimit, parseOpenFileLimit } from '../../fanout/fd-limit.ts'
import type { Config } from '../../config.ts'

async function listening (t: Test, config: Partial<Config>) {
  const app = await build(t, { HOST: '127.0.0.1', WS_IDLE_TIMEOUT: 0, ...config })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const apiPort = (app.server.address() as { port: number }).port
  const urls = { uws: `ws://127.0.0.1:${app.fanout.uwsPort}/ws`, fastify: `ws://127.0.0.1:${apiPort}/ws` }
  return { app, apiPort, urls }
}

t.test('the default sits below the open-file soft limit', async (t) => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax cpu time              unlimited            unlimited            seconds\nMax open files            1024                 524288               files\n'
  t.equal(parseOpenFileLimit(limits), 1024, 'the soft limit, not the hard one')
  t.equal(parseOpenFileLimit(limits.replace('1024 ', 'unlimited ')), Infinity)
  t.equal(parseOpenFileLimit('nothing here'), undefined)
  t.equal(defaultMaxConnections(1024), 768, 'a reserve of at least 256 files')
  t.equal(defaultMaxConnections(100_000), 90_000, 'a tenth on large limits')
  t.equal(defaultMaxConnections(undefined), 768, 'unknown: as for 1024')
  const soft = openFileLimit()
  t.type(soft, 'number', 'read from this process')
  const { app } = await listening(t, {})
  t.ok(app.fanout.hub.maxConnections < soft!, `the app's default (${app.fanout.hub.maxConnections}) is below ${soft}`)
})

t.test('WS_MAX_CONNECTIONS=3: the fourth upgrade is a 503 on both ports, the API still answers', async (t) => {
  const { app, apiPort, urls } = await listening(t, { WS_MAX_CONNECTIONS: 3 })
  const { hub } = app.fanout
  const open = [await TestClient.open(urls.uws, '?user=a'), await TestClient.open(urls.fastify, '?user=b'), await TestClient.open(urls.uws)]
  for (const [transport, url] of Object.entries(urls)) {
    const refused = await upgradeStatus(`${url}?user=c`)
    t.equal(refused.status, 503, `${transport}: 503`)
    t.match(JSON.parse(refused.body), { statusCode: 503, error: 'Service Unavailable', message: /maximum of 3 WebSocket connections/ })
  }
  t.same(app.fanout.stats.connections, { uws: 2, fastify: 1 }, 'no refused upgrade became a connection')
  const health = await fetch(`http://127.0.0.1:${apiPort}/health`)
  t.equal(health.status, 200, '/health answers')
  await open[0].barrier()
  t.pass('open connections are served')

  // One leaves: there is room again.
  const gone = new Promise<void>((resolve) => {
    hub.addHook('onDisconnect', async () => { resolve() }, 'test')
  })
  open[0].close()
  await gone
  const again = await TestClient.open(urls.fastify, '?user=c')
  t.equal(again.frames[0].user, 'c', 'a new connection is accepted')
  for (const c of [...open.slice(1), again]) c.close()
})

t.test('parallel upgrades on the uWS port never exceed the limit', async (t) => {
  const { app, urls } = await listening(t, { WS_MAX_CONNECTIONS: 3 })
  // Each attempt ends opened (its `ready` frame arrived) or refused with an HTTP status.
  const attempt = (user: string) => new Promise<{ ws: WebSocket, status: number | 'open' }>((resolve) => {
    const ws = new WebSocket(`${urls.uws}?user=${user}`)
    ws.once('message', () => resolve({ ws, status: 'open' }))
    ws.on('unexpected-response', (req, res) => { resolve({ ws, status: res.statusCode ?? 0 }); req.socket?.destroy() })
    ws.on('error', () => {})
  })
  const attempts = await Promise.all(Array.from({ length: 8 }, (_, i) => attempt(`u${i}`)))
  t.same(attempts.map((a) => a.status).sort(), [503, 503, 503, 503, 503, 'open', 'open', 'open'], 'three connected, five refused')
  t.equal(app.fanout.stats.connections.uws, 3)
  for (const a of attempts) a.ws.close()
})
