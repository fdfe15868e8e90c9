// @switchboard/client given several endpoints, or a function giving one: each connection attempt
// takes the next, so when an instance goes away its clients reconnect to the others (the reconnect
// storm of a crash spreads instead of waiting for the dead one), and resubscribe there.
import t from 'tap'
import { createClient } from '../../client/src/index.ts'
import { build } from '../helper.ts'
import { client, listen, Relay } from './harness.ts'

t.test('with two endpoints, a client whose instance goes away reconnects to the other and resubscribes there', async (t) => {
  const [a, b] = [await build(t), await build(t)]
  const [onA, onB] = [await listen(a), await listen(b)]
  const toA = await new Relay(onA.uwsPort).start() // instance A, which the test takes away
  t.teardown(() => toA.cut())
  const c = client(t, { url: [`ws://127.0.0.1:${toA.port}/ws`, onB.ws], user: { id: 'ada' }, random: () => 0 })
  const room = c.channel('general')
  await room.next('subscribed')
  t.equal(a.fanout.hub.subscribersOf('general').size, 1, 'first on A (the list starts at the random index, 0 here)')

  const moved = room.next('subscribed')
  await toA.cut()
  await moved
  t.equal(b.fanout.hub.subscribersOf('general').size, 1, 'then on B, subscribed again, with A still away')
  t.equal(c.state, 'connected')
})

t.test('a function gives the URL of each attempt', async (t) => {
  const app = await build(t)
  const { ws } = await listen(app)
  const asked: number[] = []
  const c = client(t, { url: () => { asked.push(asked.length); return ws }, user: { id: 'grace' } })
  await c.next('connected')
  t.same(asked, [0], 'asked once for the one attempt')
})

t.test('an empty list, or an empty URL in it, is refused at once', async (t) => {
  t.throws(() => createClient({ url: [] }), /needs `url`/)
  t.throws(() => createClient({ url: ['ws://a/ws', ''] }), /needs `url`/)
  t.throws(() => createClient({ url: '' }), /needs `url`/)
})
