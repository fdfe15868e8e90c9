// A replay is sent in one synchronous burst (issue 10, item 8): one that would not fit in half of
// WS_MAX_BACKPRESSURE answers `recovered: false` (the client reloads over HTTP) instead of
// `recovered: true` followed by a 4008 close, on every retry.
import t from 'tap'
import { buildApp, LIMITS, TestClient } from './helpers.ts'
import type { SubscribeResult } from '../../fanout/types.ts'

const at = (offset: number) => ({ epoch: 'e1', offset: String(offset) })
const replayOf = (count: number): SubscribeResult => ({
  position: at(count),
  recovered: true,
  replay: Array.from({ length: count }, (_, i) => JSON.stringify({ op: 'event', channel: 'c', position: at(i + 1), type: 'message.created', data: { text: 'x'.repeat(1000) } }))
})

t.test('a replay over half of WS_MAX_BACKPRESSURE is not sent: recovered false, live events follow', async (t) => {
  const { app, target } = await buildApp(t, {
    hooks: { async onSubscribe (_conn, channel, _since, start) { return channel === 'big' ? replayOf(100) : channel === 'small' ? replayOf(10) : { position: start, recovered: false } } }
  })
  t.equal(app.fanout.hub.maxReplayBytes, LIMITS.maxBackpressure / 2, 'the budget is half of WS_MAX_BACKPRESSURE')
  for (const transport of ['uws', 'fastify'] as const) {
    const c = await TestClient.open(target(transport).url)
    t.match(await c.subscribe('small', at(0)), { op: 'subscribed', recovered: true, position: at(10) }, `${transport}: a replay of 10 kB is sent`)
    await c.barrier()
    t.equal(c.events('c').length, 10)
    t.match(await c.subscribe('big', at(0)), { op: 'subscribed', recovered: false, position: null }, `${transport}: 100 kB is not`)
    app.fanout.publish('big', 'typing', { userId: 'bob' })
    t.match(await c.next((f) => f.op === 'event' && f.channel === 'big'), { type: 'typing' }, 'live delivery goes on')
    t.equal(c.events('c').length, 10, 'no frame of the big replay was sent')
    t.equal(c.ws.readyState, c.ws.OPEN, 'the socket stays open')
    c.close()
  }
  t.equal(app.fanout.stats.replaysOverBudget, 2)
})
