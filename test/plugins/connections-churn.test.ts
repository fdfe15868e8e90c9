// Issue 24, N5 (and the earlier review's #3): subscribe/unsubscribe frames within the frame budget
// each wrote a replicated record to `connections` and sent presence events to every subscriber of
// the channel, and during a Kafka outage every frame grew the connection's retry queue without bound.
import t from 'tap'
import { build } from '../helper.ts'
import { topicLog, isConn } from '../connections-log.ts'
import { TestClient } from '../fanout/helpers.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import type { ConnectionEvent } from '../../schemas/connections.ts'

const channelOf = (e: ConnectionEvent) => (e.data as { channel?: string }).channel

t.test('a subscription undone within WS_CHURN_WINDOW_MS writes no record and announces no presence', async (t) => {
  const log = topicLog()
  const app = await build(t, { HOST: '127.0.0.1', WS_IDLE_TIMEOUT: 0 }, { handlers: log.handlers })
  t.equal(app.config.WS_CHURN_WINDOW_MS, 1000, 'the default window')
  const url = `ws://127.0.0.1:${app.fanout.uwsPort}/ws`
  const observer = await TestClient.open(url) // anonymous: present nowhere, sees presence events
  t.match(await observer.subscribe('room'), { op: 'subscribed' })
  const alice = await TestClient.open(url, '?user=alice')
  const id = alice.frames[0].connectionId as string
  await log.next(isConn(id, 'connected'))

  // 50 subscribe/unsubscribe pairs: 100 frames, within the burst of 200.
  for (let i = 0; i < 50; i++) {
    alice.send({ op: 'subscribe', channel: 'room' })
    alice.send({ op: 'unsubscribe', channel: 'room' })
  }
  await alice.barrier() // every frame was handled
  t.equal(alice.frames.filter((f) => f.op === 'error').length, 0, 'no frame was refused')
  // A subscription that lasts is reported; it is queued behind whatever the churn produced.
  t.match(await alice.subscribe('lobby'), { op: 'subscribed' })
  await log.next((e) => isConn(id, 'subscribed')(e) && channelOf(e as ConnectionEvent) === 'lobby')
  t.same(log.of(id).map((e) => `${e.type} ${channelOf(e) ?? ''}`.trim()), ['connected', 'subscribed lobby'], 'the churn wrote nothing to connections')

  // bob's join is keyed like alice's would be (same channel, same partition): it comes after them.
  const bob = await TestClient.open(url, '?user=bob')
  t.match(await bob.subscribe('room'), { op: 'subscribed' })
  await observer.next((f) => f.type === 'presence.join' && f.data.userId === 'bob')
  t.same(observer.events('room').map((f) => `${f.type} ${f.data.userId}`), ['presence.join bob'], 'no join or leave of alice reached anyone')
  t.same((await app.presence.store.list('room')).map((u) => u.userId), ['bob'])
  for (const c of [observer, alice, bob]) c.close()
})

t.test('during a log outage a connection queues a bounded number of events; connected and disconnected are kept', async (t) => {
  const bus = createEmbeddedBus({ topicPrefix: '', partitions: 1, instanceId: 'outage' })
  let restore!: () => void
  const back = new Promise<void>((resolve) => { restore = resolve })
  let blocked = 0
  const produce = bus.produce.bind(bus)
  // `connections` is down: its writes hang until it is back (the first one holds the queue).
  bus.produce = async (topic, key, value) => {
    if (topic === 'connections') { blocked++; await back }
    return produce(topic, key, value)
  }
  const log = topicLog()
  // No churn window here: every change is reported, so only the queue's bound stands in the way.
  const app = await build(t, { HOST: '127.0.0.1', WS_IDLE_TIMEOUT: 0, WS_CHURN_WINDOW_MS: 0, WS_MAX_SUBSCRIPTIONS: 5, WS_FRAME_BURST: 1000 }, { bus, handlers: log.handlers })
  const limit = 2 * 5 + 4
  const url = `ws://127.0.0.1:${app.fanout.uwsPort}/ws`
  const alice = await TestClient.open(url, '?user=alice')
  const id = alice.frames[0].connectionId as string
  t.match(await alice.subscribe('lobby'), { op: 'subscribed' })
  for (let i = 0; i < 100; i++) {
    alice.send({ op: 'subscribe', channel: 'room' })
    alice.send({ op: 'unsubscribe', channel: 'room' })
  }
  await alice.barrier()
  alice.close()
  await alice.closed
  t.equal(blocked, 1, 'one write is held by the outage; the rest wait in the queue')
  restore()
  await log.next(isConn(id, 'disconnected'))
  await app.connections.settled()
  const types = log.of(id).map((e) => `${e.type} ${channelOf(e) ?? ''}`.trim())
  t.equal(types[0], 'connected')
  t.equal(types.at(-1), 'disconnected', 'disconnected is written, last')
  t.equal(types.filter((x) => x === 'connected' || x === 'disconnected').length, 2, 'connected and disconnected once each')
  t.ok(types.includes('subscribed lobby'), 'the subscription that lasted is reported')
  const room = types.filter((x) => x.endsWith(' room'))
  t.ok(room.length <= limit, `at most the bound of room changes (${room.length} of 200)`)
  t.same(room, room.map((_, i) => (i % 2 === 0 ? 'subscribed room' : 'unsubscribed room')), 'the room changes left alternate: each dropped one went with its pair')
})
