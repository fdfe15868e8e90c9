// A socket does not outlive its token (issue 10, item 3): at the token's `exp` the connection is
// closed with 4401, and the client reconnects with a fresh token.
import t from 'tap'
import { FanoutHub } from '../../fanout/hub.ts'
import type { SocketHandle } from '../../fanout/types.ts'
import { build } from '../helper.ts'
import { TestClient } from './helpers.ts'
import { secret, token } from '../tokens.ts'

function handle () {
  let closed!: (close: [number, string]) => void
  const whenClosed = new Promise<[number, string]>((resolve) => { closed = resolve })
  const calls: Array<[number, string]> = []
  const h: SocketHandle = { send () {}, subscribe () {}, unsubscribe () {}, close (code, reason) { calls.push([code, reason]); closed([code, reason]) } }
  return { h, calls, whenClosed }
}

t.test('the hub closes a connection at its expiry, with one timer cleared on close', async (t) => {
  const disconnected: string[] = []
  const hub = new FanoutHub({ hooks: { async onDisconnect (conn) { disconnected.push(conn.user!) } } })
  const now = Date.now()
  const early = handle()
  const leftEarly = hub.connect(early.h, 'uws', { userId: 'gone', expiresAt: now + 5 }, '::1')
  hub.disconnect(leftEarly) // closed by the client before its token expired
  const far = handle()
  hub.connect(far.h, 'fastify', { userId: 'far', expiresAt: now + 30 * 24 * 3600 * 1000 }, '::1') // past setTimeout's range
  const none = handle()
  hub.connect(none.h, 'uws', { userId: 'none' }, '::1')
  const soon = handle()
  hub.connect(soon.h, 'uws', { userId: 'soon', expiresAt: now + 20 }, '::1')
  t.same(await soon.whenClosed, [4401, 'token expired'])
  t.same(early.calls, [], 'the timer of a connection that closed earlier did not fire (its deadline came first)')
  t.same(far.calls, [], 'an expiry beyond 24.8 days does not fire at once')
  t.same(none.calls, [], 'no expiry, no timer')
  t.equal(hub.stats.tokensExpired, 1)
  t.same(disconnected, ['gone', 'soon'], 'the expired connection is gone from the hub (onDisconnect ran)')
  t.same(hub.stats.connections, { uws: 1, fastify: 1 })
  hub.closeAll()
})

t.test('a token that expires closes its socket with 4401 on both ports', async (t) => {
  const app = await build(t, { HOST: '127.0.0.1', WS_IDLE_TIMEOUT: 0, JWT_SECRET: secret })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const apiPort = (app.server.address() as { port: number }).port
  for (const url of [`ws://127.0.0.1:${app.fanout.uwsPort}/ws`, `ws://127.0.0.1:${apiPort}/ws`]) {
    const lasting = await TestClient.open(url, `?token=${token({ sub: 'bob', expiresIn: 300 })}`)
    const brief = await TestClient.open(url, `?token=${token({ sub: 'alice', expiresIn: 1 })}`)
    t.match(await brief.subscribe('general'), { op: 'subscribed' })
    t.same(await brief.closed, { code: 4401, reason: 'token expired' }, url)
    await lasting.barrier()
    t.pass('a connection with a valid token stays')
    lasting.close()
  }
  t.equal(app.fanout.stats.tokensExpired, 2)
})
