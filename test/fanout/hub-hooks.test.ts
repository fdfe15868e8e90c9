// The hub's presence and recovery hooks alone: when onSubscribed / onUnsubscribed fire, and what
// onSubscribe is given.
import t from 'tap'
import { FanoutHub } from '../../fanout/hub.ts'
import type { Connection, SocketHandle } from '../../fanout/types.ts'

const handle = (): SocketHandle => ({ send () {}, subscribe () {}, unsubscribe () {}, close () {} })
const pos = (offset: number) => ({ epoch: 'e1', offset: String(offset) })

t.test('onSubscribed fires once a subscription is live, onUnsubscribed only when a live one ends', async (t) => {
  const calls: string[] = []
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const hub = new FanoutHub({
    hooks: {
      async authorizeSubscribe (_conn, channel) { if (channel === 'slow') await held },
      async onSubscribed (_conn, channel) { calls.push(`+${channel}`) },
      async onUnsubscribed (_conn, channel) { calls.push(`-${channel}`) }
    }
  })
  const conn = hub.connect(handle(), 'fastify', { userId: 'alice' }, '::1')
  t.equal(await hub.subscribe(conn, 'a'), true)
  const slow = hub.subscribe(conn, 'slow')
  t.equal(hub.unsubscribe(conn, 'slow'), true, 'cancels the subscribe in flight')
  release()
  t.equal(await slow, false)
  t.equal(hub.unsubscribe(conn, 'a'), true)
  t.equal(hub.unsubscribe(conn, 'a'), false, 'not subscribed any more')
  t.same(calls, ['+a', '-a'], 'a cancelled subscribe was never live: neither hook for it')
})

t.test('onSubscribe gets since and the channel position at the start', async (t) => {
  const seen: Array<[string, unknown, unknown]> = []
  const hub = new FanoutHub({
    hooks: { async onSubscribe (_conn: Connection, channel, since, start) { seen.push([channel, since, start]); return { position: start, recovered: false } } }
  })
  for (const n of [1, 2, 3]) hub.publish('c', 'message.created', { n }, pos(n))
  hub.publish('c', 'typing', { userId: 'bob' })
  const conn = hub.connect(handle(), 'fastify', undefined, '::1')
  await hub.subscribe(conn, 'c', pos(1))
  t.same(seen, [['c', pos(1), pos(3)]])
})

t.test('a replay over maxReplayBytes is refused and reported to onReplayRefused, once per refusal', async (t) => {
  const refused: string[] = []
  const sent: Array<Record<string, unknown>> = []
  const hub = new FanoutHub({
    maxReplayBytes: 100,
    hooks: {
      async onSubscribe (_conn, channel, _since, start) {
        const replay = [JSON.stringify({ op: 'event', channel, data: channel === 'big' ? 'x'.repeat(100) : 'small' })]
        return { position: start, recovered: true, replay }
      },
      async onReplayRefused (conn, channel) { refused.push(`${conn.user}:${channel}`) }
    }
  })
  const conn = hub.connect({ ...handle(), send (f) { sent.push(JSON.parse(f)) } }, 'fastify', { userId: 'alice' }, '::1')
  t.equal(await hub.subscribe(conn, 'big', pos(1)), true)
  t.equal(await hub.subscribe(conn, 'fits', pos(1)), true)
  t.same(refused, ['alice:big'], 'only the replay over the budget')
  t.same(sent.filter((f) => f.op === 'subscribed').map((f) => [f.channel, f.recovered]), [['big', false], ['fits', true]])
  t.equal(hub.stats.replaysOverBudget, 1)
})
