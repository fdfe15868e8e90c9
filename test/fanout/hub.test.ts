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

/** A hub with one transport that delivers to the subscribers the hub hands it, as the real ones do. */
function setup (opts: FanoutHubOptions = {}) {
  const hub = new FanoutHub(opts)
  hub.addTransport({
    name: 'fastify',
    publish (_channel, frame, subscribers) {
      for (const s of subscribers) s.handle.send(frame)
      return subscribers.size
    }
  })
  const connect = (user?: string) => {
    const socket = fakeSocket()
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
  t.same(hub.publish('c', 'typing', {}), { outcome: 'sent', deliveries: 1 })
  hub.dropSlowClient(a.conn)
  t.same(a.closes, [[4008, 'slow consumer']])
  await new Promise(setImmediate) // let the async hooks settle
  t.same(seen, ['+alice', '-alice:c'])
  t.same(hub.stats, { connections: { uws: 0, fastify: 0 }, subscriptions: 0, published: 1, deliveries: 1, slowClientsDropped: 1, errorFrames: 0, replaysDropped: 0, framesRateLimited: 0, rateLimitedClosed: 0, replaysOverBudget: 0, tokensExpired: 0 })
})

t.test('connectionsOf answers the user\'s open connections as they open and close', async (t) => {
  const { hub, connect } = setup()
  const a1 = connect('alice')
  const a2 = connect('alice')
  const anonymous = connect()
  t.same([...hub.connectionsOf('alice')], [a1.conn, a2.conn])
  t.equal(hub.connectionsOf('bob').size, 0)
  hub.disconnect(a1.conn)
  hub.disconnect(a1.conn) // idempotent: counted once
  t.same([...hub.connectionsOf('alice')], [a2.conn])
  hub.dropSlowClient(a2.conn)
  t.equal(hub.connectionsOf('alice').size, 0, 'a dropped slow client no longer counts')
  t.equal([...hub.connections()].length, 1, 'the anonymous one is open, under no user')
  t.equal([...hub.connections()][0], anonymous.conn)
})

t.test('subscribersOf answers the live subscribers after subscribe, unsubscribe and close', async (t) => {
  const held = gate()
  const { hub, connect } = setup({ hooks: { authorizeSubscribe: async (_conn, channel) => { if (channel === 'slow') await held.promise } } })
  const a = connect('alice')
  const b = connect('bob')
  const c = connect('carol')
  await hub.subscribe(a.conn, 'x')
  await hub.subscribe(b.conn, 'x')
  await hub.subscribe(c.conn, 'x')
  await hub.subscribe(a.conn, 'y')
  const slow = hub.subscribe(b.conn, 'slow')
  t.same([...hub.subscribersOf('x')], [a.conn, b.conn, c.conn])
  t.same([...hub.subscribersOf('y')], [a.conn])
  t.equal(hub.subscribersOf('slow').size, 0, 'a subscribe in flight is not live yet')
  held.open()
  t.equal(await slow, true)
  t.same([...hub.subscribersOf('slow')], [b.conn])
  t.equal(hub.unsubscribe(b.conn, 'x'), true)
  t.same([...hub.subscribersOf('x')], [a.conn, c.conn], 'unsubscribe leaves')
  hub.close(c.conn, 4403, 'bye')
  t.same([...hub.subscribersOf('x')], [a.conn], 'close leaves')
  hub.disconnect(a.conn)
  t.equal(hub.subscribersOf('x').size, 0, 'a client-side disconnect leaves')
  t.equal(hub.subscribersOf('y').size, 0)
  t.same([...a.conn.channels], ['x', 'y'], 'the closed connection still lists its channels for onDisconnect')
  t.equal(hub.stats.subscriptions, 1, 'only b on slow is left')
})

t.test('publish says what it did: sent, no subscribers, redelivery dropped', async (t) => {
  const { hub, connect } = setup()
  t.same(hub.publish('c', 'message.created', { n: 1 }, pos(1)), { outcome: 'no-subscribers', deliveries: 0 })
  const a = connect()
  const b = connect()
  await hub.subscribe(a.conn, 'c')
  await hub.subscribe(b.conn, 'c')
  t.same(hub.publish('c', 'message.created', { n: 2 }, pos(2)), { outcome: 'sent', deliveries: 2 })
  t.same(hub.publishFrame('c', '{"op":"event"}', pos(2)), { outcome: 'redelivery-dropped', deliveries: 0 })
  t.same(hub.publish('c', 'message.created', { n: 1 }, pos(1)), { outcome: 'redelivery-dropped', deliveries: 0 })
  t.same(hub.publishFrame('c', '{"op":"event"}', pos(3)), { outcome: 'sent', deliveries: 2 })
  t.same(hub.publish('c', 'typing', {}), { outcome: 'sent', deliveries: 2 }, 'events without a position are never redeliveries')
  t.same(hub.publish('elsewhere', 'typing', {}), { outcome: 'no-subscribers', deliveries: 0 })
  t.equal(hub.stats.replaysDropped, 2)
})

t.test('onPublished taps every published frame, not the redeliveries dropped; a failing tap stops no delivery', async (t) => {
  const errors: unknown[] = []
  const { hub, connect } = setup({ logger: { debug () {}, warn () {}, error: (obj) => { errors.push(obj) } } })
  const tapped: Array<[string, string, unknown]> = []
  const stop = hub.onPublished((channel, frame, position) => { tapped.push([channel, frame, position]) })
  hub.onPublished(() => { throw new Error('broken tap') })
  const a = connect()
  await hub.subscribe(a.conn, 'c')
  hub.publish('c', 'message.created', { n: 1 }, pos(1))
  hub.publish('c', 'message.created', { n: 1 }, pos(1)) // a redelivery
  hub.publishFrame('d', 'prebuilt', pos(2))
  hub.publish('c', 'typing', { n: 3 })
  t.same(tapped, [
    ['c', JSON.stringify({ op: 'event', channel: 'c', position: pos(1), type: 'message.created', data: { n: 1 } }), pos(1)],
    ['d', 'prebuilt', pos(2)],
    ['c', JSON.stringify({ op: 'event', channel: 'c', type: 'typing', data: { n: 3 } }), undefined]
  ])
  t.same(a.sent.filter((f) => f.op === 'event').map((f) => f.type), ['message.created', 'typing'], 'the broken tap stopped nothing')
  t.equal(errors.length, 3, 'the broken tap is logged each time')
  stop()
  hub.publish('c', 'typing', {})
  t.equal(tapped.length, 3, 'a removed tap hears nothing more')
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
