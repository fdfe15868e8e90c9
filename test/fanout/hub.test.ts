// The hub alone, with in-memory sockets: hooks, the subscribe race, limits and counters.
import t from 'tap'
import { FanoutHub, FanoutAuthError } from '../../fanout/hub.ts'
import type { FanoutHubOptions, SocketHandle } from '../../fanout/types.ts'
import type { Frame } from './helpers.ts'

/** A socket that records what the hub sends and whether it is joined to each channel. */
function fakeSocket () {
  const sent: Frame[] = []
  const joined = new Set<string>()
  const closes: Array<[number, string]> = []
  const handle: SocketHandle = {
    send: (frame) => { sent.push(JSON.parse(frame)) },
    subscribe: (channel) => { joined.add(channel) },
    unsubscribe: (channel) => { joined.delete(channel) },
    close: (code, reason) => { closes.push([code, reason]) }
  }
  return { sent, joined, closes, handle }
}

/** A hub with one transport that delivers to the fake sockets joined to the channel. */
function setup (opts: FanoutHubOptions = {}) {
  const hub = new FanoutHub(opts)
  const sockets = new Set<ReturnType<typeof fakeSocket>>()
  hub.addTransport({
    name: 'fastify',
    publish (channel, frame) {
      let n = 0
      for (const s of sockets) if (s.joined.has(channel)) { s.handle.send(frame); n++ }
      return n
    }
  })
  const connect = (user?: string) => {
    const socket = fakeSocket()
    sockets.add(socket)
    return { ...socket, conn: hub.connect(socket.handle, 'fastify', user ? { userId: user } : undefined, '127.0.0.1') }
  }
  return { hub, connect }
}

/** A promise with its resolve exposed, to hold a hook open while the test publishes. */
function gate<T = void> () {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => { open = resolve })
  return { promise, open }
}

const pos = (offset: number) => ({ epoch: 'e1', offset: String(offset) })
const event = (n: number, withPosition = true) => ({ op: 'event', channel: 'c', type: 'message.created', data: { n }, ...(withPosition ? { position: pos(n) } : {}) })

t.test('live events published while authorizeSubscribe runs are delivered after subscribed, once', async (t) => {
  const held = gate()
  const { hub, connect } = setup({ hooks: { authorizeSubscribe: () => held.promise } })
  hub.publish('c', 'message.created', { n: 1 }, pos(1))
  const a = connect()
  const subscribing = hub.subscribe(a.conn, 'c')
  hub.publish('c', 'message.created', { n: 2 }, pos(2))
  hub.publish('c', 'typing', { n: 3 })
  held.open()
  t.equal(await subscribing, true)
  hub.publish('c', 'message.created', { n: 4 }, pos(4))
  t.same(a.sent.slice(1), [
    { op: 'subscribed', channel: 'c', position: pos(1), recovered: false },
    event(2), { op: 'event', channel: 'c', type: 'typing', data: { n: 3 } }, event(4)
  ])
  t.same([...a.conn.channels], ['c'])
})

t.test('replay, then buffered live frames the replay did not cover, then live', async (t) => {
  const held = gate()
  const { hub, connect } = setup({
    hooks: {
      onSubscribe: async (_conn, _channel, since) => {
        t.same(since, pos(1))
        await held.promise
        // The recovery source already holds 2 and 3; the hub buffered 3 and 4 meanwhile.
        return { position: pos(3), recovered: true, replay: [2, 3].map((n) => JSON.stringify(event(n))) }
      }
    }
  })
  const a = connect()
  const subscribing = hub.subscribe(a.conn, 'c', pos(1))
  hub.publish('c', 'message.created', { n: 3 }, pos(3))
  hub.publish('c', 'message.created', { n: 4 }, pos(4))
  held.open()
  await subscribing
  hub.publish('c', 'message.created', { n: 5 }, pos(5))
  t.same(a.sent.slice(1), [{ op: 'subscribed', channel: 'c', position: pos(3), recovered: true }, event(2), event(3), event(4), event(5)])
})

t.test('a refusing authorizeSubscribe gives its code; an unexpected failure gives internal_error', async (t) => {
  const { hub, connect } = setup({
    hooks: {
      authorizeSubscribe: async (_conn, channel) => {
        if (channel === 'private') throw Object.assign(new Error('members only'), { code: 'forbidden' })
        if (channel === 'broken') throw new Error('redis is down')
      }
    }
  })
  const a = connect()
  t.equal(await hub.subscribe(a.conn, 'private'), false)
  t.equal(await hub.subscribe(a.conn, 'broken'), false)
  hub.publish('private', 'typing', {})
  t.same(a.sent.slice(1), [
    { op: 'error', code: 'forbidden', message: 'members only' },
    { op: 'error', code: 'internal_error', message: 'subscribe failed; retry later' }
  ])
  t.same([...a.conn.channels], [])
  t.equal(hub.stats.errorFrames, 2)
})

t.test('unsubscribe or disconnect during a subscribe in flight cancels it quietly', async (t) => {
  const held = gate()
  const { hub, connect } = setup({ hooks: { authorizeSubscribe: () => held.promise } })
  const a = connect()
  const b = connect()
  const first = hub.subscribe(a.conn, 'c')
  const second = hub.subscribe(b.conn, 'c')
  t.equal(hub.unsubscribe(a.conn, 'c'), true)
  hub.disconnect(b.conn)
  held.open()
  t.same(await Promise.all([first, second]), [false, false])
  t.same(a.sent.map((f) => f.op), ['ready'])
  t.same([...a.joined, ...b.joined], [])
})

t.test('limits: subscriptions per connection, duplicates, and live frames buffered while subscribing', async (t) => {
  const held = gate()
  const { hub, connect } = setup({ maxSubscriptions: 2, maxPendingFrames: 2 })
  const a = connect()
  await hub.subscribe(a.conn, 'one')
  await hub.subscribe(a.conn, 'one')
  await hub.subscribe(a.conn, 'two')
  await hub.subscribe(a.conn, 'three')
  t.same(a.sent.filter((f) => f.op === 'error').map((f) => f.code), ['already_subscribed', 'too_many_subscriptions'])
  hub.setDecision('authorizeSubscribe', () => held.promise, 'test')
  const b = connect()
  const subscribing = hub.subscribe(b.conn, 'c')
  for (let n = 1; n <= 3; n++) hub.publish('c', 'typing', { n })
  held.open()
  t.equal(await subscribing, false)
  t.match(b.sent.at(-1), { op: 'error', code: 'busy' })
})

t.test('positions only move forward within an epoch; a new epoch replaces them', async (t) => {
  const { hub } = setup()
  t.equal(hub.position('c'), null)
  hub.publish('c', 'message.created', {}, pos(10))
  hub.publish('c', 'message.created', {}, pos(9))
  t.same(hub.position('c'), pos(10))
  hub.publish('c', 'message.created', {}, { epoch: 'e2', offset: '0' })
  t.same(hub.position('c'), { epoch: 'e2', offset: '0' })
})

t.test('authenticate: hook identity, errors become FanoutAuthError, ?user= without a hook', async (t) => {
  const hub = new FanoutHub()
  t.same(await hub.authenticate({ ip: '::1' }), undefined)
  t.same(await hub.authenticate({ ip: '::1', user: 'alice' }), { userId: 'alice' })
  await t.rejects(hub.authenticate({ ip: '::1', user: 'a b' }), FanoutAuthError)
  hub.setDecision('authenticate', async ({ token }) => { if (token !== 'ok') throw new Error('bad token'); return { userId: 'u1' } }, 'test')
  t.same(await hub.authenticate({ ip: '::1', token: 'ok', user: 'mallory' }), { userId: 'u1' }, 'the hook wins over ?user=')
  await t.rejects(hub.authenticate({ ip: '::1', token: 'no' }), { statusCode: 401, message: 'bad token' })
})

t.test('hooks see connects and disconnects; stats count them; a slow client is closed with 4008', async (t) => {
  const seen: string[] = []
  const { hub, connect } = setup({
    hooks: { onConnect: async (c) => { seen.push(`+${c.user}`) }, onDisconnect: async (c) => { seen.push(`-${c.user}:${[...c.channels]}`) } }
  })
  const a = connect('alice')
  await hub.subscribe(a.conn, 'c')
  t.equal(hub.publish('c', 'typing', {}), 1)
  hub.dropSlowClient(a.conn)
  t.same(a.closes, [[4008, 'slow consumer']])
  await new Promise(setImmediate) // let the async hooks settle
  t.same(seen, ['+alice', '-alice:c'])
  t.same(hub.stats, { connections: { uws: 0, fastify: 0 }, subscriptions: 0, published: 1, deliveries: 1, slowClientsDropped: 1, errorFrames: 0, replaysDropped: 0, framesRateLimited: 0, rateLimitedClosed: 0, replaysOverBudget: 0, tokensExpired: 0 })
})

t.test('connections are counted per user as they open and close', async (t) => {
  const { hub, connect } = setup()
  const a1 = connect('alice')
  const a2 = connect('alice')
  connect()
  t.equal(hub.connectionsOf('alice'), 2)
  t.equal(hub.connectionsOf('bob'), 0)
  hub.disconnect(a1.conn)
  hub.disconnect(a1.conn) // idempotent: counted once
  t.equal(hub.connectionsOf('alice'), 1)
  hub.dropSlowClient(a2.conn)
  t.equal(hub.connectionsOf('alice'), 0, 'a dropped slow client no longer counts')
})

t.test('the last position is remembered for the most recently active channels only', async (t) => {
  const { hub } = setup()
  const at = (offset: number) => ({ epoch: 'e', offset: String(offset) })
  hub.publish('first', 'message.created', {}, at(0))
  for (let i = 1; i <= 100_000; i++) hub.publish(`c${i}`, 'message.created', {}, at(i))
  t.equal(hub.position('first'), null, 'the least recently active channel was forgotten')
  t.same(hub.position('c100000'), at(100_000))
  t.same(hub.position('c1'), at(1), 'the bound is 100,000 channels')
})

t.test('a redelivered positioned event (at or below the last sent position) is not sent again', async (t) => {
  const { hub, connect } = setup()
  const a = connect()
  await hub.subscribe(a.conn, 'c')
  for (const n of [1, 2, 3, 2, 3, 4]) hub.publish('c', 'message.created', { n }, pos(n))
  // another epoch (the topic was re-created) starts over: its offsets are not compared with e1's
  hub.publish('c', 'message.created', { n: 0 }, { epoch: 'e2', offset: '0' })
  // events without a position (typing, reactions) are never dropped
  hub.publish('c', 'typing', { n: 9 })
  hub.publish('c', 'typing', { n: 9 })
  const events = a.sent.filter((f) => f.op === 'event').map((f) => (f.data as { n: number }).n)
  t.same(events, [1, 2, 3, 4, 0, 9, 9])
  t.equal(hub.stats.replaysDropped, 2)
})
